"""Data in transit to S3 uses TLS: the bucket policy denies every request without it.

The fix only appends one Deny statement (a Deny never widens access); every other statement is
kept as it is, in order. A bucket without a policy gets one holding only that statement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from core.declaration import ENFORCE, S3_OWN_ACCOUNT, CloudTrail, Declaration, Policy, allow
from core.event import Trigger
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator
from s3_bucket_encryption import BUCKETS, Bucket, bucket_tags, bucket_targets

SID = "AutoremediateDenyInsecureTransport"

DECLARATION = Declaration(
    name="s3_bucket_secure_transport",
    title="S3 TLS-only bucket policy",
    description="Adds a Deny of non-TLS requests to S3 bucket policies",
    cloudtrail=(
        CloudTrail("s3.amazonaws.com", ("CreateBucket", "PutBucketPolicy", "DeleteBucketPolicy")),
    ),
    config_types=("AWS::S3::Bucket",),
    inverse_operations=("s3.put_bucket_policy", "s3.delete_bucket_policy"),
    permissions=(
        Policy(
            "s3-policy-read",
            (
                allow(
                    "ReadBuckets",
                    ("s3:GetBucketPolicy", "s3:GetBucketTagging"),
                    BUCKETS,
                    S3_OWN_ACCOUNT,
                ),
            ),
        ),
        Policy(
            "s3-policy-write",
            (allow("AddTlsDeny", "s3:PutBucketPolicy", BUCKETS, S3_OWN_ACCOUNT),),
            when=ENFORCE,
        ),
    ),
)


def deny_insecure_transport(bucket: str, sid: str = SID) -> dict[str, Any]:
    arn = f"arn:aws:s3:::{bucket}"
    return {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, text: str) -> bool:
    """IAM's ARN wildcards: * any run of characters, ? one character."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, text) is not None


def denies_insecure_transport(statement: Any, bucket: str) -> bool:
    """True when the statement denies every S3 action on the bucket and all its objects to
    everyone whenever aws:SecureTransport is false, and under no further condition."""
    if not isinstance(statement, Mapping) or statement.get("Effect") != "Deny":
        return False
    if {"NotPrincipal", "NotAction", "NotResource"} & statement.keys():
        return False
    principal = statement.get("Principal")
    if principal != "*" and not (
        isinstance(principal, Mapping) and "*" in _list(principal.get("AWS"))
    ):
        return False
    if not {str(a).lower() for a in _list(statement.get("Action"))} & {"*", "s3:*"}:
        return False
    resources = [r for r in _list(statement.get("Resource")) if isinstance(r, str)]
    arn = f"arn:aws:s3:::{bucket}"
    # Every object: a pattern ending in * that matches "<bucket>/" followed by anything.
    objects = any(r.endswith("*") and "?" not in r and _glob(r, f"{arn}/*") for r in resources)
    if not (objects and any(_glob(r, arn) for r in resources)):
        return False
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping) or len(condition) != 1:
        return False
    [(operator, keys)] = condition.items()
    if operator not in ("Bool", "BoolIfExists") or not isinstance(keys, Mapping) or len(keys) != 1:
        return False
    [(key, values)] = keys.items()
    return key.lower() == "aws:securetransport" and any(
        str(v).lower() == "false" for v in _list(values)
    )


class S3BucketSecureTransport(Remediator[Bucket]):
    declaration = DECLARATION
    gone_errors = ("NoSuchBucket",)

    def targets(self, trigger: Trigger) -> list[Bucket]:
        return bucket_targets(trigger, DECLARATION.event_names, self.name)

    def evaluate(self, target: Bucket, aws: Aws) -> Evaluation:
        s3 = aws("s3")
        text = _policy(s3, target)
        before = json.loads(text) if text is not None else None
        statements = _list(before.get("Statement", [])) if isinstance(before, dict) else []
        if any(denies_insecure_transport(s, target.name) for s in statements):
            return Evaluation(str(target))
        sids = {s.get("Sid") for s in statements if isinstance(s, Mapping)}
        sid = next(f"{SID}{n or ''}" for n in range(len(sids) + 1) if f"{SID}{n or ''}" not in sids)
        added = deny_insecure_transport(target.name, sid)
        if isinstance(before, dict):  # same keys, same order; only the statement list grows
            after = {**before, "Statement": [*statements, added]}
            undo = Call("s3", "put_bucket_policy", {"Bucket": target.name, "Policy": text})
            summary = "bucket policy: add a Deny of requests without TLS (aws:SecureTransport)"
        else:
            after = {"Version": "2012-10-17", "Statement": [added]}
            undo = Call("s3", "delete_bucket_policy", {"Bucket": target.name})
            summary = "no bucket policy: create one that denies requests without TLS"
        call = Call("s3", "put_bucket_policy", {"Bucket": target.name, "Policy": json.dumps(after)})
        change = Change(summary, str(target), before, after, call, (undo,))
        # Tags decide exemptions: read only when there is something to change.
        return Evaluation(str(target), (change,), bucket_tags(s3, target))

    def current_state(self, change: Change, aws: Aws) -> Any:
        """The bucket policy as a document (None: there is none)."""
        text = _policy(aws("s3"), Bucket(change.call.params["Bucket"] if change.call else ""))
        return json.loads(text) if text is not None else None


def _policy(s3: Any, bucket: Bucket) -> str | None:
    try:
        return str(s3.get_bucket_policy(Bucket=bucket.name)["Policy"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
            return None
        raise


REMEDIATOR = S3BucketSecureTransport()
handler = lambda_handler(REMEDIATOR)
