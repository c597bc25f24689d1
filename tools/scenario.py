"""The embedded default account: our stack's resources and an IAM estate with wildcard grants.

Shared by `make demo`, the benchmark and the tests, so that all three show the same thing. The
IAM state is produced by *replaying* the sample events' API calls, so a sample event and the
state it describes cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
ACCOUNT = "123456789012"
# The IAM function's role as CloudFormation would name it (events/...-own-action.json acts as it).
OWN_ROLE = "autoremediate-IamPolicyLeastPrivilegeRole-1A2B3C4D5E6F"
OWN_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/autoremediate/{OWN_ROLE}"
REGION = "us-east-1"
CODEBUILD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"},
         "Action": "sts:AssumeRole"}
    ],
}  # fmt: skip

# What must exist before a sample event's call can be replayed.
PREREQUISITES: dict[str, tuple[str, ...]] = {
    "CreatePolicyVersion": ("CreatePolicy",),
    "SetDefaultPolicyVersion": ("CreatePolicy", "CreatePolicyVersion"),
    "AttachUserPolicy": ("CreatePolicy",),
    "UpdateAssumeRolePolicy": ("CreateRole",),
    "Config-Role": ("PutRolePolicy", "AttachRolePolicy"),
    "Config-User": ("PutUserPolicy", "CreatePolicy", "AttachUserPolicy"),
    "Config-Group": ("PutGroupPolicy", "AttachGroupPolicy"),
    "Config-Policy": ("CreatePolicy",),
}

Aws = Callable[[str], Any]

# The AWS-managed policies the scenario attaches or that tests compare against. moto can load all
# ~1,300 of them, but that takes seconds on every reset; these few keep the real documents.
MANAGED_POLICIES = (
    "AdministratorAccess",
    "PowerUserAccess",
    "ReadOnlyAccess",
    "AmazonS3FullAccess",
)


def load_few_managed_policies() -> None:
    """Make moto's IAM know the AWS-managed policies in MANAGED_POLICIES (call before mocking)."""
    import os

    import moto.iam.models as iam_models

    every = json.loads(iam_models.aws_managed_policies_data)  # type: ignore[attr-defined]
    iam_models.aws_managed_policies_data = json.dumps({k: every[k] for k in MANAGED_POLICIES})  # type: ignore[attr-defined]
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"


@dataclass(frozen=True)
class Stack:
    """What `sam deploy` creates that the functions use: ledger table and topic (+ a test inbox)."""

    table: str
    topic_arn: str
    inbox_url: str

    def env(self, mode: str = "report") -> dict[str, str]:
        return {
            "MODE": mode,
            "LEDGER_TABLE": self.table,
            "TOPIC_ARN": self.topic_arn,
            "EXEMPT_PRINCIPALS": "",
            "OWN_ROLE_ARNS": OWN_ROLE_ARN,
            "WILDCARD_LEVEL": "service",
        }


def deploy_stack(aws: Aws) -> Stack:
    """The stack's ledger and topic, and an SQS queue subscribed to the topic to read notices."""
    table = "autoremediate-ledger"
    aws("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "outcome_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "outcome_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    topic_arn = aws("sns").create_topic(Name="autoremediate-notifications")["TopicArn"]
    inbox = aws("sqs").create_queue(QueueName="autoremediate-inbox")["QueueUrl"]
    queue_arn = aws("sqs").get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    aws("sns").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
    )
    return Stack(table, topic_arn, inbox)


def seed_principals(aws: Aws) -> None:
    """The principals the sample events act on, before anyone grants them anything."""
    iam = aws("iam")
    iam.create_role(
        RoleName="app-deploy-role", AssumeRolePolicyDocument=json.dumps(CODEBUILD_TRUST)
    )
    iam.create_user(UserName="ci-bot")
    iam.create_group(GroupName="developers")


def load_event(name: str, remediator: str = "iam_policy_least_privilege") -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / remediator / f"{name}.json").read_text())
    return event


def replay(aws: Aws, event: dict[str, Any]) -> None:
    """Make the API call a CloudTrail sample event records, with its own request parameters."""
    detail = event["detail"]
    service = detail["eventSource"].split(".")[0]
    operation = re.sub(r"(?<!^)(?=[A-Z])", "_", detail["eventName"]).lower()
    params = {k[0].upper() + k[1:]: v for k, v in (detail["requestParameters"] or {}).items()}
    getattr(aws(service), operation)(**params)


def prepare(aws: Aws, name: str) -> dict[str, Any]:
    """Seed what sample event `name` needs, replay its call (CloudTrail), and return the event."""
    for before in PREREQUISITES.get(name, ()):
        replay(aws, load_event(before))
    event = load_event(name)
    if event["detail-type"] == "AWS API Call via CloudTrail" and not event["detail"].get(
        "errorCode"
    ):
        replay(aws, event)
    return event


def inbox(aws: Aws, stack: Stack) -> list[dict[str, Any]]:
    """Drain the notifications published so far: subject, JSON body and message attributes."""
    notes: list[dict[str, Any]] = []
    while True:
        got = aws("sqs").receive_message(QueueUrl=stack.inbox_url, MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        if not messages:
            return notes
        for message in messages:
            envelope = json.loads(message["Body"])
            notes.append(
                {
                    "subject": envelope.get("Subject"),
                    "body": json.loads(envelope["Message"]),
                    "attributes": {
                        k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()
                    },
                }
            )
            aws("sqs").delete_message(
                QueueUrl=stack.inbox_url, ReceiptHandle=message["ReceiptHandle"]
            )


# ------------------------------------------------------------------ encryption resources
# The resources the encryption sample events (events/<module>/) name, seeded as those events
# leave them: unencrypted and without a TLS-only policy. Each seeding function is idempotent
# ("make it so"), so that it also puts a violation back after a fix (the benchmark's re-seed).
BUCKET = "app-data-bucket"
TOPIC = "billing-events"
QUEUE = "orders"
TABLE = "orders"
DB_INSTANCE = "billing-db"
DB_CLUSTER = "ledger-aurora"
DB_PASSWORD = "not-a-secret-1"  # moto wants one; the sample events show "****"


def seed_bucket(
    aws: Aws,
    encryption: dict[str, Any] | None = None,
    policy: dict[str, Any] | str | None = None,
) -> None:
    """Bucket BUCKET with no default encryption (moto, unlike AWS since 2023, then raises
    ServerSideEncryptionConfigurationNotFoundError) and no bucket policy, unless given."""
    s3 = aws("s3")
    s3.create_bucket(Bucket=BUCKET)  # us-east-1: creating one's own bucket again is a no-op
    s3.delete_bucket_encryption(Bucket=BUCKET)
    s3.delete_bucket_policy(Bucket=BUCKET)
    if encryption:
        s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration=encryption)
    if policy:
        text = policy if isinstance(policy, str) else json.dumps(policy)
        s3.put_bucket_policy(Bucket=BUCKET, Policy=text)


def seed_topic(aws: Aws, key: str = "") -> str:
    """Topic TOPIC without KmsMasterKeyId (or with `key`); returns its ARN."""
    sns = aws("sns")
    arn: str = sns.create_topic(Name=TOPIC)["TopicArn"]  # idempotent, as in SNS
    sns.set_topic_attributes(TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue=key)
    return arn


def seed_queue(aws: Aws, sse_sqs: bool = False) -> str:
    """Queue QUEUE with SSE off (or SSE-SQS), no KMS key and no queue policy; returns its URL."""
    sqs = aws("sqs")
    attributes = {"SqsManagedSseEnabled": "true" if sse_sqs else "false"}
    try:
        url: str = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return str(sqs.create_queue(QueueName=QUEUE, Attributes=attributes)["QueueUrl"])
    # Name every attribute: moto 5 drops the Policy on a SetQueueAttributes that omits it.
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={**attributes, "KmsMasterKeyId": "", "Policy": ""}
    )
    return url


def seed_table(aws: Aws) -> None:
    """Table TABLE on the AWS-owned key (no SSEDescription), as CreateTable.json creates it."""
    dynamodb = aws("dynamodb")
    try:
        dynamodb.describe_table(TableName=TABLE)
    except dynamodb.exceptions.ResourceNotFoundException:
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
            ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 10},
        )
        return
    # Back to the AWS-owned key: moto honours this only after moto_applies_dynamodb_sse().
    dynamodb.update_table(TableName=TABLE, SSESpecification={"Enabled": False})


def seed_ebs_default(aws: Aws, enabled: bool = False) -> None:
    """EBS encryption by default in REGION: off (as DisableEbsEncryptionByDefault leaves it)."""
    ec2 = aws("ec2")
    if enabled:
        ec2.enable_ebs_encryption_by_default()
    else:
        ec2.disable_ebs_encryption_by_default()


def seed_db_instance(aws: Aws, encrypted: bool = False) -> None:
    """PostgreSQL instance DB_INSTANCE, unencrypted (or encrypted), as CreateDBInstance.json."""
    rds = aws("rds")
    try:
        [db] = rds.describe_db_instances(DBInstanceIdentifier=DB_INSTANCE)["DBInstances"]
    except rds.exceptions.DBInstanceNotFoundFault:
        db = None
    if db is not None and bool(db.get("StorageEncrypted")) == encrypted:
        return
    if db is not None:  # RDS cannot change storage encryption in place: a new instance
        rds.delete_db_instance(DBInstanceIdentifier=DB_INSTANCE, SkipFinalSnapshot=True)
    rds.create_db_instance(
        DBInstanceIdentifier=DB_INSTANCE, DBInstanceClass="db.t3.micro", Engine="postgres",
        AllocatedStorage=20, MasterUsername="billing", MasterUserPassword=DB_PASSWORD,
        StorageEncrypted=encrypted,
    )  # fmt: skip


def seed_db_cluster(aws: Aws) -> None:
    """Unencrypted Aurora PostgreSQL cluster DB_CLUSTER with one instance, as CreateDBCluster.json
    and CreateDBInstance-aurora.json create them."""
    rds = aws("rds")
    try:
        rds.describe_db_clusters(DBClusterIdentifier=DB_CLUSTER)
        return
    except rds.exceptions.DBClusterNotFoundFault:
        pass
    rds.create_db_cluster(
        DBClusterIdentifier=DB_CLUSTER, Engine="aurora-postgresql", MasterUsername="ledger",
        MasterUserPassword=DB_PASSWORD, StorageEncrypted=False,
    )  # fmt: skip
    rds.create_db_instance(
        DBInstanceIdentifier=f"{DB_CLUSTER}-1", DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql", DBClusterIdentifier=DB_CLUSTER,
    )  # fmt: skip


def seed_encryption_estate(aws: Aws) -> None:
    """Every encryption resource the sample events name, each breaking its baseline."""
    seed_bucket(aws)
    seed_topic(aws)
    seed_queue(aws)
    seed_table(aws)
    seed_ebs_default(aws)
    seed_db_instance(aws)


def seed_encryption_event(aws: Aws, module: str, name: str) -> dict[str, Any]:
    """Seed the state that encryption sample event `name` of `module` describes (a failed call
    leaves the state before it), and return the event. The encryption samples' requestParameters
    are CloudTrail's, not boto3's, so they are not replayed."""
    event = load_event(name, module)
    detail = event["detail"]
    failed = bool(detail.get("errorCode"))
    request = detail.get("requestParameters") or {}
    if module == "s3_bucket_encryption":
        rule = request.get("ServerSideEncryptionConfiguration", {}).get("Rule")
        if name.startswith("DeleteBucketEncryption") and failed:
            rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        seed_bucket(aws, encryption={"Rules": [rule]} if rule else None)
    elif module == "s3_bucket_secure_transport":
        policy = request.get("bucketPolicy") if not failed else None
        item = detail.get("configurationItem") or {}
        text = item.get("supplementaryConfiguration", {}).get("BucketPolicy", {}).get("policyText")
        seed_bucket(aws, policy=policy or text)
    elif module == "sns_topic_encryption":
        own = "own-action" in name or failed  # our fix, or the removal that failed
        seed_topic(aws, "alias/aws/sns" if own else "")
    elif module == "sqs_queue_encryption":
        seed_queue(aws, sse_sqs="own-action" in name or failed)
    elif module == "dynamodb_table_encryption":
        if not failed:  # the failed CreateTable created nothing
            seed_table(aws)
    elif module == "ec2_ebs_default_encryption":
        seed_ebs_default(aws, enabled=failed)
    elif module == "rds_storage_encryption":
        if name in ("CreateDBCluster", "CreateDBInstance-aurora"):
            seed_db_cluster(aws)
        elif not failed:
            seed_db_instance(aws)
    else:
        raise ValueError(f"no encryption seeding for {module}")
    return event


def moto_applies_dynamodb_sse() -> None:
    """Make moto's DynamoDB apply UpdateTable's SSESpecification, as DynamoDB does.

    moto 5.2 parses the request and ignores it (responses.update_table never reads it), so a fix
    could never be verified. Patched in moto's request handler: in-process (mock_aws) and in a
    moto server alike. Idempotent."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.update_table
    if getattr(original, "applies_sse", False):
        return

    def update_table(self: Any) -> Any:
        spec = self.body.get("SSESpecification")
        if spec is not None:
            table = self.dynamodb_backend.get_table(self.body["TableName"])
            if spec.get("Enabled"):
                key = spec.get("KMSMasterKeyId") or table._get_default_encryption_key(
                    table.account_id, table.region_name
                )
                table.sse_specification = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}
            else:
                table.sse_specification = None  # back to the AWS-owned key
        return original(self)

    update_table.applies_sse = True  # type: ignore[attr-defined]
    DynamoHandler.update_table = update_table  # type: ignore[method-assign]
