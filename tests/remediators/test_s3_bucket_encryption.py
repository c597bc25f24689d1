"""S3 default encryption in a moto account: each trigger, each baseline and mode, state before and
after. moto, unlike AWS since 2023, gives a new bucket no default encryption at all."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

import s3_bucket_encryption as module
from autoremediate_cli.undo import undo
from core.ledger import Ledger
from core.outcome import Outcome, Status
from s3_bucket_encryption import REMEDIATOR
from tests.remediators.approvals import approve
from tests.remediators.calls import api_calls, ledger_before
from tests.remediators.faults import FailingAws
from tools.scenario import inbox, load_event

BUCKET = "app-data-bucket"
ROLE_NAME = "autoremediate-S3BucketEncryptionRole-1A2B3C4D5E6F"  # as CloudFormation names it
OWN_ROLE = f"arn:aws:iam::123456789012:role/autoremediate/{ROLE_NAME}"
TRIGGERS = ("CreateBucket", "PutBucketEncryption", "DeleteBucketEncryption", "Config-Bucket")
AES256 = {
    "Rules": [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
            "BucketKeyEnabled": False,
        }
    ]
}
# What moto (like AWS) reads back after the fix: the AWS-managed key has no KMSMasterKeyID.
KMS_AWS_MANAGED = {
    "Rules": [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"},
            "BucketKeyEnabled": True,
        }
    ]
}
WRITES = {"PutBucketEncryption", "DeleteBucketEncryption"}
IAM_NAMES = {
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
}

Run = Callable[..., list[Outcome]]


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    """The real runner with this function's settings (its own role for the loop guard)."""
    return make_run(REMEDIATOR, own_role=OWN_ROLE)


@pytest.fixture
def key(aws: Any) -> str:
    arn: str = aws("kms").create_key(Description="baseline")["KeyMetadata"]["Arn"]
    return arn


def baseline(monkeypatch: Any, level: str, key: str = "") -> None:
    monkeypatch.setenv("S3_ENCRYPTION_LEVEL", level)
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", key)


def sample(name: str) -> dict[str, Any]:
    return load_event(name, "s3_bucket_encryption")


def prepare(aws: Any, name: str) -> dict[str, Any]:
    """Make the live bucket what the sample event says happened to it."""
    event = sample(name)
    s3 = aws("s3")
    s3.create_bucket(Bucket=BUCKET)
    if name.startswith("PutBucketEncryption"):
        rule = dict(
            event["detail"]["requestParameters"]["ServerSideEncryptionConfiguration"]["Rule"]
        )
        s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [rule]})
    elif name.startswith("DeleteBucketEncryption"):
        s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration=AES256)
        if "failed" not in name:
            s3.delete_bucket_encryption(Bucket=BUCKET)
    return event


def live(aws: Any) -> Any:
    try:
        return aws("s3").get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"
        return None


@pytest.fixture
def calls(aws: Any) -> Iterator[list[str]]:
    """Every S3 and KMS call the remediator makes, as the IAM action it needs."""
    with api_calls(aws, "s3", "kms", names=IAM_NAMES) as seen:
        yield seen


def writes(seen: list[str]) -> list[str]:
    return [a for a in seen if a in REMEDIATOR.write_actions]


# ----------------------------------------------------------------------------- SSE-S3 baseline


@pytest.mark.parametrize("name", ["CreateBucket", "DeleteBucketEncryption", "Config-Bucket"])
def test_sse_s3_missing_configuration_is_reported(aws, stack, run, monkeypatch, name):
    baseline(monkeypatch, "SSE-S3")
    event = prepare(aws, name)

    [outcome] = run(event, "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert live(aws) is None
    [change] = outcome.changes
    assert change.before is None and change.after["Rules"][0][
        "ApplyServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"


@pytest.mark.parametrize("name", ["CreateBucket", "DeleteBucketEncryption", "Config-Bucket"])
def test_sse_s3_missing_configuration_gets_aes256_and_undo_removes_it(
    aws, stack, run, monkeypatch, name
):
    baseline(monkeypatch, "SSE-S3")
    event = prepare(aws, name)

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert live(aws) == AES256
    assert [c.call.action for c in outcome.changes if c.call] == ["s3:PutEncryptionConfiguration"]
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "REMEDIATED"
    assert [o.status for o in run(event, "enforce")] == [Status.COMPLIANT]  # quiet echo
    assert inbox(aws, stack) == []

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert live(aws) is None
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "UNDONE"


@pytest.mark.parametrize(
    "algorithm",
    [
        {"SSEAlgorithm": "AES256"},
        {"SSEAlgorithm": "aws:kms"},
        {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": "alias/team"},
    ],
)
@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_sse_s3_any_default_encryption_is_compliant(
    aws, stack, run, monkeypatch, calls, algorithm, mode
):
    baseline(monkeypatch, "SSE-S3")
    event = prepare(aws, "PutBucketEncryption")
    config = {"Rules": [{"ApplyServerSideEncryptionByDefault": algorithm}]}
    aws("s3").put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration=config)
    before = live(aws)
    calls.clear()

    [outcome] = run(event, mode)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert writes(calls) == [] and "kms:DescribeKey" not in calls
    assert live(aws) == before
    assert inbox(aws, stack) == []


# ---------------------------------------------------------------------------- SSE-KMS baseline


@pytest.mark.parametrize("name", TRIGGERS)
def test_sse_kms_report_mode_changes_nothing(aws, stack, run, monkeypatch, key, calls, name):
    baseline(monkeypatch, "SSE-KMS", key)
    event = prepare(aws, name)
    before = live(aws)
    calls.clear()

    [outcome] = run(event, "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert live(aws) == before
    assert writes(calls) == []
    [change] = outcome.changes
    assert change.before == before
    assert change.after["Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key


@pytest.mark.parametrize("name", TRIGGERS)
def test_sse_kms_enforce_sets_the_baseline_key_and_undo_restores_exactly(
    aws, stack, run, monkeypatch, key, name
):
    baseline(monkeypatch, "SSE-KMS", key)
    event = prepare(aws, name)
    before = live(aws)

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    [rule] = live(aws)["Rules"]
    assert rule == {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
        "BucketKeyEnabled": True,
    }
    [note] = inbox(aws, stack)
    assert note["body"]["changes"][0]["before"] == before
    if before is None:
        assert note["body"]["changes"][0]["undo_cli"] == [
            f"aws s3api delete-bucket-encryption --bucket {BUCKET}"
        ]

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert live(aws) == before  # AES256 put back as it was, or no configuration at all


def test_sse_kms_without_a_key_uses_the_aws_managed_key(aws, stack, run, monkeypatch, calls):
    baseline(monkeypatch, "SSE-KMS")
    event = prepare(aws, "PutBucketEncryption")

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED
    assert live(aws) == KMS_AWS_MANAGED
    assert "kms:DescribeKey" not in calls  # nothing to check: S3 manages alias/aws/s3
    assert "aws/s3" in outcome.changes[0].summary


@pytest.mark.parametrize(
    "default",
    [
        {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": "arn:aws:kms:us-east-1:123456789012:key/team",
        },
        {"SSEAlgorithm": "aws:kms"},
        {"SSEAlgorithm": "aws:kms:dsse"},
    ],
    ids=["team-cmk", "aws-managed", "dsse"],
)
def test_sse_kms_never_downgrades_or_swaps_a_key(aws, stack, run, monkeypatch, key, calls, default):
    baseline(monkeypatch, "SSE-KMS", key)
    event = prepare(aws, "PutBucketEncryption")
    aws("s3").put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default}]
        },
    )
    before = live(aws)
    calls.clear()

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.COMPLIANT
    assert writes(calls) == []
    assert live(aws) == before


# ------------------------------------------------------------------------- the baseline key


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion"])
def test_unusable_key_fails_before_any_write(aws, stack, run, monkeypatch, key, calls, mode, state):
    baseline(monkeypatch, "SSE-KMS", key)
    key_id = key.rsplit("/", 1)[1]  # moto 5.2 takes only the id here (AWS also takes the ARN)
    if state == "Disabled":
        aws("kms").disable_key(KeyId=key_id)
    else:
        aws("kms").schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    event = prepare(aws, "PutBucketEncryption")
    before = live(aws)
    calls.clear()

    [outcome] = run(event, mode)

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.error_code == "KMSKeyUnusable"
    assert f"{key} is {state}" in outcome.reason
    assert writes(calls) == [] and live(aws) == before
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "FAILED"


def test_key_we_may_not_describe_fails_with_the_reason(aws, stack, run, monkeypatch, key):
    baseline(monkeypatch, "SSE-KMS", key)
    event = prepare(aws, "PutBucketEncryption")
    before = live(aws)

    denied = FailingAws(aws, "describe_key", "AccessDeniedException", service="kms")
    [outcome] = run(event, "enforce", aws_=denied)

    assert outcome.status is Status.FAILED and outcome.error_code == "KMSKeyUnusable"
    assert "not usable by this function (AccessDeniedException)" in outcome.reason
    assert live(aws) == before


# ----------------------------------------------------------------------- safety and plumbing


def test_ledger_holds_the_previous_configuration_before_the_write(
    aws, stack, run, monkeypatch, key
):
    baseline(monkeypatch, "SSE-KMS", key)
    event = prepare(aws, "PutBucketEncryption")

    with ledger_before(aws, stack.table, "s3", "PutBucketEncryption") as seen:
        [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED
    [entry] = seen
    assert entry["status"] == "APPLYING"
    assert entry["changes"][0]["before"] == AES256
    assert entry["changes"][0]["undo"][0]["params"]["ServerSideEncryptionConfiguration"] == AES256


def test_access_denied_on_the_write_fails_and_changes_nothing(aws, stack, run, monkeypatch):
    baseline(monkeypatch, "SSE-S3")
    event = prepare(aws, "CreateBucket")

    denied = FailingAws(aws, "put_bucket_encryption", "AccessDenied", service="s3")
    [outcome] = run(event, "enforce", aws_=denied)

    assert outcome.status is Status.FAILED
    assert outcome.reason.startswith("AccessDenied while applying")
    assert live(aws) is None
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "FAILED"


def test_bucket_deleted_in_between_is_skipped(aws, stack, run, monkeypatch):
    baseline(monkeypatch, "SSE-S3")
    event = prepare(aws, "CreateBucket")
    aws("s3").delete_bucket(Bucket=BUCKET)

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (NoSuchBucket)" in outcome.reason


def test_failed_calls_are_skipped_quietly(aws, stack, run, monkeypatch, calls):
    baseline(monkeypatch, "SSE-KMS")  # the bucket is below the baseline: only the errorCode
    event = prepare(aws, "DeleteBucketEncryption-failed-call")  # stops us
    before = live(aws)
    calls.clear()

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert calls == [] and live(aws) == before
    assert inbox(aws, stack) == []


def test_the_echo_of_our_own_fix_is_re_checked_and_quiet(aws, stack, run, monkeypatch, calls):
    baseline(monkeypatch, "SSE-KMS")
    event = prepare(aws, "PutBucketEncryption-own-action")  # aws:kms, bucket key: our fix
    before = live(aws)
    calls.clear()

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert calls == ["s3:GetEncryptionConfiguration"] and live(aws) == before
    assert inbox(aws, stack) == []


def test_exempt_by_tag(aws, stack, run, monkeypatch):
    baseline(monkeypatch, "SSE-S3")
    event = prepare(aws, "CreateBucket")
    aws("s3").put_bucket_tagging(
        Bucket=BUCKET,
        Tagging={
            "TagSet": [
                {"Key": "autoremediate:exempt", "Value": "legacy log sink INC-7 until=2026-12-31"}
            ]
        },
    )
    approve(aws, stack, f"arn:aws:s3:::{BUCKET}", "legacy log sink INC-7 until=2026-12-31")

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.EXEMPT and "INC-7" in outcome.reason
    assert live(aws) is None


@pytest.mark.parametrize("name", TRIGGERS)
def test_every_call_is_a_declared_action(aws, stack, run, monkeypatch, key, calls, name):
    baseline(monkeypatch, "SSE-KMS", key)
    event = prepare(aws, name)
    calls.clear()

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED
    assert set(calls) - set(writes(calls)) <= set(REMEDIATOR.read_actions)
    assert set(writes(calls)) == {c.call.action for c in outcome.changes if c.call}


def test_unknown_level_is_a_configuration_error(aws, stack, run, monkeypatch):
    baseline(monkeypatch, "SSE-C")
    [outcome] = run(prepare(aws, "CreateBucket"), "enforce")
    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("configuration error: S3_ENCRYPTION_LEVEL must be one of")


@pytest.mark.parametrize(
    "detail",
    [
        {"eventName": "CreateBucket", "requestParameters": None},
        {"eventName": "PutBucketAcl", "requestParameters": {"bucketName": BUCKET}},
    ],
)
def test_events_without_a_bucket_of_ours_are_malformed(aws, stack, run, detail):
    event = {**sample("CreateBucket"), "detail": {**sample("CreateBucket")["detail"], **detail}}
    [outcome] = run(event, "enforce")
    assert outcome.status is Status.SKIPPED and outcome.reason.startswith("malformed event:")


def test_handler_runs_what_lambda_runs(aws, stack, monkeypatch, key):
    for name, value in {**stack.env("enforce"), "OWN_ROLE_ARNS": OWN_ROLE}.items():
        monkeypatch.setenv(name, value)
    baseline(monkeypatch, "SSE-KMS", key)
    event = prepare(aws, "DeleteBucketEncryption")

    [result] = module.handler(event, None)

    assert result["status"] == "REMEDIATED" and result["resource"] == f"arn:aws:s3:::{BUCKET}"
    assert live(aws)["Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key
