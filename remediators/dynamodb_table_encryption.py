"""DynamoDB encryption at rest: every table on a KMS key in the account, not the AWS-owned one.

The AWS-owned default key is neither auditable in the account's CloudTrail nor revocable by the
team, so such a table gets SSE-KMS: the baseline CMK (ENCRYPTION_KMS_KEY_ARN) or, without one,
the AWS-managed alias/aws/dynamodb. A table on any customer-managed key stays as it is (never
downgrade); with a baseline CMK, a table on the AWS-managed key moves to the CMK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from core.baseline_key import check_key_usable, configured_key, is_aws_managed_key
from core.declaration import (
    BASELINE_KEY,
    ENFORCE,
    HAS_KEY,
    CloudTrail,
    Declaration,
    Policy,
    allow,
    arn,
    check_baseline_key,
    find_aws_managed_key,
    sub,
)
from core.event import EventError, Trigger, required
from core.exemptions import tags_to_dict
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator

AWS_MANAGED_ALIAS = "alias/aws/dynamodb"
# DynamoDB rejects UpdateTable until the table is ACTIVE (a new table is CREATING for seconds).
# At most 6 x 5 s of the function's 60 s; past that the failure is transient and Lambda retries.
WAIT = {"Delay": 5, "MaxAttempts": 7}
TABLES = arn("dynamodb", "table/*")

DECLARATION = Declaration(
    name="dynamodb_table_encryption",
    title="DynamoDB table encryption",
    description="Restores KMS encryption at rest of DynamoDB tables (AWS-managed or baseline key)",
    cloudtrail=(
        CloudTrail(
            "dynamodb.amazonaws.com",
            ("CreateTable", "UpdateTable"),
            why="Every UpdateTable, not only SSESpecification: the live table decides.",
        ),
    ),
    config_types=("AWS::DynamoDB::Table",),
    environment={"ENCRYPTION_KMS_KEY_ARN": BASELINE_KEY},
    inverse_operations=("dynamodb.update_table",),
    permissions=(
        Policy(
            "dynamodb-encryption-read",
            (
                allow(
                    "ReadTables", ("dynamodb:DescribeTable", "dynamodb:ListTagsOfResource"), TABLES
                ),
            ),
        ),
        Policy(
            "dynamodb-encryption-keys",
            (check_baseline_key(), find_aws_managed_key(AWS_MANAGED_ALIAS)),
            when=HAS_KEY,
            why="Only with a baseline CMK: is it Enabled, and is a table's key the AWS-managed"
            " one?",
        ),
        Policy(
            "dynamodb-encryption-write",
            (
                allow("EncryptTables", "dynamodb:UpdateTable", TABLES),
                allow(
                    "GrantBaselineKeyToDynamodb",
                    "kms:CreateGrant",
                    BASELINE_KEY,
                    {
                        "StringEquals": {
                            "kms:ViaService": sub("dynamodb.${AWS::Region}.amazonaws.com")
                        },
                        "Bool": {"kms:GrantIsForAWSResource": "true"},
                    },
                    when=HAS_KEY,
                    why="DynamoDB creates a grant on the CMK as the caller of UpdateTable.",
                ),
            ),
            when=ENFORCE,
        ),
    ),
)


@dataclass(frozen=True)
class Table:
    name: str
    region: str
    account: str

    def __str__(self) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{self.name}"


class DynamodbTableEncryption(Remediator[Table]):
    declaration = DECLARATION
    gone_errors = ("ResourceNotFoundException",)

    def targets(self, trigger: Trigger) -> list[Table]:
        if trigger.kind == "config":
            item = trigger.item
            if item.get("resourceType") != "AWS::DynamoDB::Table":
                raise EventError(f"resource type {item.get('resourceType')!r} is not a table")
            return [Table(required(item, "resourceName"), trigger.region, trigger.account)]
        if trigger.event_name not in DECLARATION.event_names:
            raise EventError(f"{trigger.event_name} is not a trigger of {self.name}")
        described = trigger.response.get("tableDescription")
        name = trigger.request.get("tableName") or (
            described.get("tableName") if isinstance(described, Mapping) else None
        )  # the AWS docs' UpdateTable record names the table in the response only
        return [Table(required({"tableName": name}, "tableName"), trigger.region, trigger.account)]

    def evaluate(self, target: Table, aws: Aws) -> Evaluation:
        table = aws("dynamodb").describe_table(TableName=target.name)["Table"]
        arn = str(table.get("TableArn") or target)
        sse = dict(table.get("SSEDescription") or {})
        key = str(sse.get("KMSMasterKeyArn") or "")
        on_kms = sse.get("SSEType") == "KMS" and sse.get("Status") not in ("DISABLING", "DISABLED")
        cmk = configured_key()
        if on_kms and (
            not cmk or key == cmk or not is_aws_managed_key(aws, key, AWS_MANAGED_ALIAS)
        ):
            return Evaluation(arn)
        if cmk:
            check_key_usable(aws, cmk)
        wanted: dict[str, Any] = {"Enabled": True, "SSEType": "KMS"}
        if cmk:
            wanted["KMSMasterKeyId"] = cmk
        # {"Enabled": False} returns a table to the AWS-owned key; a KMS table gets its key back.
        previous = {**wanted, "KMSMasterKeyId": key} if on_kms else {"Enabled": False}
        what = f"the AWS-managed key {key}" if on_kms else "the AWS-owned key"
        summary = f"table {target.name} is encrypted with {what}: use {cmk or AWS_MANAGED_ALIAS}"
        call = Call(
            "dynamodb", "update_table", {"TableName": target.name, "SSESpecification": wanted}
        )
        undo = Call(
            "dynamodb", "update_table", {"TableName": target.name, "SSESpecification": previous}
        )
        tags = aws("dynamodb").list_tags_of_resource(ResourceArn=arn).get("Tags")
        change = Change(summary, arn, sse or None, wanted, call, (undo,))
        return Evaluation(arn, (change,), tags_to_dict(tags))

    def apply(self, change: Change, aws: Aws) -> dict[str, Any]:
        """Wait (bounded) for ACTIVE: a table still CREATING or UPDATING rejects the update."""
        name = change.call.params["TableName"] if change.call else ""
        try:
            aws("dynamodb").get_waiter("table_exists").wait(TableName=name, WaiterConfig=WAIT)
        except WaiterError as error:
            last: dict[str, Any] = dict(error.last_response or {})
            if last.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise ClientError(last, "DescribeTable") from error  # type: ignore[arg-type]
            status = last.get("Table", {}).get("TableStatus", "not ACTIVE")
            waited = WAIT["Delay"] * (WAIT["MaxAttempts"] - 1)
            message = f"table {name} is still {status} after {waited} s; Lambda will retry"
            # RequestTimeout is one of the runner's transient codes: FAILED now, retried later.
            raise ClientError({"Error": {"Code": "RequestTimeout", "Message": message}},
                              "UpdateTable") from error  # fmt: skip
        return super().apply(change, aws)

    def current_state(self, change: Change, aws: Aws) -> Any:
        """The table's encryption as `after` states it: no KMSMasterKeyId for the AWS-managed
        key (a table on the AWS-owned key reads back its SSEDescription, or None)."""
        name = change.call.params["TableName"] if change.call else ""
        sse = aws("dynamodb").describe_table(TableName=name)["Table"].get("SSEDescription") or {}
        if sse.get("SSEType") != "KMS" or sse.get("Status") in ("DISABLING", "DISABLED"):
            return sse or None
        key, state = str(sse.get("KMSMasterKeyArn") or ""), {"Enabled": True, "SSEType": "KMS"}
        return (
            state
            if is_aws_managed_key(aws, key, AWS_MANAGED_ALIAS)
            else {**state, "KMSMasterKeyId": key}
        )


REMEDIATOR = DynamodbTableEncryption()
handler = lambda_handler(REMEDIATOR)
