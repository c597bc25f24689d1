"""Each function's sample events: the one that represents it, the fewest API calls each needs
and the status each must reach, so that every section measures a verified outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from tools.bench.report import BenchError
from tools.routing import Function
from tools.scenario import seed_db_instance

# Each function's most representative sample: a real remediation (ledger write and SNS publish),
# or for a report-only function (RDS: no write permission at all) its WOULD_REMEDIATE.
SAMPLES: dict[str, str] = {
    "IamPolicyLeastPrivilegeFunction": "PutRolePolicy",
    "S3BucketEncryptionFunction": "CreateBucket",
    "S3BucketSecureTransportFunction": "CreateBucket",
    "SnsTopicEncryptionFunction": "CreateTopic",
    "SqsQueueEncryptionFunction": "CreateQueue",
    "DynamodbTableEncryptionFunction": "CreateTable",
    "Ec2EbsDefaultEncryptionFunction": "DisableEbsEncryptionByDefault",
    "RdsStorageEncryptionFunction": "CreateDBInstance",
}

# Report-only functions never change anything, so the same event stays WOULD_REMEDIATE; their
# "compliant" warm runs need a compliant resource instead (seeded untimed).
COMPLIANT_SEED: dict[str, Callable[[Any], None]] = {
    "rds_storage_encryption": lambda aws: seed_db_instance(aws, encrypted=True),
}


class Minimum(NamedTuple):
    """The fewest API calls on the resource a change needs (reads to decide + writes; the
    ledger's and the notification's calls apart), and the expected status."""

    calls: int
    why: str
    status: str = "REMEDIATED"


# ListPolicyVersions is part of the minimum: without the version count a correct write cannot
# honour IAM's 5-version limit. ListAttached* is: report mode must not report (and verification
# must not accept) an attachment that no longer exists.
_MANAGED = (
    "GetPolicy + GetPolicyVersion + ListPolicyVersions (5-version limit) + CreatePolicyVersion"
)
_AWS_MANAGED = "ListAttached* (still attached?) + GetPolicy + GetPolicyVersion + Detach"
# Tags are part of the minimum: an exemption by tag must be honoured before any write.
_S3_ENC = "GetBucketEncryption + GetBucketTagging (exemptions) + PutBucketEncryption"
_S3_TLS = "GetBucketPolicy + GetBucketTagging (exemptions) + PutBucketPolicy"
_SNS = "GetTopicAttributes + ListTagsForResource (exemptions) + SetTopicAttributes"
# GetQueueUrl: records carry odd hosts; one SetQueueAttributes can set SSE and Policy together.
_SQS = "GetQueueUrl + GetQueueAttributes + ListQueueTags + 1 SetQueueAttributes (SSE + Policy)"
_DDB = "DescribeTable (SSE and status) + ListTagsOfResource (exemptions) + UpdateTable"
_FAILED = "errorCode: the call changed nothing"
_OWN = "loop guard: our own change"
MINIMUM: dict[str, dict[str, Minimum]] = {
    "iam_policy_least_privilege": {
        "PutRolePolicy": Minimum(2, "GetRolePolicy + PutRolePolicy"),
        "PutUserPolicy": Minimum(2, "GetUserPolicy + DeleteUserPolicy (nothing left)"),
        "PutGroupPolicy": Minimum(2, "GetGroupPolicy + DeleteGroupPolicy (nothing left)"),
        "AttachRolePolicy": Minimum(4, _AWS_MANAGED),
        "AttachGroupPolicy": Minimum(4, _AWS_MANAGED),
        "AttachUserPolicy": Minimum(4, "customer-managed: " + _MANAGED),
        "CreatePolicy": Minimum(4, _MANAGED),
        "CreatePolicyVersion": Minimum(4, _MANAGED),
        "SetDefaultPolicyVersion": Minimum(4, _MANAGED),
        "Config-Policy": Minimum(4, _MANAGED),
        "CreateRole": Minimum(2, "GetRole + UpdateAssumeRolePolicy"),
        "UpdateAssumeRolePolicy": Minimum(2, "GetRole + UpdateAssumeRolePolicy"),
        "Config-Role": Minimum(8, "GetRole (trust) + List/Get/PutRolePolicy + ListAttached + "
                                  "GetPolicy + GetPolicyVersion + Detach"),
        "Config-User": Minimum(4, "List/Get/DeleteUserPolicy + ListAttachedUserPolicies"),
        "Config-Group": Minimum(7, "List/Get/DeleteGroupPolicy + ListAttached + GetPolicy + "
                                   "GetPolicyVersion + Detach"),
        "Config-Role-deleted": Minimum(0, "the event says the role is gone", "SKIPPED"),
        "PutRolePolicy-failed-call": Minimum(0, "errorCode: the call changed nothing", "SKIPPED"),
        "PutRolePolicy-own-action": Minimum(0, "loop guard: our own change", "SKIPPED"),
    },
    # S3_ENCRYPTION_LEVEL=SSE-KMS (BENCH_SETTINGS): a bucket on none or AES256 gets aws:kms.
    "s3_bucket_encryption": {
        "CreateBucket": Minimum(3, _S3_ENC),
        "PutBucketEncryption": Minimum(3, _S3_ENC + " (AES256 -> aws:kms)"),
        "DeleteBucketEncryption": Minimum(3, _S3_ENC),
        "Config-Bucket": Minimum(3, _S3_ENC),
        "DeleteBucketEncryption-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "PutBucketEncryption-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    "s3_bucket_secure_transport": {
        "CreateBucket": Minimum(3, _S3_TLS),
        "PutBucketPolicy": Minimum(3, _S3_TLS + " (statements kept)"),
        "DeleteBucketPolicy": Minimum(3, _S3_TLS),
        "Config-Bucket": Minimum(3, _S3_TLS + " (its Deny misses the objects)"),
        "PutBucketPolicy-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "PutBucketPolicy-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    "sns_topic_encryption": {
        "CreateTopic": Minimum(3, _SNS),
        "SetTopicAttributes": Minimum(3, _SNS),
        "Config-Topic": Minimum(3, _SNS),
        "SetTopicAttributes-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "SetTopicAttributes-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    "sqs_queue_encryption": {
        "CreateQueue": Minimum(4, _SQS),
        "SetQueueAttributes": Minimum(4, _SQS),
        "Config-Queue": Minimum(4, _SQS),
        "SetQueueAttributes-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "SetQueueAttributes-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    "dynamodb_table_encryption": {
        "CreateTable": Minimum(3, _DDB),
        "UpdateTable": Minimum(3, _DDB),
        "Config-Table": Minimum(3, _DDB),
        "CreateTable-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "CreateTable-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    "ec2_ebs_default_encryption": {
        "DisableEbsEncryptionByDefault": Minimum(2, "GetEbsEncryptionByDefault + Enable (no "
                                                    "baseline key: no key calls)"),
        "DisableEbsEncryptionByDefault-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "DisableEbsEncryptionByDefault-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    # Report-only: RDS cannot encrypt in place; the outcome is WOULD_REMEDIATE in every mode.
    "rds_storage_encryption": {
        "CreateDBInstance": Minimum(1, "DescribeDBInstances (report-only: manual steps)",
                                    "WOULD_REMEDIATE"),
        "Config-DBInstance": Minimum(1, "DescribeDBInstances (report-only: manual steps)",
                                     "WOULD_REMEDIATE"),
        "CreateDBCluster": Minimum(1, "DescribeDBClusters (report-only: manual steps)",
                                   "WOULD_REMEDIATE"),
        "CreateDBInstance-aurora": Minimum(2, "DescribeDBInstances + DescribeDBClusters (an Aurora"
                                              " instance is judged by its cluster)",
                                           "WOULD_REMEDIATE"),
        "CreateDBInstance-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "CreateDBInstance-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
}  # fmt: skip


def representative_sample(fn: Function) -> str:
    """The event every section measures the function with (SAMPLES)."""
    if fn.logical_id not in SAMPLES:
        raise BenchError(f"add {fn.logical_id}'s representative sample event to SAMPLES")
    return SAMPLES[fn.logical_id]


def expected_status(fn: Function, sample: str) -> str:
    """The status the sample must reach: REMEDIATED, or WOULD_REMEDIATE for report-only ones."""
    minimum = MINIMUM.get(fn.handler_module, {}).get(sample)
    return minimum.status if minimum else "REMEDIATED"


def expect_status(outcomes: Any, status: str, fn: Function, sample: str) -> None:
    """A timing of the wrong outcome would be meaningless: break the bench instead."""
    if [o.get("status") for o in outcomes] != [status]:
        raise BenchError(f"{fn.logical_id} {sample}: {outcomes!r}, expected one {status}")
