"""The TLS-only bucket policy in a moto account: each trigger in both modes, state before and after;
the recognition of an existing TLS Deny is pure and tested without moto."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

import s3_bucket_secure_transport as module
from autoremediate_cli.undo import undo
from core.ledger import Ledger
from core.outcome import Outcome, Status
from s3_bucket_secure_transport import REMEDIATOR, SID, deny_insecure_transport
from s3_bucket_secure_transport import denies_insecure_transport as denies
from tests.remediators.approvals import approve
from tests.remediators.calls import api_calls, ledger_before
from tests.remediators.faults import FailingAws
from tools.scenario import inbox, load_event

BUCKET = "app-data-bucket"
ARN = f"arn:aws:s3:::{BUCKET}"
ROLE_NAME = "autoremediate-S3BucketSecureTransportRole-1A2B3C4D5E6F"  # as CloudFormation names it
OWN_ROLE = f"arn:aws:iam::123456789012:role/autoremediate/{ROLE_NAME}"
TRIGGERS = ("CreateBucket", "PutBucketPolicy", "DeleteBucketPolicy", "Config-Bucket")
OURS = deny_insecure_transport(BUCKET)
Run = Callable[..., list[Outcome]]


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    """The real runner with this function's settings (its own role for the loop guard)."""
    return make_run(REMEDIATOR, own_role=OWN_ROLE)


def sample(name: str) -> dict[str, Any]:
    return load_event(name, "s3_bucket_secure_transport")


def prepare(aws: Any, name: str) -> dict[str, Any]:
    """Make the live bucket what the sample event says happened to it."""
    event = sample(name)
    s3 = aws("s3")
    s3.create_bucket(Bucket=BUCKET)
    if name.startswith("PutBucketPolicy"):
        policy = event["detail"]["requestParameters"]["bucketPolicy"]
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy, indent=2))
    elif name == "DeleteBucketPolicy":
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Statement": [OURS]}))
        s3.delete_bucket_policy(Bucket=BUCKET)
    elif name == "Config-Bucket":
        item = event["detail"]["configurationItem"]
        s3.put_bucket_policy(
            Bucket=BUCKET, Policy=item["supplementaryConfiguration"]["BucketPolicy"]["policyText"]
        )
    return event


def live(aws: Any) -> str | None:
    """The policy text exactly as S3 returns it, or None."""
    try:
        return str(aws("s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return None


@pytest.fixture
def writes(aws: Any) -> Iterator[list[str]]:
    """The bucket-policy writes made after setup (the test clears it once the scene is set)."""
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        if model.name in ("PutBucketPolicy", "DeleteBucketPolicy"):
            seen.append(model.name)

    aws("s3").meta.events.register("before-call.s3", record)
    yield seen
    aws("s3").meta.events.unregister("before-call.s3", record)


# ------------------------------------------------------------------------------- pure logic


def _variant(**changes: Any) -> dict[str, Any]:
    statement = copy.deepcopy(OURS)
    for key, value in changes.items():
        if value is None:
            statement.pop(key, None)
        else:
            statement[key] = value
    return statement


@pytest.mark.parametrize(
    "statement",
    [
        OURS,
        _variant(Principal={"AWS": "*"}, Action=["s3:*"], Resource="*", Sid=None),
        _variant(Principal={"AWS": ["*"]}, Action="*", Resource=["arn:aws:s3:::app-data-bucket*"]),
        _variant(Condition={"BoolIfExists": {"aws:SecureTransport": ["false"]}}),
        _variant(Condition={"Bool": {"aws:securetransport": False}}, Action="S3:*"),
        _variant(Resource=["arn:aws:s3:::*"]),
    ],
    ids=["ours", "aws-star", "bucket-prefix", "bool-if-exists", "case", "all-buckets"],
)
def test_equivalent_tls_denies_are_recognised(statement: dict[str, Any]) -> None:
    assert denies(statement, BUCKET)


@pytest.mark.parametrize(
    "statement",
    [
        _variant(Effect="Allow"),
        _variant(Principal={"AWS": "arn:aws:iam::123456789012:root"}),
        _variant(Principal=None, NotPrincipal={"AWS": "arn:aws:iam::123456789012:role/Admin"}),
        _variant(Action=["s3:GetObject", "s3:PutObject"]),
        _variant(Action=None, NotAction="s3:GetObject"),
        _variant(Resource=ARN),  # the bucket only, as in the real Config item: objects uncovered
        _variant(Resource=f"{ARN}/*"),
        _variant(Resource=[ARN, f"{ARN}/reports/*"]),
        _variant(Resource=[ARN, f"{ARN}/?"]),
        _variant(Resource=None, NotResource=f"{ARN}/public/*"),
        _variant(Condition={"Bool": {"aws:SecureTransport": "true"}}),
        _variant(
            Condition={"Bool": {"aws:SecureTransport": "false", "aws:ViaAWSService": "false"}}
        ),
        _variant(
            Condition={
                "Bool": {"aws:SecureTransport": "false"},
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            }
        ),
        _variant(Condition={"NumericLessThan": {"s3:TlsVersion": "1.2"}}),
        _variant(Condition=None),
        "not a statement",
    ],
    ids=[
        "allow",
        "one-account",
        "not-principal",
        "some-actions",
        "not-action",
        "bucket-only",
        "objects-only",
        "some-objects",
        "question-mark",
        "not-resource",
        "true",
        "extra-key",
        "extra-operator",
        "tls-version",
        "no-condition",
        "garbage",
    ],
)
def test_narrower_statements_do_not_count(statement: Any) -> None:
    assert not denies(statement, BUCKET)


# ---------------------------------------------------------------------------- in a moto account


@pytest.mark.parametrize("name", TRIGGERS)
def test_report_mode_reports_and_changes_nothing(aws, stack, run, writes, name):
    event = prepare(aws, name)
    before = live(aws)
    writes.clear()

    [outcome] = run(event, "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert writes == [] and live(aws) == before
    [change] = outcome.changes
    assert change.after["Statement"][-1] == OURS
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"


@pytest.mark.parametrize("name", TRIGGERS)
def test_enforce_adds_one_statement_keeps_the_rest_and_undo_restores(aws, stack, run, name):
    event = prepare(aws, name)
    before = live(aws)

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    after = json.loads(live(aws) or "")
    kept = json.loads(before)["Statement"] if before else []
    assert after["Statement"] == [*kept, OURS]  # every other statement as it was, in order
    if before:
        assert {k: v for k, v in after.items() if k != "Statement"} == {
            k: v for k, v in json.loads(before).items() if k != "Statement"
        }
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "REMEDIATED"
    assert [o.status for o in run(event, "enforce")] == [Status.COMPLIANT]  # quiet echo
    assert inbox(aws, stack) == []

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert live(aws) == before  # the same text, or no policy at all


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_policy_that_already_denies_plain_http_is_untouched(aws, stack, run, writes, mode):
    event = prepare(aws, "PutBucketPolicy")
    team = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "s3:*",
                "Resource": [f"{ARN}/*", ARN],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    aws("s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(team))
    before = live(aws)
    writes.clear()

    [outcome] = run(event, mode)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert writes == [] and live(aws) == before
    assert inbox(aws, stack) == []


def test_a_tampered_statement_of_ours_is_kept_and_a_new_sid_added(aws, stack, run):
    event = prepare(aws, "PutBucketPolicy")
    weakened = _variant(Resource=ARN)  # someone narrowed our statement to the bucket only
    aws("s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Statement": weakened}))

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED
    statements = json.loads(live(aws) or "")["Statement"]
    assert statements == [weakened, {**OURS, "Sid": f"{SID}1"}]


def test_ledger_holds_the_previous_policy_before_the_write(aws, stack, run):
    event = prepare(aws, "PutBucketPolicy")
    original = live(aws)

    with ledger_before(aws, stack.table, "s3", "PutBucketPolicy") as seen:
        [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED
    [entry] = seen
    assert entry["status"] == "APPLYING"
    assert entry["changes"][0]["before"] == json.loads(original or "")
    assert entry["changes"][0]["undo"][0]["params"]["Policy"] == original


def test_access_denied_fails_and_changes_nothing(aws, stack, run):
    event = prepare(aws, "PutBucketPolicy")
    before = live(aws)

    denied = FailingAws(aws, "put_bucket_policy", "AccessDenied", service="s3")
    [outcome] = run(event, "enforce", aws_=denied)

    assert outcome.status is Status.FAILED
    assert outcome.reason.startswith("AccessDenied while applying")
    assert live(aws) == before


def test_bucket_deleted_in_between_is_skipped(aws, stack, run):
    event = prepare(aws, "CreateBucket")
    aws("s3").delete_bucket(Bucket=BUCKET)

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (NoSuchBucket)" in outcome.reason


def test_failed_calls_are_skipped_quietly(aws, stack, run, writes):
    prepare(aws, "CreateBucket")  # no policy: only the errorCode stops us
    writes.clear()

    [outcome] = run(sample("PutBucketPolicy-failed-call"), "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert writes == [] and live(aws) is None
    assert inbox(aws, stack) == []


def test_the_echo_of_our_own_fix_is_re_checked_and_quiet(aws, stack, run, writes):
    event = prepare(aws, "PutBucketPolicy-own-action")  # the team's statements and ours
    before = live(aws)
    writes.clear()

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert writes == [] and live(aws) == before
    assert inbox(aws, stack) == []


def test_exempt_by_tag(aws, stack, run):
    event = prepare(aws, "CreateBucket")
    aws("s3").put_bucket_tagging(
        Bucket=BUCKET,
        Tagging={
            "TagSet": [{"Key": "autoremediate:exempt", "Value": "http-only device uploads INC-9"}]
        },
    )
    approve(aws, stack, f"arn:aws:s3:::{BUCKET}", "http-only device uploads INC-9")

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.EXEMPT and "INC-9" in outcome.reason
    assert live(aws) is None


@pytest.mark.parametrize("name", TRIGGERS)
def test_every_call_is_a_declared_action(aws, stack, run, name):
    event = prepare(aws, name)

    with api_calls(aws, "s3") as seen:
        [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED
    writes = {a for a in seen if a in REMEDIATOR.write_actions}
    assert set(seen) - writes <= set(REMEDIATOR.read_actions)
    assert writes == {c.call.action for c in outcome.changes if c.call} == {"s3:PutBucketPolicy"}


def test_handler_runs_what_lambda_runs(aws, stack, monkeypatch):
    for name, value in {**stack.env("enforce"), "OWN_ROLE_ARNS": OWN_ROLE}.items():
        monkeypatch.setenv(name, value)
    event = prepare(aws, "DeleteBucketPolicy")

    [result] = module.handler(event, None)

    assert result["status"] == "REMEDIATED" and result["resource"] == ARN
    assert json.loads(live(aws) or "")["Statement"] == [OURS]
