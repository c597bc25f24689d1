"""What the end of the demo reads back live from moto, to show that the fixes are real.

The rows only say what the handlers reported; this reads the documents and settings themselves,
and holds what report mode must leave (SEEDED) and enforce mode must make of them (ENFORCED).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tools.scenario import ACCOUNT, REGION, Aws

# The resources the representative samples' seeds create (events/<module>/samples.toml); a
# function need not be shown here, but those shown must be fixed for real.
BUCKET = "app-data-bucket"
TOPIC = "billing-events"
QUEUE = "orders"
TABLE = "orders"
DB_INSTANCE = "billing-db"

INLINE_POLICY = "role/app-deploy-role, inline policy deploy-wildcard"
ATTACHED_POLICIES = "role/app-deploy-role, attached policies"
TRUST_POLICY = "role/open-trust-role, trust policy"
_BUCKET_SSE = f"bucket {BUCKET}, default encryption"
_BUCKET_POLICY = f"bucket {BUCKET}, bucket policy Sids"
_TOPIC_KEY = f"topic {TOPIC}, KmsMasterKeyId"
_QUEUE_SSE = f"queue {QUEUE}, SqsManagedSseEnabled"
_QUEUE_POLICY = f"queue {QUEUE}, queue policy Sids"
_TABLE_SSE = f"table {TABLE}, SSE"
_EBS = f"EBS encryption by default in {REGION}"
_DB = f"db instance {DB_INSTANCE}"
TLS_SID = "AutoremediateDenyInsecureTransport"
# The encryption state as scenario.seed_estate leaves it: report mode must leave it so.
SEEDED = {
    _BUCKET_SSE: "none",
    _BUCKET_POLICY: "(no policy)",
    _TOPIC_KEY: "(none)",
    _QUEUE_SSE: "false (no KmsMasterKeyId)",
    _QUEUE_POLICY: "(no policy)",
    _TABLE_SSE: "(none: AWS-owned key)",
    _EBS: "off",
    _DB: "StorageEncrypted=False",
}
# ... and what enforce mode must leave (RDS is report-only: nothing changes).
ENFORCED = {
    _BUCKET_SSE: "aws:kms (aws/s3), bucket key on",
    _BUCKET_POLICY: TLS_SID,
    _TOPIC_KEY: "alias/aws/sns",
    _QUEUE_SSE: "true (no KmsMasterKeyId)",
    _QUEUE_POLICY: TLS_SID,
    _TABLE_SSE: "KMS ENABLED key/",  # + the AWS-managed key's id, which moto makes up
    _EBS: "on",
    _DB: "StorageEncrypted=False",
}


def read_live_state(aws: Aws) -> dict[str, list[str]]:
    """The documents and settings that show whether a fix is real, read back live."""
    iam = aws("iam")
    try:
        inline = iam.get_role_policy(RoleName="app-deploy-role", PolicyName="deploy-wildcard")
        policy = _statements(inline["PolicyDocument"])
    except iam.exceptions.NoSuchEntityException:
        policy = []
    attached = iam.list_attached_role_policies(RoleName="app-deploy-role")["AttachedPolicies"]
    trust = iam.get_role(RoleName="open-trust-role")["Role"]["AssumeRolePolicyDocument"]
    return {
        INLINE_POLICY: policy,
        ATTACHED_POLICIES: [a["PolicyName"] for a in attached] or ["(none)"],
        TRUST_POLICY: _statements(trust),
        **{key: [value] for key, value in _encryption_state(aws).items()},
    }


def _encryption_state(aws: Aws) -> dict[str, str]:
    """Each encryption resource's setting, one short line each (the SEEDED/ENFORCED keys)."""
    from botocore.exceptions import ClientError

    s3 = aws("s3")
    try:
        rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
        bucket_sse = ", ".join(_rule(rule) for rule in rules["Rules"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        bucket_sse = "none"
    try:
        bucket_policy = _sids(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
            raise
        bucket_policy = "(no policy)"
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}"
    topic = aws("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    table = aws("dynamodb").describe_table(TableName=TABLE)["Table"].get("SSEDescription")
    ebs = aws("ec2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"]
    [db] = aws("rds").describe_db_instances(DBInstanceIdentifier=DB_INSTANCE)["DBInstances"]
    return {
        _BUCKET_SSE: bucket_sse,
        _BUCKET_POLICY: bucket_policy,
        _TOPIC_KEY: topic.get("KmsMasterKeyId") or "(none)",
        _QUEUE_SSE: f"{queue.get('SqsManagedSseEnabled')} ({_key_of(queue)})",
        _QUEUE_POLICY: _sids(queue["Policy"]) if queue.get("Policy") else "(no policy)",
        _TABLE_SSE: (
            f"{table['SSEType']} {table['Status']} {table['KMSMasterKeyArn'].split(':')[-1]}"
            if table
            else "(none: AWS-owned key)"
        ),
        _EBS: "on" if ebs else "off",
        _DB: f"StorageEncrypted={db['StorageEncrypted']}",
    }


def _key_of(queue: Mapping[str, Any]) -> str:
    key = queue.get("KmsMasterKeyId")
    return f"KmsMasterKeyId {key}" if key else "no KmsMasterKeyId"


def _rule(rule: Mapping[str, Any]) -> str:
    default = rule.get("ApplyServerSideEncryptionByDefault", {})
    algorithm = str(default.get("SSEAlgorithm"))
    if algorithm.startswith("aws:kms"):
        algorithm += f" ({default.get('KMSMasterKeyID') or 'aws/s3'})"
    return algorithm + (", bucket key on" if rule.get("BucketKeyEnabled") else "")


def _sids(policy: str) -> str:
    statements = json.loads(policy).get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return ", ".join(str(s.get("Sid") or "(no Sid)") for s in statements) or "(no statement)"


def _statements(document: Any) -> list[str]:
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return [json.dumps(s, separators=(",", ":")) for s in statements]
