"""What the demo plays: the sample events of each story, in order, and its few departures.

Kept apart from the code that plays them, so that the story reads top to bottom as a list.
"""

from __future__ import annotations

REMEDIATOR = "iam_policy_least_privilege"
# Alice builds a wildcard estate; then two calls that must change nothing; then AWS Config's view.
STORY = (
    "CreatePolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "PutRolePolicy",
    "PutUserPolicy",
    "PutGroupPolicy",
    "AttachRolePolicy",
    "AttachUserPolicy",
    "AttachGroupPolicy",
    "CreateRole",
    "UpdateAssumeRolePolicy",
    "PutRolePolicy-failed-call",
    "PutRolePolicy-own-action",
    "Config-Role",
    "Config-User",
    "Config-Group",
    "Config-Policy",
    "Config-Role-deleted",
)
# In AWS this record is the CloudTrail echo of the fix the handler has just written. The sample
# carries PutRolePolicy's wildcard document (so that only the loop guard can silence it), and
# replaying that would re-open the grant our own function had just closed.
NOT_REPLAYED = frozenset({"PutRolePolicy-own-action"})
# The encryption remediators, one event each on resources seed_encryption_estate leaves
# unencrypted: CreateBucket reaches both S3 functions; the own-action is our S3 fix's echo.
ENCRYPTION_STORY = (
    ("s3_bucket_encryption", "CreateBucket"),
    ("sns_topic_encryption", "CreateTopic"),
    ("sqs_queue_encryption", "CreateQueue"),
    ("dynamodb_table_encryption", "CreateTable"),
    ("ec2_ebs_default_encryption", "DisableEbsEncryptionByDefault"),
    ("rds_storage_encryption", "CreateDBInstance"),
    ("s3_bucket_encryption", "PutBucketEncryption-own-action"),
)
# The demo's one departure from the template's parameter defaults. With the default SSE-S3 a
# bucket is compliant as AWS creates it (SSE-S3 since 2023): SSE-KMS makes the S3 fix visible.
DEMO_SETTINGS = {"S3_ENCRYPTION_LEVEL": "SSE-KMS"}
# Calls moto does not serve as AWS does, and what the demo does about them.
STUBBED = {
    "dynamodb_table_encryption": "UpdateTable's SSESpecification: moto ignores this call; stubbed"
    " (the demo's moto applies it as DynamoDB does)",
}
MOTO_LIMITS = (
    "moto limit, S3: a new bucket has no default encryption (read as 'none'); AWS gives every"
    " bucket SSE-S3 since 2023",
    "moto limit, EBS: no Get/ResetEbsDefaultKmsKeyId, called only with EncryptionKmsKeyArn set"
    " (demo: default '')",
)
