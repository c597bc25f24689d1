"""core.notify: an SNS-safe subject, a JSON body equal to the report, filterable attributes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.notify import Notifier, subject

TOPIC = "arn:aws:sns:us-east-1:123456789012:autoremediate-Topic-1ABC"
OUTCOME = "20261124T120000Z-0123456789ab"


def report(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "outcome_id": "20261124T120000Z-0123456789ab",
        "remediator": "iam_policy_least_privilege",
        "status": "REMEDIATED",
        "mode": "enforce",
        "severity": "HIGH",
        "account": "123456789012",
        "region": "us-east-1",
        "resource_arn": "arn:aws:iam::123456789012:role/app-deploy-role",
        "reason": "verified",
        "error_code": "",
        "actor": {
            "arn": "arn:aws:sts::123456789012:assumed-role/DeveloperRole/alice",
            "source_ip": "203.0.113.10",
        },
        "trigger": {"event_name": "PutRolePolicy", "event_id": "117b86a0"},
        "changes": [
            {
                "summary": "inline policy deploy-wildcard: removed Sid Admin",
                "before": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                "after": None,
                "undo": [{"service": "iam", "operation": "put_role_policy", "params": {}}],
            }
        ],
        "time": "2026-11-24T12:00:00+00:00",
        "undo": "autoremediate undo 20261124T120000Z-0123456789ab --table autoremediate-Ledger",
    }
    base.update(overrides)
    return base


# --- subject ----------------------------------------------------------------------------------


def test_subject_reads_well() -> None:
    assert subject(report()) == (
        "[REMEDIATED] iam_policy_least_privilege: role/app-deploy-role (by alice)"
    )


def test_subject_without_actor_or_resource() -> None:
    text = subject(report(actor={}, resource_arn=""))
    assert text == "[REMEDIATED] iam_policy_least_privilege: unknown resource"
    assert subject(report(actor=None)).endswith("role/app-deploy-role")


def test_subject_keeps_colons_inside_the_resource_part() -> None:
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x:*"
    assert ": log-group:/aws/lambda/x:* " in subject(report(resource_arn=arn))


def test_subject_of_a_non_arn_resource() -> None:
    assert "app-deploy-role (by" in subject(report(resource_arn="app-deploy-role"))


def test_subject_with_an_aws_service_actor() -> None:
    assert subject(report(actor={"arn": "config.amazonaws.com"})).endswith(
        "(by config.amazonaws.com)"
    )


# SNS: "Subjects must be ... less than 100 characters long."


def test_long_subject_is_cut_to_99_with_an_ellipsis() -> None:
    arn = "arn:aws:iam::123456789012:role/" + "p/" * 60 + "deep-role"
    text = subject(report(resource_arn=arn))
    assert len(text) == 99
    assert text.endswith("/p/...")
    assert text.startswith("[REMEDIATED] iam_policy_least_privilege: role/p/p/")


def test_subject_of_exactly_99_characters_is_kept_whole() -> None:
    prefix = "[REMEDIATED] iam_policy_least_privilege: "
    resource = "x" * (99 - len(prefix))
    text = subject(report(resource_arn=resource, actor={}))
    assert len(text) == 99 and text == prefix + resource


def test_subject_of_100_characters_is_cut() -> None:
    prefix = "[REMEDIATED] iam_policy_least_privilege: "
    resource = "x" * (100 - len(prefix))
    text = subject(report(resource_arn=resource, actor={}))
    assert text == (prefix + resource)[:96] + "..."
    assert len(text) == 99


def test_line_breaks_and_unicode_become_question_marks() -> None:
    text = subject(report(resource_arn="role/ä\nb\tc\x7f", actor={"arn": "user/zoë\r"}))
    assert text == "[REMEDIATED] iam_policy_least_privilege: role/??b?c? (by zo??)"


ANY_TEXT = st.text(max_size=300)
STATUSES = st.sampled_from(
    ["COMPLIANT", "WOULD_REMEDIATE", "REMEDIATED", "FAILED", "SKIPPED", "EXEMPT"]
)


@given(
    STATUSES,
    ANY_TEXT,
    ANY_TEXT | st.none(),
    st.none() | st.fixed_dictionaries({}, optional={"arn": ANY_TEXT}),
)
def test_subject_is_always_sns_safe(
    status: str, resource: str, actor_arn: str | None, actor: dict[str, Any] | None
) -> None:
    if actor is not None and actor_arn is not None:
        actor = {**actor, "arn": actor_arn}
    text = subject(report(status=status, resource_arn=resource, actor=actor))
    assert 0 < len(text) < 100
    assert all(32 <= ord(c) <= 126 for c in text), text
    assert text.startswith(f"[{status}] iam_policy_least_privilege: ")


@given(st.text(min_size=1, max_size=60), STATUSES)
def test_subject_names_status_and_remediator_even_when_both_are_odd(
    remediator: str, status: str
) -> None:
    text = subject(report(remediator=remediator, status=status, resource_arn="r"))
    assert all(32 <= ord(c) <= 126 for c in text)
    ascii_name = "".join(c if 32 <= ord(c) < 127 else "?" for c in remediator)
    assert text.startswith(f"[{status}] {ascii_name}"[:96])


# --- Notifier.publish -------------------------------------------------------------------------


class FakeSns:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"MessageId": f"msg-{len(self.calls)}", "ResponseMetadata": {}}


class FakeClients:
    def __init__(self) -> None:
        self.sns = FakeSns()
        self.asked: list[str] = []

    def __call__(self, service: str) -> Any:
        self.asked.append(service)
        return self.sns


def test_publish_sends_subject_json_body_and_string_attributes() -> None:
    clients = FakeClients()
    body = report()
    message_id = Notifier(clients, TOPIC).publish(body)

    assert message_id == "msg-1"
    assert clients.asked == ["sns"]
    [call] = clients.sns.calls
    assert set(call) == {"TopicArn", "Subject", "Message", "MessageAttributes"}
    assert call["TopicArn"] == TOPIC
    assert call["Subject"] == subject(body)
    assert json.loads(call["Message"]) == body
    assert call["MessageAttributes"] == {
        "remediator": {"DataType": "String", "StringValue": "iam_policy_least_privilege"},
        "status": {"DataType": "String", "StringValue": "REMEDIATED"},
        "mode": {"DataType": "String", "StringValue": "enforce"},
        "severity": {"DataType": "String", "StringValue": "HIGH"},
    }


def test_publish_serialises_what_json_cannot() -> None:
    from datetime import UTC, datetime

    from core.outcome import Status

    created = datetime(2025, 3, 14, 9, 12, 3, tzinfo=UTC)
    clients = FakeClients()
    Notifier(clients, TOPIC).publish(
        report(status=Status.FAILED, changes=[{"before": {"CreateDate": created}}])
    )
    [call] = clients.sns.calls
    body = json.loads(call["Message"])
    assert body["status"] == "FAILED"
    assert body["changes"][0]["before"]["CreateDate"] == str(created)
    assert call["MessageAttributes"]["status"]["StringValue"] == "FAILED"


def test_publish_uses_the_clients_lazily() -> None:
    clients = FakeClients()
    Notifier(clients, TOPIC)
    assert clients.asked == []


@pytest.mark.parametrize("missing", ["remediator", "status", "mode", "severity"])
def test_publish_without_an_attribute_field_fails_before_sending(missing: str) -> None:
    clients = FakeClients()
    body = report()
    del body[missing]
    with pytest.raises(KeyError):
        Notifier(clients, TOPIC).publish(body)
    assert clients.sns.calls == []


def test_omit_documents_leaves_policy_documents_out_of_the_message() -> None:
    """Issue 7 item 9: whoever reads the topic learns what changed and where, not what the
    policies say (the ledger keeps the documents)."""
    clients = FakeClients()
    body = report()
    body["changes"][0]["call"] = {
        "service": "iam",
        "operation": "put_role_policy",
        "params": {"RoleName": "app-deploy-role", "PolicyDocument": '{"Secret": "document"}'},
    }
    body["changes"][0]["undo"][0]["params"] = {"PolicyDocument": '{"Secret": "document"}'}
    body["changes"][0]["undo_cli"] = ["aws iam put-role-policy --policy-document '{...}'"]
    Notifier(clients, TOPIC, omit_documents=True).publish(body)
    [call] = clients.sns.calls
    message = json.loads(call["Message"])
    [change] = message["changes"]
    assert "Secret" not in call["Message"] and '"Action": "*"' not in call["Message"]
    assert change["summary"] == body["changes"][0]["summary"]
    assert change["before"] == change["after"] == f"omitted: in the ledger, outcome {OUTCOME}"
    assert change["call"] == {"service": "iam", "operation": "put_role_policy"}
    assert change["undo"] == [{"service": "iam", "operation": "put_role_policy"}]
    assert message["undo"] == body["undo"]  # the way back is still named
    assert body["changes"][0]["before"] is not None  # the report itself is untouched


def test_documents_are_included_by_default() -> None:
    clients = FakeClients()
    Notifier(clients, TOPIC).publish(report())
    assert '"Action": "*"' in clients.sns.calls[0]["Message"]
