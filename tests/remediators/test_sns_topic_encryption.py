"""The SNS topic encryption remediator in a moto account: each trigger, each mode, before/after."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autoremediate_cli.undo import undo
from core.ledger import Ledger
from core.outcome import Outcome, Status
from sns_topic_encryption import REMEDIATOR
from tests.remediators.approvals import approve
from tests.remediators.calls import api_calls, ledger_before
from tests.remediators.faults import FailingAws
from tools.scenario import inbox, load_event, replay

MODULE = "sns_topic_encryption"
TOPIC = "arn:aws:sns:us-east-1:123456789012:billing-events"
OWN_ROLE_ARN = (
    "arn:aws:iam::123456789012:role/autoremediate/autoremediate-SnsTopicEncryptionRole-1A2B3C4D5E6F"
)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRIGGERS = ["CreateTopic", "SetTopicAttributes", "Config-Topic"]

Run = Callable[..., list[Outcome]]


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    """As tests/remediators/conftest.py's `run`, with this remediator and its own role."""
    return make_run(REMEDIATOR, own_role=OWN_ROLE_ARN)


def event(name: str) -> dict[str, Any]:
    return load_event(name, MODULE)


def prepare(aws: Any, name: str) -> dict[str, Any]:
    """An unencrypted topic `billing-events`, as the sample event `name` leaves it."""
    if name == "CreateTopic":
        replay(aws, event(name))
    elif name.startswith("SetTopicAttributes"):  # encrypted, then someone removed the key
        aws("sns").create_topic(
            Name="billing-events", Attributes={"KmsMasterKeyId": "alias/aws/sns"}
        )
        replay(aws, event("SetTopicAttributes"))
    else:
        aws("sns").create_topic(Name="billing-events")
    return event(name)


def key_of(aws: Any, arn: str = TOPIC) -> str | None:
    value: str | None = (
        aws("sns").get_topic_attributes(TopicArn=arn)["Attributes"].get("KmsMasterKeyId")
    )
    return value


def writes(seen: list[str]) -> list[str]:
    return [a for a in seen if a in REMEDIATOR.write_actions]


def cmk(aws: Any, enabled: bool = True) -> str:
    key = aws("kms").create_key(Description="baseline")["KeyMetadata"]
    if not enabled:
        aws("kms").disable_key(KeyId=key["KeyId"])
    return str(key["Arn"])


@pytest.mark.parametrize("name", TRIGGERS)
def test_report_mode_reports_and_changes_nothing(aws, stack, run, name):
    sample = prepare(aws, name)

    with api_calls(aws, "sns", "kms") as seen:
        [outcome] = run(sample, "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == TOPIC
    [change] = outcome.changes
    assert change.after == {"KmsMasterKeyId": "alias/aws/sns"}
    assert writes(seen) == []
    assert key_of(aws) is None
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"


@pytest.mark.parametrize("name", TRIGGERS)
def test_enforce_mode_encrypts_with_the_aws_managed_key_and_can_be_undone(aws, stack, run, name):
    sample = prepare(aws, name)

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert key_of(aws) == "alias/aws/sns"
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "REMEDIATED"
    [echo] = run(sample, "enforce")  # our fix echoing back finds the topic compliant
    assert echo.status is Status.COMPLIANT and echo.quiet
    assert inbox(aws, stack) == []

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert key_of(aws) is None
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "UNDONE"


def test_baseline_cmk_is_used_once_kms_says_it_is_enabled(aws, stack, run, monkeypatch):
    key = cmk(aws)
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", key)
    sample = prepare(aws, "CreateTopic")

    with api_calls(aws, "sns", "kms") as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert key_of(aws) == key
    assert "kms:DescribeKey" in seen
    assert writes(seen) == ["sns:SetTopicAttributes"]


@pytest.mark.parametrize("existing", ["alias/aws/sns", "team-cmk"])
@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_any_key_already_set_is_compliant_and_untouched(
    aws, stack, run, monkeypatch, existing, mode
):
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", cmk(aws))  # the baseline asks for another key
    key = cmk(aws) if existing == "team-cmk" else existing
    aws("sns").create_topic(Name="billing-events", Attributes={"KmsMasterKeyId": key})

    with api_calls(aws, "sns", "kms") as seen:
        [outcome] = run(event("Config-Topic"), mode)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert writes(seen) == [] and "kms:DescribeKey" not in seen
    assert key_of(aws) == key
    assert inbox(aws, stack) == []


def test_disabled_baseline_key_fails_loudly_and_changes_nothing(aws, stack, run, monkeypatch):
    key = cmk(aws, enabled=False)
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", key)
    sample = prepare(aws, "SetTopicAttributes")

    with api_calls(aws, "sns", "kms") as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("KMSKeyUnusable while reading the resource")
    assert f"baseline KMS key {key} is Disabled; nothing was changed" in outcome.reason
    assert writes(seen) == []
    assert key_of(aws) is None
    assert inbox(aws, stack)[0]["attributes"]["status"] == "FAILED"


def test_baseline_key_we_may_not_describe_fails_and_changes_nothing(aws, stack, run, monkeypatch):
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", cmk(aws))
    sample = prepare(aws, "CreateTopic")
    denied = FailingAws(aws, "describe_key", "AccessDeniedException", service="kms")

    [outcome] = run(sample, "enforce", aws_=denied)

    assert outcome.status is Status.FAILED
    assert "KMSKeyUnusable" in outcome.reason and "AccessDeniedException" in outcome.reason
    assert key_of(aws) is None


def test_access_denied_on_write_fails_loudly_and_changes_nothing(aws, stack, run):
    sample = prepare(aws, "CreateTopic")
    denied = FailingAws(aws, "set_topic_attributes", "AuthorizationError", service="sns")

    [outcome] = run(sample, "enforce", aws_=denied)

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("AuthorizationError while applying")
    assert key_of(aws) is None
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "FAILED"


def test_topic_deleted_in_between_is_skipped_with_the_reason(aws, stack, run):
    sample = prepare(aws, "CreateTopic")
    aws("sns").delete_topic(TopicArn=TOPIC)

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (NotFound)" in outcome.reason


def test_failed_calls_are_skipped_quietly(aws, stack, run):
    sample = prepare(aws, "SetTopicAttributes-failed-call")  # unencrypted: only the errorCode
    # stops us
    with api_calls(aws, "sns", "kms") as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert writes(seen) == [] and key_of(aws) is None
    assert inbox(aws, stack) == []


def test_the_echo_of_our_own_fix_is_re_checked_and_quiet(aws, stack, run):
    sample = prepare(aws, "SetTopicAttributes-own-action")
    replay(aws, sample)  # our fix, as the event records it: the AWS-managed key

    with api_calls(aws, "sns", "kms") as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert writes(seen) == [] and key_of(aws) == "alias/aws/sns"
    assert inbox(aws, stack) == []


def test_ledger_holds_the_before_state_before_the_write(aws, stack, run):
    sample = prepare(aws, "CreateTopic")

    with ledger_before(aws, stack.table, "sns", "SetTopicAttributes") as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.REMEDIATED
    [entry] = seen
    assert entry["status"] == "APPLYING"
    [change] = entry["changes"]
    assert change["before"] == {"KmsMasterKeyId": ""}
    assert change["undo"][0]["params"]["AttributeValue"] == ""


def test_exempt_by_tag_changes_nothing(aws, stack, run):
    sample = prepare(aws, "CreateTopic")
    aws("sns").tag_resource(
        ResourceArn=TOPIC, Tags=[{"Key": "autoremediate:exempt", "Value": "legacy INC-7"}]
    )
    approve(aws, stack, TOPIC, "legacy INC-7")

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.EXEMPT and "legacy INC-7" in outcome.reason
    assert key_of(aws) is None


@pytest.mark.parametrize("name", TRIGGERS)
def test_every_call_is_a_declared_action(aws, stack, run, monkeypatch, name):
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", cmk(aws))
    sample = prepare(aws, name)

    with api_calls(aws, "sns", "kms") as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.REMEDIATED
    mine = [a for a in seen if a != "sns:Publish"]  # the runner's notification
    assert set(mine) - set(writes(mine)) <= set(REMEDIATOR.read_actions)
    assert set(writes(mine)) == {c.call.action for c in outcome.changes if c.call}


def test_handler_runs_what_lambda_runs(aws, stack, monkeypatch):
    import sns_topic_encryption as module

    for key, value in {**stack.env("enforce"), "OWN_ROLE_ARNS": OWN_ROLE_ARN}.items():
        monkeypatch.setenv(key, value)
    sample = prepare(aws, "CreateTopic")

    [result] = module.handler(sample, None)

    assert (result["status"], result["resource"]) == ("REMEDIATED", TOPIC)
    assert key_of(aws) == "alias/aws/sns"


# ------------------------------------------------- real records (tests/fixtures, with provenance)


@pytest.mark.parametrize(
    "path", sorted((FIXTURES / "cloudtrail" / "sns.amazonaws.com").glob("*/*.json")), ids=str
)
def test_real_records_name_the_topic(path):
    from core.event import parse
    from tests.contract.test_template import envelope

    record = json.loads(path.read_text())
    [target] = REMEDIATOR.targets(parse(envelope(record)))
    expected = record["responseElements"]["topicArn"] if record["eventName"] == "CreateTopic" else (
        record["requestParameters"]["topicArn"]
    )  # fmt: skip
    assert target == expected


def test_real_config_item_names_the_topic():
    from core.event import parse

    item = json.loads((FIXTURES / "config" / "item" / "AWS_SNS_Topic" / "1.json").read_text())
    sample = {**event("Config-Topic"), "detail": {"configurationItem": item}}
    assert REMEDIATOR.targets(parse(sample)) == ["arn:aws:sns:us-east-1:123456789012:topic"]


def test_a_policy_change_on_an_unencrypted_topic_is_reported_too(aws, stack, run):
    """Real SetTopicAttributes records change the Policy: the live topic still decides."""
    record = json.loads(
        (
            FIXTURES / "cloudtrail" / "sns.amazonaws.com" / "SetTopicAttributes" / "2.json"
        ).read_text()
    )
    aws("sns").create_topic(Name="billing-events")
    sample = event("SetTopicAttributes")
    sample["detail"]["requestParameters"] = {**record["requestParameters"], "topicArn": TOPIC}

    [outcome] = run(sample, "report")

    assert outcome.status is Status.WOULD_REMEDIATE


# ------------------------------------------- topics AWS services publish to (never break them)


def policy(principal: Any) -> str:
    statement = {"Sid": "Publishers", "Effect": "Allow", "Principal": principal,
                 "Action": "sns:Publish", "Resource": TOPIC}  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


SERVICE_PUBLISHERS = {  # principal, the services, each named with its statement (policy())
    "cloudwatch": (
        {"Service": "cloudwatch.amazonaws.com"},
        "cloudwatch.amazonaws.com",
        "cloudwatch.amazonaws.com (Sid 'Publishers')",
    ),
    "events-list": (
        {"Service": ["events.amazonaws.com", "s3.amazonaws.com"], "AWS": "123456789012"},
        "events.amazonaws.com, s3.amazonaws.com",
        "events.amazonaws.com (Sid 'Publishers'), s3.amazonaws.com (Sid 'Publishers')",
    ),
}


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize("publisher", sorted(SERVICE_PUBLISHERS))
def test_aws_managed_key_is_not_written_to_a_topic_aws_services_publish_to(
    aws, stack, run, mode, publisher
):
    principal, names, named = SERVICE_PUBLISHERS[publisher]
    aws("sns").create_topic(Name="billing-events", Attributes={"Policy": policy(principal)})

    with api_calls(aws, "sns", "kms") as seen:
        [outcome] = run(event("Config-Topic"), mode)

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    [change] = outcome.changes
    assert change.call is None and change.undo == ()
    assert change.summary == (
        f"topic is published to by {named}: the AWS-managed key alias/aws/sns would stop their"
        f" deliveries; set EncryptionKmsKeyArn to a customer-managed key whose key policy allows"
        f" {names} (kms:GenerateDataKey*, kms:Decrypt), or exempt the topic; a statement your"
        " team did not write keeps the topic unencrypted: remove it"
    )
    assert writes(seen) == []
    assert key_of(aws) is None
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"
    [noted] = note["body"]["changes"]
    assert noted["manual"] is True and noted["summary"] == change.summary


def test_a_configured_cmk_is_written_to_a_topic_aws_services_publish_to(
    aws, stack, run, monkeypatch
):
    """The team owning the CMK lets the services use it (README): we encrypt as usual."""
    key = cmk(aws)
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", key)
    principal = {"Service": "cloudwatch.amazonaws.com"}
    aws("sns").create_topic(Name="billing-events", Attributes={"Policy": policy(principal)})

    with api_calls(aws, "sns", "kms") as seen:
        [outcome] = run(event("Config-Topic"), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert writes(seen) == ["sns:SetTopicAttributes"]
    assert key_of(aws) == key


@pytest.mark.parametrize(
    "principal", [{"AWS": "arn:aws:iam::123456789012:root"}, {"AWS": ["111122223333"]}, "*"]
)
def test_a_topic_only_accounts_publish_to_gets_the_aws_managed_key(aws, stack, run, principal):
    aws("sns").create_topic(Name="billing-events", Attributes={"Policy": policy(principal)})

    [outcome] = run(event("Config-Topic"), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert key_of(aws) == "alias/aws/sns"


def test_a_service_named_only_in_a_deny_does_not_hold_the_key_back(aws, stack, run):
    deny = {"Effect": "Deny", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish", "Resource": TOPIC}  # fmt: skip
    document = json.dumps({"Version": "2012-10-17", "Statement": deny})  # one statement, no list
    aws("sns").create_topic(Name="billing-events", Attributes={"Policy": document})

    [outcome] = run(event("Config-Topic"), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert key_of(aws) == "alias/aws/sns"


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_a_planted_service_statement_is_named_with_its_sid(aws, stack, run, mode):
    """Issue 7: a `Service` statement planted on a topic keeps it unencrypted in every mode, so
    the notification names each service and the statement that allows it, to make it stand out."""
    statements = [
        {"Sid": "Alarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
         "Action": "sns:Publish", "Resource": TOPIC},
        {"Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com"]},
         "Action": "sns:Publish", "Resource": TOPIC},
        {"Sid": "Planted", "Effect": "Allow",
         "Principal": {"Service": ["events.amazonaws.com", "s3.amazonaws.com"]},
         "Action": "sns:Publish", "Resource": TOPIC},
    ]  # fmt: skip
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    aws("sns").create_topic(Name="billing-events", Attributes={"Policy": document})

    [outcome] = run(event("Config-Topic"), mode)

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    [change] = outcome.changes
    assert change.summary.startswith(
        "topic is published to by cloudwatch.amazonaws.com (Sid 'Alarms'),"
        " events.amazonaws.com (no Sid, statement #2; Sid 'Planted'),"
        " s3.amazonaws.com (Sid 'Planted'): the AWS-managed key alias/aws/sns"
    )
    assert key_of(aws) is None
    [note] = inbox(aws, stack)
    assert "Sid 'Planted'" in note["body"]["changes"][0]["summary"]
