"""S3 default encryption at the account's baseline: SSE-S3, or SSE-KMS with the baseline key.

The baseline is a minimum: a bucket already on SSE-KMS (any key, a team's own CMK included) or
DSSE-KMS is compliant and untouched. Also holds the S3 facts the secure-transport remediator
shares (which bucket an event points at, the bucket's tags).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from core.baseline_key import check_key_usable, configured_key
from core.declaration import (
    BASELINE_KEY,
    ENFORCE,
    S3_OWN_ACCOUNT,
    CloudTrail,
    Declaration,
    Parameter,
    Policy,
    allow,
    arn,
    check_baseline_key,
    ref,
)
from core.event import EventError, Trigger
from core.exemptions import tags_to_dict
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator
from core.settings import SettingsError

LEVELS = ("SSE-S3", "SSE-KMS")
_KMS = frozenset({"aws:kms", "aws:kms:dsse"})
_ANY = _KMS | {"AES256"}
_PUT = "s3:PutEncryptionConfiguration"  # IAM's name for Put- and DeleteBucketEncryption
BUCKETS = arn("s3", "*", region=False, account=False)

DECLARATION = Declaration(
    name="s3_bucket_encryption",
    title="S3 default-encryption",
    description="Restores S3 default encryption at the baseline (SSE-S3 or SSE-KMS)",
    cloudtrail=(
        CloudTrail(
            "s3.amazonaws.com", ("CreateBucket", "PutBucketEncryption", "DeleteBucketEncryption")
        ),
    ),
    config_types=("AWS::S3::Bucket",),
    environment={
        "S3_ENCRYPTION_LEVEL": ref("S3EncryptionLevel"),
        "ENCRYPTION_KMS_KEY_ARN": BASELINE_KEY,
    },
    parameters=(
        Parameter(
            "S3EncryptionLevel",
            "Minimum default encryption of S3 buckets. SSE-S3 (S3 applies it to every bucket"
            " since 2023, so only a missing configuration is fixed) or SSE-KMS (with"
            " EncryptionKmsKeyArn or alias/aws/s3, bucket key on). SSE-KMS changes who can read"
            " new objects: report first.",
            default="SSE-S3",
            allowed=LEVELS,
        ),
    ),
    inverse_operations=("s3.put_bucket_encryption", "s3.delete_bucket_encryption"),
    permissions=(
        Policy(
            "s3-encryption-read",
            (
                allow(
                    "ReadBuckets",
                    ("s3:GetEncryptionConfiguration", "s3:GetBucketTagging"),
                    BUCKETS,
                    S3_OWN_ACCOUNT,
                    why="Bucket ARNs carry no account: s3:ResourceAccount keeps us to this"
                    " account's.",
                ),
                check_baseline_key(
                    "S3 does not validate the key on PutBucketEncryption; we check it is Enabled."
                ),
            ),
        ),
        Policy(
            "s3-encryption-write",
            (allow("FixDefaultEncryption", _PUT, BUCKETS, S3_OWN_ACCOUNT),),
            when=ENFORCE,
        ),
    ),
)


class Bucket(NamedTuple):  # cheaper at cold start than a frozen dataclass (core.outcome)
    name: str

    def __str__(self) -> str:
        return f"arn:aws:s3:::{self.name}"


def bucket_targets(trigger: Trigger, events: frozenset[str], remediator: str) -> list[Bucket]:
    """The bucket a CloudTrail call (requestParameters.bucketName) or Config item names."""
    if trigger.kind == "config":
        item = trigger.item
        if item.get("resourceType") != "AWS::S3::Bucket":
            raise EventError(f"resource type {item.get('resourceType')!r} is not a bucket")
        name = item.get("resourceName") or item.get("resourceId")
    elif trigger.event_name in events:
        name = trigger.request.get("bucketName")
    else:
        raise EventError(f"{trigger.event_name} is not a trigger of {remediator}")
    if not isinstance(name, str) or not name:
        raise EventError("event lacks the bucket name")
    return [Bucket(name)]


def bucket_tags(s3: Any, bucket: Bucket) -> dict[str, str]:
    """Tags carry exemptions; a bucket without tags answers NoSuchTagSet."""
    try:
        return tags_to_dict(s3.get_bucket_tagging(Bucket=bucket.name)["TagSet"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchTagSet":
            return {}
        raise


class S3BucketEncryption(Remediator[Bucket]):
    declaration = DECLARATION
    gone_errors = ("NoSuchBucket",)

    def targets(self, trigger: Trigger) -> list[Bucket]:
        return bucket_targets(trigger, DECLARATION.event_names, self.name)

    def evaluate(self, target: Bucket, aws: Aws) -> Evaluation:
        level = os.environ.get("S3_ENCRYPTION_LEVEL", "SSE-S3").strip() or "SSE-S3"
        if level not in LEVELS:
            raise SettingsError(f"S3_ENCRYPTION_LEVEL must be one of {LEVELS}, not {level!r}")
        key = configured_key()
        s3 = aws("s3")
        before = _configuration(s3, target)
        algorithms = {
            rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
            for rule in (before or {}).get("Rules", [])
        }
        if algorithms & (_KMS if level == "SSE-KMS" else _ANY):
            return Evaluation(str(target))  # at or above the baseline: never downgrade
        if level == "SSE-KMS":
            default = {"SSEAlgorithm": "aws:kms"}  # no KMSMasterKeyID: the AWS-managed aws/s3
            if key:
                check_key_usable(aws, key)
                default["KMSMasterKeyID"] = key
            rule = {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}
            after: dict[str, Any] = {"Rules": [rule]}
            summary = f"default encryption {_describe(before)} -> SSE-KMS ({key or 'aws/s3'})"
        else:
            after = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
            summary = "no default encryption -> SSE-S3 (AES256)"
        call = _put(target, after)
        undo = (
            _put(target, before)
            if before
            else Call("s3", "delete_bucket_encryption", {"Bucket": target.name}, _PUT)
        )
        change = Change(summary, str(target), before, after, call, (undo,))
        # Tags decide exemptions: read only when there is something to change.
        return Evaluation(str(target), (change,), bucket_tags(s3, target))

    def current_state(self, change: Change, aws: Aws) -> Any:
        """The default encryption as we write it: S3 reads back BucketKeyEnabled false too."""
        config = _configuration(
            aws("s3"), Bucket(change.call.params["Bucket"] if change.call else "")
        )
        if not config:
            return config
        rules = [{k: v for k, v in rule.items() if (k, v) != ("BucketKeyEnabled", False)}
                 for rule in config.get("Rules", [])]  # fmt: skip
        return {**config, "Rules": rules}


def _configuration(s3: Any, bucket: Bucket) -> dict[str, Any] | None:
    """Real AWS always answers (SSE-S3 since 2023); moto and old buckets may have none."""
    try:
        response = s3.get_bucket_encryption(Bucket=bucket.name)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code == "ServerSideEncryptionConfigurationNotFoundError":
            return None
        raise
    config: dict[str, Any] = response["ServerSideEncryptionConfiguration"]
    return config


def _describe(config: Mapping[str, Any] | None) -> str:
    if not config:
        return "none"
    rules = config.get("Rules", [])
    names = (
        str(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")) for r in rules
    )
    return ",".join(names) or "none"


def _put(bucket: Bucket, config: Mapping[str, Any]) -> Call:
    params = {"Bucket": bucket.name, "ServerSideEncryptionConfiguration": dict(config)}
    return Call("s3", "put_bucket_encryption", params, _PUT)


REMEDIATOR = S3BucketEncryption()
handler = lambda_handler(REMEDIATOR)
