"""The encryption baseline's key: which key to write, and whether KMS will let us use it.

Checked in `evaluate`, before any write: a disabled, deleted or forbidden key gives FAILED with
a clear message and nothing half-applied.
"""

from __future__ import annotations

import os

from botocore.exceptions import ClientError

from core.remediator import Aws
from core.transient import TRANSIENT_ERRORS

ENV = "ENCRYPTION_KMS_KEY_ARN"


def configured_key() -> str:
    """The customer-managed key of the baseline (parameter EncryptionKmsKeyArn), or ''."""
    return os.environ.get(ENV, "").strip()


def check_key_usable(aws: Aws, key: str) -> None:
    """Raise `KMSKeyUnusable` unless KMS says the key is Enabled (transient errors re-raised)."""
    try:
        state = str(aws("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"])
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in TRANSIENT_ERRORS:
            raise
        state = f"not usable by this function ({code})"
    if state != "Enabled":
        message = f"baseline KMS key {key} is {state}; nothing was changed"
        raise ClientError({"Error": {"Code": "KMSKeyUnusable", "Message": message}}, "DescribeKey")


def baseline_key(aws: Aws, aws_managed: str) -> str:
    """The key to write: the configured CMK once KMS says it is usable, else `aws_managed`."""
    key = configured_key()
    if not key:
        return aws_managed
    check_key_usable(aws, key)
    return key


def is_aws_managed_key(aws: Aws, key: str, alias: str) -> bool:
    """Whether `key` (alias, ARN or id) is the AWS-managed key behind `alias`."""
    if key == alias or key.endswith(":" + alias):
        return True
    try:
        found = aws("kms").describe_key(KeyId=alias)["KeyMetadata"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NotFoundException":
            return False  # never used in this region: the key is a customer's
        raise
    return key in (found.get("Arn"), found.get("KeyId"))
