"""The DynamoDB encryption remediator in a moto account: each trigger, each mode, before and after.

moto 5.2.5 silently ignores `update_table(SSESpecification=...)` (its responses.update_table never
reads the parameter; checked in moto/dynamodb/responses.py). That one call therefore goes to a
botocore Stubber (which validates the request against DynamoDB's model), and the test applies
the change to moto's table as DynamoDB would. Every other call is served by moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

import dynamodb_table_encryption as module
from autoremediate_cli.undo import undo
from core.clients import Clients
from core.ledger import Ledger
from core.outcome import Outcome, Status
from core.runner import TransientError
from dynamodb_table_encryption import REMEDIATOR
from tests.remediators.calls import api_calls, ledger_records
from tests.remediators.faults import FailingAws
from tests.remediators.stubs import StubbedAws
from tools.scenario import ACCOUNT, REGION, inbox, load_event

M = "dynamodb_table_encryption"
# This function's role as CloudFormation names it (events/...-own-action.json acts as it).
OWN_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/autoremediate/"
    "autoremediate-DynamodbTableEncryptionRole-1A2B3C4D5E6F"
)
FIXTURES = (
    Path(__file__).resolve().parents[1] / "fixtures" / "cloudtrail" / "dynamodb.amazonaws.com"
)
TRIGGERS = ["CreateTable", "UpdateTable", "Config-Table"]
WRITES = {"UpdateTable"}

Run = Callable[..., list[Outcome]]
pytestmark = pytest.mark.usefixtures("no_baseline_key")  # a baseline key only where a test sets one


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    """The real runner with the stack's settings, and this function's own role for the guard."""
    return make_run(REMEDIATOR, own_role=OWN_ROLE)


def make_table(aws: Any, name: str = "orders", sse: dict[str, Any] | None = None) -> None:
    extra = {"SSESpecification": sse} if sse else {}
    aws("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}], **extra,
    )  # fmt: skip


def sse(aws: Any, name: str = "orders") -> dict[str, Any] | None:
    found: dict[str, Any] | None = (
        aws("dynamodb").describe_table(TableName=name)["Table"].get("SSEDescription")
    )
    return found


def aws_managed_key(aws: Any) -> str:
    return str(aws("kms").describe_key(KeyId="alias/aws/dynamodb")["KeyMetadata"]["Arn"])


def new_key(aws: Any, description: str) -> str:
    return str(aws("kms").create_key(Description=description)["KeyMetadata"]["Arn"])


class StubbedUpdateTable(StubbedAws):
    """`aws` as the runner sees it, with dynamodb.update_table stubbed and emulated (see top)."""

    SERVICE, OPERATIONS = "dynamodb", ("update_table",)

    def __init__(self, aws: Any, before_write: Callable[[], None] = lambda: None) -> None:
        super().__init__(aws)
        self.before_write = before_write
        self.calls: list[dict[str, Any]] = []

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        self.before_write()
        self.calls.append(params)
        name = params["TableName"]
        described = {"TableDescription": {"TableName": name, "TableStatus": "UPDATING"}}
        response = self.reply(operation, params, described)
        table = dynamodb_backends[ACCOUNT][REGION].tables[name]
        spec = params["SSESpecification"]
        if spec["Enabled"]:
            key = spec.get("KMSMasterKeyId") or table._get_default_encryption_key(ACCOUNT, REGION)
            table.sse_specification = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}
        else:
            table.sse_specification = None  # back to the AWS-owned key
        return response


# ------------------------------------------------------------------------------ each trigger


@pytest.mark.parametrize("name", TRIGGERS)
def test_report_mode_reports_and_changes_nothing(aws, stack, run, name):
    make_table(aws)  # AWS-owned key: no SSEDescription at all

    with api_calls(aws, "dynamodb") as calls:
        [outcome] = run(load_event(name, M), "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
    assert sse(aws) is None
    assert WRITES.isdisjoint({c.split(":")[1] for c in calls})
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"
    [change] = note["body"]["changes"]
    assert change["summary"] == (
        "table orders is encrypted with the AWS-owned key: use alias/aws/dynamodb"
    )
    assert change["undo_cli"] == [
        "aws dynamodb update-table --table-name orders --sse-specification '{\"Enabled\": false}'"
    ]


@pytest.mark.parametrize("name", TRIGGERS)
def test_enforce_mode_uses_the_aws_managed_key_and_can_be_undone(aws, stack, run, name):
    make_table(aws)
    stubbed = StubbedUpdateTable(aws)

    [outcome] = run(load_event(name, M), "enforce", aws_=stubbed)

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert stubbed.calls == [
        {"TableName": "orders", "SSESpecification": {"Enabled": True, "SSEType": "KMS"}}
    ]
    assert sse(aws) == {
        "Status": "ENABLED",
        "SSEType": "KMS",
        "KMSMasterKeyArn": aws_managed_key(aws),
    }
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "REMEDIATED"
    assert note["body"]["changes"][0]["before"] is None

    # Quiet when all is well: the same event again finds the table compliant.
    assert [o.status for o in run(load_event(name, M), "enforce", aws_=stubbed)] == [
        Status.COMPLIANT
    ]
    assert inbox(aws, stack) == []

    undo(outcome.outcome_id, Ledger(aws, stack.table), cast(Clients, stubbed))
    assert stubbed.calls[-1] == {"TableName": "orders", "SSESpecification": {"Enabled": False}}
    assert sse(aws) is None
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "UNDONE"


def test_baseline_cmk_replaces_the_aws_managed_key_and_undo_restores_it(
    aws, stack, run, monkeypatch
):
    make_table(aws, sse={"Enabled": True})  # the AWS-managed alias/aws/dynamodb
    managed = aws_managed_key(aws)
    cmk = new_key(aws, "baseline")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", cmk)
    stubbed = StubbedUpdateTable(aws)

    [outcome] = run(load_event("UpdateTable", M), "enforce", aws_=stubbed)

    assert outcome.status is Status.REMEDIATED, outcome.reason
    wanted = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": cmk}
    assert stubbed.calls == [{"TableName": "orders", "SSESpecification": wanted}]
    assert sse(aws) == {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": cmk}
    assert outcome.changes[0].summary == (
        f"table orders is encrypted with the AWS-managed key {managed}: use {cmk}"
    )
    undo(outcome.outcome_id, Ledger(aws, stack.table), cast(Clients, stubbed))
    assert sse(aws) == {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": managed}


# ------------------------------------------------------------------------ never downgrade


@pytest.mark.parametrize(
    ("table_key", "baseline"),
    [
        ("aws-managed", ""),  # KMS with the AWS-managed key is the baseline without a CMK
        ("team-cmk", ""),  # a CMK is stronger than the AWS-managed baseline
        ("team-cmk", "baseline-cmk"),  # another CMK chosen by the team stays
        ("baseline-cmk", "baseline-cmk"),
    ],
)
@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_tables_on_a_kms_key_are_compliant_and_untouched(
    aws, stack, run, monkeypatch, table_key, baseline, mode
):
    keys = {"team-cmk": new_key(aws, "team"), "baseline-cmk": new_key(aws, "baseline")}
    spec = {"Enabled": True, **({"KMSMasterKeyId": keys[table_key]} if table_key in keys else {})}
    make_table(aws, sse=spec)
    if baseline:
        monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", keys[baseline])
    before = sse(aws)

    with api_calls(aws, "dynamodb", "kms") as calls:
        [outcome] = run(load_event("UpdateTable", M), mode)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert "dynamodb:UpdateTable" not in calls and "kms:CreateGrant" not in calls
    assert sse(aws) == before
    assert inbox(aws, stack) == []


# ---------------------------------------------------------------------------- failures


def test_table_deleted_in_between_is_skipped_with_the_reason(aws, stack, run):
    [outcome] = run(load_event("CreateTable", M), "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (ResourceNotFoundException)" in outcome.reason
    assert inbox(aws, stack)[0]["attributes"]["status"] == "SKIPPED"


def test_access_denied_fails_loudly_and_changes_nothing(aws, stack, run):
    make_table(aws)
    failing = FailingAws(aws, "update_table", "AccessDeniedException", service="dynamodb")

    [outcome] = run(load_event("CreateTable", M), "enforce", aws_=failing)

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("AccessDeniedException while applying")
    assert sse(aws) is None
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "FAILED"


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_disabled_baseline_key_fails_with_a_clear_message_and_changes_nothing(
    aws, stack, run, monkeypatch, mode
):
    make_table(aws)
    cmk = new_key(aws, "baseline")
    aws("kms").disable_key(KeyId=cmk.rsplit("/", 1)[-1])  # moto wants the key id here
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", cmk)

    with api_calls(aws, "dynamodb") as calls:
        [outcome] = run(load_event("CreateTable", M), mode)

    assert outcome.status is Status.FAILED
    assert outcome.reason == (
        f"KMSKeyUnusable while reading the resource: baseline KMS key {cmk} is Disabled; "
        "nothing was changed"
    )
    assert "dynamodb:UpdateTable" not in calls
    assert sse(aws) is None


def test_table_still_creating_is_a_transient_failure_that_lambda_retries(
    aws, stack, run, monkeypatch
):
    """DynamoDB rejects UpdateTable until ACTIVE: wait (bounded), then fail and retry."""
    make_table(aws)
    monkeypatch.setattr(module, "WAIT", {"Delay": 0, "MaxAttempts": 2})
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
    creating = {"Table": {"TableName": "orders", "TableStatus": "CREATING", "TableArn": arn}}

    def still_creating(**_: Any) -> Any:
        return AWSResponse(
            "https://dynamodb", 200, HTTPHeaders(), None
        ), creating  # as a Stubber answers

    client = aws("dynamodb")
    client.meta.events.register("before-call.dynamodb.DescribeTable", still_creating)
    stubbed = StubbedUpdateTable(aws)
    try:
        with pytest.raises(TransientError, match="still CREATING after 0 s"):
            run(load_event("CreateTable", M), "enforce", aws_=stubbed)
    finally:
        client.meta.events.unregister("before-call.dynamodb.DescribeTable", still_creating)

    assert stubbed.calls == []
    assert sse(aws) is None
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "FAILED" and "will retry" in note["body"]["reason"]


def test_ledger_holds_the_original_before_the_write(aws, stack, run):
    make_table(aws)
    seen: list[dict[str, Any]] = []

    def look_at_ledger() -> None:
        seen.extend(ledger_records(aws, stack.table))

    [outcome] = run(
        load_event("CreateTable", M), "enforce", aws_=StubbedUpdateTable(aws, look_at_ledger)
    )

    assert outcome.status is Status.REMEDIATED
    [entry] = seen
    assert entry["status"] == "APPLYING"
    assert entry["changes"][0]["undo"][0]["params"]["SSESpecification"] == {"Enabled": False}


def test_failed_calls_are_skipped_quietly(aws, stack, run):
    make_table(aws)  # non-compliant: only the errorCode stops us

    with api_calls(aws, "dynamodb") as calls:
        [outcome] = run(load_event("CreateTable-failed-call", M), "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert "dynamodb:DescribeTable" not in calls and sse(aws) is None
    assert inbox(aws, stack) == []


def test_the_echo_of_our_own_fix_is_re_checked_and_quiet(aws, stack, run):
    make_table(aws, sse={"Enabled": True, "SSEType": "KMS"})  # as our fix leaves it
    before = sse(aws)

    with api_calls(aws, "dynamodb") as calls:
        [outcome] = run(load_event("CreateTable-own-action", M), "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert calls == ["dynamodb:DescribeTable"] and sse(aws) == before
    assert inbox(aws, stack) == []


def test_real_update_table_record_names_the_table_in_its_response_only(aws, stack, run):
    """The AWS docs' UpdateTable record has no requestParameters.tableName."""
    record = json.loads((FIXTURES / "UpdateTable" / "1.json").read_text())
    assert "tableName" not in record["requestParameters"]
    make_table(aws, "Music")
    event = {"version": "0", "id": record["eventID"], "detail-type": "AWS API Call via CloudTrail",
             "source": "aws.dynamodb", "account": ACCOUNT, "time": record["eventTime"],
             "region": REGION, "resources": [], "detail": record}  # fmt: skip

    [outcome] = run(event, "report")

    assert outcome.status is Status.WOULD_REMEDIATE
    assert outcome.resource_arn.endswith(":table/Music")


def test_event_without_a_table_name_is_malformed(aws, stack, run):
    event = load_event("UpdateTable", M)
    del event["detail"]["requestParameters"]["tableName"]
    event["detail"]["responseElements"] = None

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.SKIPPED and outcome.reason.startswith("malformed event:")


def test_every_call_is_a_declared_action(aws, stack, run, monkeypatch):
    make_table(aws, sse={"Enabled": True})
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", new_key(aws, "baseline"))
    stubbed = StubbedUpdateTable(aws)

    with api_calls(aws, "dynamodb", "kms") as calls:
        [outcome] = run(load_event("UpdateTable", M), "enforce", aws_=stubbed)

    assert outcome.status is Status.REMEDIATED
    # The core's (ledger and circuit-breaker counter), granted to every function.
    ledger = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"}
    made = {*calls, *("dynamodb:UpdateTable" for _ in stubbed.calls)} - ledger
    assert made <= {*REMEDIATOR.read_actions, *REMEDIATOR.write_actions}
    assert "kms:DescribeKey" in made and "dynamodb:UpdateTable" in made


def test_handler_runs_what_lambda_runs(aws, stack, monkeypatch):
    for key, value in {**stack.env("report"), "OWN_ROLE_ARNS": OWN_ROLE}.items():
        monkeypatch.setenv(key, value)
    make_table(aws)

    [result] = module.handler(load_event("Config-Table", M), None)

    assert result["status"] == "WOULD_REMEDIATE"
    assert result["resource"] == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"
