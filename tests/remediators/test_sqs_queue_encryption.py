"""The SQS queue encryption remediator in a moto account: each trigger, each mode, before/after.

The stack fixture has its own inbox queue in the same account; every test here acts on `orders`
(or `payments`) and reads only those queues.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autoremediate_cli.undo import undo
from core.ledger import Ledger
from core.outcome import Outcome, Status
from sqs_queue_encryption import REMEDIATOR, TLS_SID, Queue
from tests.remediators.approvals import approve
from tests.remediators.calls import api_calls, ledger_before
from tests.remediators.faults import FailingAws
from tools.scenario import inbox, load_event, replay

MODULE = "sqs_queue_encryption"
URL = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
ARN = "arn:aws:sqs:us-east-1:123456789012:orders"
OWN_ROLE_ARN = (
    "arn:aws:iam::123456789012:role/autoremediate/autoremediate-SqsQueueEncryptionRole-1A2B3C4D5E6F"
)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRIGGERS = ["CreateQueue", "SetQueueAttributes", "Config-Queue"]
TEAM_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Id": "orders-policy",
    "Statement": [{"Sid": "BillingSends", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::123456789012:role/billing"},
                   "Action": "sqs:SendMessage", "Resource": ARN}],
})  # fmt: skip
TLS_DENY = {
    "Sid": "TeamTls", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "SQS:*",
    "Resource": ARN, "Condition": {"Bool": {"aws:SecureTransport": ["false"]}},
}  # fmt: skip

Run = Callable[..., list[Outcome]]


@pytest.fixture(autouse=True)
def _sqs_keeps_the_policy(sqs_keeps_the_policy: None) -> None:
    """Every test here: moto would drop the queue policy (see conftest.sqs_keeps_the_policy)."""


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    """As tests/remediators/conftest.py's `run`, with this remediator and its own role."""
    return make_run(REMEDIATOR, own_role=OWN_ROLE_ARN)


def event(name: str) -> dict[str, Any]:
    return load_event(name, MODULE)


def prepare(aws: Any, name: str) -> dict[str, Any]:
    """An unencrypted queue `orders` without a policy, as the sample event `name` leaves it."""
    if name == "CreateQueue":
        replay(aws, event(name))
    elif name.startswith("SetQueueAttributes"):  # SSE-SQS by default, then switched off
        aws("sqs").create_queue(QueueName="orders")
        replay(aws, event("SetQueueAttributes"))
    else:
        aws("sqs").create_queue(QueueName="orders", Attributes={"SqsManagedSseEnabled": "false"})
    return event(name)


def state(aws: Any, url: str = URL) -> dict[str, Any]:
    """The attributes this remediator may change, as SQS reports them."""
    attributes = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    keep = ("SqsManagedSseEnabled", "KmsMasterKeyId", "Policy")
    return {k: v for k, v in attributes["Attributes"].items() if k in keep}


def writes(seen: list[str]) -> list[str]:
    return [a for a in seen if a in REMEDIATOR.write_actions]


def cmk(aws: Any, enabled: bool = True) -> str:
    key = aws("kms").create_key(Description="baseline")["KeyMetadata"]
    if not enabled:
        aws("kms").disable_key(KeyId=key["KeyId"])
    return str(key["Arn"])


def statements(aws: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(state(aws)["Policy"])["Statement"]
    return found


@pytest.mark.parametrize("name", TRIGGERS)
def test_report_mode_reports_and_changes_nothing(aws, stack, run, name):
    sample = prepare(aws, name)
    before = state(aws)

    with api_calls(aws, "sqs", "kms") as seen:
        [outcome] = run(sample, "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == ARN
    at_rest, tls = outcome.changes
    assert at_rest.after == {"SqsManagedSseEnabled": "true"}
    assert tls.before is None and tls.after["Statement"][0]["Sid"] == TLS_SID
    assert writes(seen) == []
    assert state(aws) == before == {"SqsManagedSseEnabled": "false"}
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"


@pytest.mark.parametrize("name", TRIGGERS)
def test_enforce_mode_encrypts_denies_plain_http_and_can_be_undone(aws, stack, run, name):
    sample = prepare(aws, name)
    before = state(aws)

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    after = state(aws)
    assert after["SqsManagedSseEnabled"] == "true" and "KmsMasterKeyId" not in after
    assert statements(aws) == [{
        "Sid": TLS_SID, "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": ARN,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]  # fmt: skip
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "REMEDIATED"
    [echo] = run(sample, "enforce")
    assert echo.status is Status.COMPLIANT and echo.quiet

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state(aws) == before
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "UNDONE"


def test_existing_policy_keeps_every_statement_and_undo_restores_it_exactly(aws, stack, run):
    sample = prepare(aws, "Config-Queue")
    aws("sqs").set_queue_attributes(QueueUrl=URL, Attributes={"Policy": TEAM_POLICY})

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.REMEDIATED
    team, ours = statements(aws)
    assert team == json.loads(TEAM_POLICY)["Statement"][0]
    assert ours["Sid"] == TLS_SID
    assert json.loads(state(aws)["Policy"])["Id"] == "orders-policy"
    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state(aws)["Policy"] == TEAM_POLICY


def test_a_deny_limited_to_one_action_is_completed_not_replaced(aws, stack, run):
    narrow = {**TLS_DENY, "Sid": "SendOnlyTls", "Action": "sqs:SendMessage"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": narrow})  # one statement, no list
    aws("sqs").create_queue(QueueName="orders", Attributes={"Policy": policy})

    [outcome] = run(event("Config-Queue"), "enforce")

    assert outcome.status is Status.REMEDIATED
    assert [s["Sid"] for s in statements(aws)] == ["SendOnlyTls", TLS_SID]


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_sse_sqs_queue_with_a_tls_deny_is_compliant_and_untouched(aws, stack, run, mode):
    policy = json.dumps({"Version": "2012-10-17", "Statement": [TLS_DENY]})
    aws("sqs").create_queue(QueueName="orders", Attributes={"Policy": policy})
    before = state(aws)

    with api_calls(aws, "sqs", "kms") as seen:
        [outcome] = run(event("Config-Queue"), mode)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert writes(seen) == [] and state(aws) == before
    assert inbox(aws, stack) == []


@pytest.mark.parametrize("existing", ["alias/aws/sqs", "team-cmk"])
@pytest.mark.parametrize("level", ["SSE-SQS", "SSE-KMS"])
def test_any_kms_key_already_set_is_compliant_and_untouched(
    aws, stack, run, monkeypatch, existing, level
):
    monkeypatch.setenv("SQS_ENCRYPTION_LEVEL", level)
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", cmk(aws))  # the baseline asks for another key
    key = cmk(aws) if existing == "team-cmk" else existing
    policy = json.dumps({"Version": "2012-10-17", "Statement": [TLS_DENY]})
    aws("sqs").create_queue(
        QueueName="orders", Attributes={"KmsMasterKeyId": key, "Policy": policy}
    )

    with api_calls(aws, "sqs", "kms") as seen:
        [outcome] = run(event("Config-Queue"), "enforce")

    assert outcome.status is Status.COMPLIANT
    assert writes(seen) == [] and "kms:DescribeKey" not in seen
    assert state(aws)["KmsMasterKeyId"] == key


@pytest.mark.parametrize("baseline", ["", "cmk"])
def test_sse_kms_level_replaces_sse_sqs_with_the_baseline_key_and_undo_restores_sse_sqs(
    aws, stack, run, monkeypatch, baseline
):
    key = cmk(aws) if baseline else "alias/aws/sqs"
    monkeypatch.setenv("SQS_ENCRYPTION_LEVEL", "SSE-KMS")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", key if baseline else "")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [TLS_DENY]})
    aws("sqs").create_queue(QueueName="orders", Attributes={"Policy": policy})  # SSE-SQS on
    before = state(aws)

    with api_calls(aws, "sqs", "kms") as seen:
        [outcome] = run(event("Config-Queue"), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    [change] = outcome.changes
    assert change.before == {"SqsManagedSseEnabled": "true", "KmsMasterKeyId": ""}
    assert state(aws)["KmsMasterKeyId"] == key
    assert state(aws)["SqsManagedSseEnabled"] == "false"
    assert ("kms:DescribeKey" in seen) == bool(baseline)
    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state(aws) == before


def test_disabled_baseline_key_fails_loudly_and_changes_nothing(aws, stack, run, monkeypatch):
    key = cmk(aws, enabled=False)
    monkeypatch.setenv("SQS_ENCRYPTION_LEVEL", "SSE-KMS")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", key)
    sample = prepare(aws, "CreateQueue")
    before = state(aws)

    with api_calls(aws, "sqs", "kms") as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("KMSKeyUnusable while reading the resource")
    assert f"baseline KMS key {key} is Disabled; nothing was changed" in outcome.reason
    assert writes(seen) == [] and state(aws) == before  # the TLS statement waits too


def test_baseline_key_we_may_not_describe_fails_and_changes_nothing(aws, stack, run, monkeypatch):
    monkeypatch.setenv("SQS_ENCRYPTION_LEVEL", "SSE-KMS")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", cmk(aws))
    sample = prepare(aws, "CreateQueue")
    before = state(aws)
    denied = FailingAws(aws, "describe_key", "AccessDeniedException", service="kms")

    [outcome] = run(sample, "enforce", aws_=denied)

    assert outcome.status is Status.FAILED and "AccessDeniedException" in outcome.reason
    assert state(aws) == before


def test_access_denied_on_write_fails_loudly_and_changes_nothing(aws, stack, run):
    sample = prepare(aws, "CreateQueue")
    before = state(aws)
    denied = FailingAws(aws, "set_queue_attributes", "AccessDenied", service="sqs")

    [outcome] = run(sample, "enforce", aws_=denied)

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("AccessDenied while applying")
    assert state(aws) == before
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "FAILED"


def test_queue_deleted_in_between_is_skipped_with_the_reason(aws, stack, run):
    sample = prepare(aws, "CreateQueue")
    aws("sqs").delete_queue(QueueUrl=URL)

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (AWS.SimpleQueueService.NonExistentQueue)" in outcome.reason


def test_failed_calls_are_skipped_quietly(aws, stack, run):
    sample = prepare(aws, "SetQueueAttributes-failed-call")  # unencrypted: only the errorCode
    before = state(aws)  # stops us

    with api_calls(aws, "sqs", "kms") as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert writes(seen) == [] and state(aws) == before
    assert inbox(aws, stack) == []


def test_the_echo_of_our_own_fix_is_re_checked_and_quiet(aws, stack, run):
    sample = prepare(aws, "SetQueueAttributes-own-action")
    assert run(event("SetQueueAttributes"), "enforce")[0].status is Status.REMEDIATED
    inbox(aws, stack)  # the fix's own notification
    before = state(aws)

    with api_calls(aws, "sqs", "kms") as seen:
        [outcome] = run(sample, "enforce")  # its echo

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert writes(seen) == [] and state(aws) == before
    assert inbox(aws, stack) == []


def test_ledger_holds_the_before_state_before_the_write(aws, stack, run):
    sample = prepare(aws, "CreateQueue")

    with ledger_before(aws, stack.table, "sqs", "SetQueueAttributes") as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.REMEDIATED
    first = seen[0]  # before the first write
    assert first["status"] == "APPLYING"
    assert [c["before"] for c in first["changes"]] == [
        {"SqsManagedSseEnabled": "false", "KmsMasterKeyId": ""},
        None,
    ]


def test_exempt_by_tag_changes_nothing(aws, stack, run):
    sample = prepare(aws, "CreateQueue")
    aws("sqs").tag_queue(QueueUrl=URL, Tags={"autoremediate:exempt": "load test INC-9"})
    approve(aws, stack, ARN, "load test INC-9")
    before = state(aws)

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.EXEMPT and "load test INC-9" in outcome.reason
    assert state(aws) == before


def test_invalid_level_fails_instead_of_guessing(aws, stack, run, monkeypatch):
    monkeypatch.setenv("SQS_ENCRYPTION_LEVEL", "SSE-S3")
    sample = prepare(aws, "CreateQueue")

    [outcome] = run(sample, "enforce")  # one FAILED outcome: a retry cannot fix configuration

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("configuration error: SQS_ENCRYPTION_LEVEL must be one of")
    assert state(aws) == {"SqsManagedSseEnabled": "false"}


@pytest.mark.parametrize("name", TRIGGERS)
def test_every_call_is_a_declared_action(aws, stack, run, monkeypatch, name):
    monkeypatch.setenv("SQS_ENCRYPTION_LEVEL", "SSE-KMS")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", cmk(aws))
    sample = prepare(aws, name)

    with api_calls(aws, "sqs", "kms") as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.REMEDIATED
    # The stack's inbox queue is drained by tests only; the runner itself never calls SQS.
    assert set(seen) - set(writes(seen)) <= set(REMEDIATOR.read_actions)
    assert set(writes(seen)) == {c.call.action for c in outcome.changes if c.call}


def test_handler_runs_what_lambda_runs(aws, stack, monkeypatch):
    import sqs_queue_encryption as module

    for key, value in {**stack.env("enforce"), "OWN_ROLE_ARNS": OWN_ROLE_ARN}.items():
        monkeypatch.setenv(key, value)
    sample = prepare(aws, "CreateQueue")

    [result] = module.handler(sample, None)

    assert (result["status"], result["resource"]) == ("REMEDIATED", ARN)
    assert state(aws)["SqsManagedSseEnabled"] == "true"


# ------------------------------------------------- real records (tests/fixtures, with provenance)

REAL_TARGETS = {
    "CreateQueue/1.json": Queue("MyQueue", "123456789012"),
    "CreateQueue/2.json": Queue("hello1", "123456789012"),
    "SetQueueAttributes/2.json": Queue("MyQueue", "123456789012"),
    "SetQueueAttributes/3.json": Queue("hello1", "123456789012"),
    "SetQueueAttributes/4.json": Queue("tmp", "123456789123"),
}


@pytest.mark.parametrize("name", sorted(REAL_TARGETS))
def test_real_records_name_the_queue(name):
    from core.event import parse
    from tests.contract.test_template import envelope

    record = json.loads((FIXTURES / "cloudtrail" / "sqs.amazonaws.com" / name).read_text())
    assert REMEDIATOR.targets(parse(envelope(record))) == [REAL_TARGETS[name]]


def test_real_record_without_a_queue_url_is_skipped_as_malformed(aws, stack, run):
    from tests.contract.test_template import envelope

    path = FIXTURES / "cloudtrail" / "sqs.amazonaws.com" / "SetQueueAttributes" / "1.json"
    [outcome] = run(envelope(json.loads(path.read_text())), "enforce")
    assert outcome.status is Status.SKIPPED
    assert outcome.reason == "malformed event: event lacks queueUrl"


def test_real_config_event_names_the_queue():
    from core.event import parse

    path = FIXTURES / "config" / "eventbridge" / "AWS_SQS_Queue" / "1.json"
    targets = REMEDIATOR.targets(parse(json.loads(path.read_text())))
    assert targets == [Queue("config-changes", "662108712480")]


# ------------------------------------------- queues AWS services send to (never break them)


def sent_by(principal: Any, tls: bool = False) -> str:
    statement = {"Sid": "Senders", "Effect": "Allow", "Principal": principal,
                 "Action": "sqs:SendMessage", "Resource": ARN}  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": [statement, *([TLS_DENY] * tls)]})


SERVICE_SENDERS = {
    "cloudwatch": ({"Service": "cloudwatch.amazonaws.com"}, "cloudwatch.amazonaws.com"),
    "events-list": (
        {"Service": ["sns.amazonaws.com", "events.amazonaws.com"]},
        "events.amazonaws.com, sns.amazonaws.com",
    ),
}


def manual_reason(names: str) -> str:
    """Each service is named with the statement that allows it: Sid 'Senders' (sent_by())."""
    named = ", ".join(f"{name} (Sid 'Senders')" for name in names.split(", "))
    return (
        f"queue is sent to by {named}: the AWS-managed key alias/aws/sqs would stop their"
        f" deliveries; set EncryptionKmsKeyArn to a customer-managed key whose key policy allows"
        f" {names} (kms:GenerateDataKey*, kms:Decrypt), or exempt the queue; a statement your"
        " team did not write keeps the queue unencrypted: remove it"
    )


@pytest.mark.parametrize("sender", sorted(SERVICE_SENDERS))
def test_aws_managed_key_is_not_written_to_a_queue_aws_services_send_to(
    aws, stack, run, monkeypatch, sender
):
    monkeypatch.setenv("SQS_ENCRYPTION_LEVEL", "SSE-KMS")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", "")
    principal, names = SERVICE_SENDERS[sender]
    aws("sqs").create_queue(QueueName="orders", Attributes={"Policy": sent_by(principal, True)})
    before = state(aws)

    with api_calls(aws, "sqs", "kms") as seen:
        [outcome] = run(event("Config-Queue"), "enforce")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    [change] = outcome.changes
    assert change.call is None and change.undo == ()
    assert change.summary == manual_reason(names)
    assert writes(seen) == [] and state(aws) == before
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"
    [noted] = note["body"]["changes"]
    assert noted["manual"] is True and noted["summary"] == manual_reason(names)


def test_without_a_tls_deny_the_tls_change_is_made_and_the_manual_one_reported(
    aws, stack, run, monkeypatch
):
    """What can be fixed is fixed (the TLS statement, verified and undoable); the at-rest gap
    stays WOULD_REMEDIATE with its manual reason, and no key is written."""
    monkeypatch.setenv("SQS_ENCRYPTION_LEVEL", "SSE-KMS")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", "")
    aws("sqs").create_queue(
        QueueName="orders", Attributes={"Policy": sent_by({"Service": "s3.amazonaws.com"})}
    )
    before = state(aws)

    with api_calls(aws, "sqs", "kms") as seen:
        [outcome] = run(event("Config-Queue"), "enforce")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.reason == "1 change(s) made and verified; manual steps still needed"
    tls, at_rest = outcome.changes
    assert at_rest.call is None and at_rest.summary == manual_reason("s3.amazonaws.com")
    assert tls.call is not None and tls.after["Statement"][-1]["Sid"] == TLS_SID
    assert writes(seen) == ["sqs:SetQueueAttributes"]
    after = state(aws)
    assert "KmsMasterKeyId" not in after or not after["KmsMasterKeyId"]
    assert statements(aws)[-1]["Sid"] == TLS_SID
    [note] = inbox(aws, stack)
    assert note["body"]["undo"].startswith(f"autoremediate undo {outcome.outcome_id} --table")

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state(aws) == before


def test_sse_sqs_level_still_encrypts_a_queue_aws_services_send_to(aws, stack, run):
    """SSE-SQS works with service senders: applied as usual, with the TLS statement."""
    principal = {"Service": "events.amazonaws.com"}
    aws("sqs").create_queue(
        QueueName="orders",
        Attributes={"Policy": sent_by(principal), "SqsManagedSseEnabled": "false"},
    )

    [outcome] = run(event("Config-Queue"), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert state(aws)["SqsManagedSseEnabled"] == "true"
    assert [s["Sid"] for s in statements(aws)] == ["Senders", TLS_SID]


def test_a_configured_cmk_is_written_to_a_queue_aws_services_send_to(aws, stack, run, monkeypatch):
    """The team owning the CMK lets the services use it (README): we encrypt as usual."""
    key = cmk(aws)
    monkeypatch.setenv("SQS_ENCRYPTION_LEVEL", "SSE-KMS")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", key)
    principal = {"Service": "cloudwatch.amazonaws.com"}
    aws("sqs").create_queue(QueueName="orders", Attributes={"Policy": sent_by(principal)})

    with api_calls(aws, "sqs", "kms") as seen:
        [outcome] = run(event("Config-Queue"), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert writes(seen) == ["sqs:SetQueueAttributes"] * 2  # at rest, then the TLS statement
    assert state(aws)["KmsMasterKeyId"] == key
    assert [s["Sid"] for s in statements(aws)] == ["Senders", TLS_SID]


@pytest.mark.parametrize("principal", [{"AWS": "arn:aws:iam::123456789012:role/billing"}, "*"])
def test_a_queue_only_accounts_send_to_gets_the_aws_managed_key(
    aws, stack, run, monkeypatch, principal
):
    monkeypatch.setenv("SQS_ENCRYPTION_LEVEL", "SSE-KMS")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", "")
    aws("sqs").create_queue(QueueName="orders", Attributes={"Policy": sent_by(principal)})

    [outcome] = run(event("Config-Queue"), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert state(aws)["KmsMasterKeyId"] == "alias/aws/sqs"
    assert [s["Sid"] for s in statements(aws)] == ["Senders", TLS_SID]
