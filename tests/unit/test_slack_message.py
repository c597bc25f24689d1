"""slack_message: every status at a glance, Slack's limits held whatever the report holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.outcome import Status
from slack_message import (
    FIELD_TEXT,
    HEADER_TEXT,
    MAX_BLOCKS,
    SECTION_TEXT,
    STYLES,
    render,
    render_report,
)

UNDO = "python -m core.undo 20261124T120000Z-0123456789ab --table autoremediate-LedgerTable-X"


def report(**overrides: Any) -> dict[str, Any]:
    """A report as core.runner builds it (REMEDIATED by default)."""
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
            "type": "AssumedRole",
        },
        "trigger": {"event_name": "PutRolePolicy", "event_time": "2026-11-24T11:59:58Z"},
        "changes": [
            {
                "summary": "inline policy deploy: removed the wildcard actions",
                "resource": "arn:aws:iam::123456789012:role/app-deploy-role",
                "before": {"Statement": [{"Effect": "Allow", "Action": ["*", "s3:GetObject"]}]},
                "after": {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"]}]},
                "call": {"service": "iam", "operation": "put_role_policy", "params": {}},
                "manual": False,
                "undo": [],
                "undo_cli": [],
                "applied": True,
            }
        ],
        "time": "2026-11-24T12:00:00+00:00",
        "undo": UNDO,
    }
    base.update(overrides)
    return base


def texts(payload: dict[str, Any]) -> str:
    """Every text a reader sees, blocks and attachments."""
    return json.dumps(payload, ensure_ascii=False)


def all_blocks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = list(payload.get("blocks", []))
    for attachment in payload.get("attachments", []):
        blocks += attachment.get("blocks", [])
    return blocks


def assert_within_limits(payload: dict[str, Any]) -> None:
    assert 0 < len(payload["blocks"]) <= MAX_BLOCKS
    for attachment in payload.get("attachments", []):
        assert len(attachment["blocks"]) <= MAX_BLOCKS
    assert payload["text"]
    for block in all_blocks(payload):
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= HEADER_TEXT
        elif block["type"] == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= SECTION_TEXT
            assert len(block.get("fields", [])) <= 10
            for item in block.get("fields", []):
                assert len(item["text"]) <= FIELD_TEXT
        elif block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
        else:
            raise AssertionError(f"unexpected block {block['type']}")
        # mrkdwn text never carries a raw "<": no mention or link can be injected
        for item in [block.get("text", {}), *block.get("fields", []), *block.get("elements", [])]:
            if item.get("type") == "mrkdwn":
                assert "<" not in item["text"] and ">" not in item["text"], item["text"]


def header_text(payload: dict[str, Any]) -> str:
    return str(payload["blocks"][0]["text"]["text"])


def colour(payload: dict[str, Any]) -> str:
    return str(payload["attachments"][0]["color"])


@pytest.mark.parametrize("status", list(Status))
def test_every_status_renders_at_a_glance_within_limits(status: Status) -> None:
    payload = render(json.dumps(report(status=status.value)))
    assert_within_limits(payload)
    emoji, expected_colour = STYLES[status.value]
    assert header_text(payload) == f"{emoji} {status.value.replace('_', ' ')} · " + (
        "iam_policy_least_privilege"
    )
    assert colour(payload) == expected_colour
    seen = texts(payload)
    for needed in (
        "arn:aws:iam::123456789012:role/app-deploy-role",
        "123456789012 / us-east-1",
        "assumed-role/DeveloperRole/alice",
        "203.0.113.10",
        "enforce",
        "PutRolePolicy",
        UNDO,
        "20261124T120000Z-0123456789ab",
    ):
        assert needed in seen, needed
    assert payload["text"].startswith(f"[{status.value}] iam_policy_least_privilege")


def test_statuses_look_different() -> None:
    looks = {(STYLES[s.value]) for s in Status}
    assert len({emoji for emoji, _ in looks}) == len(Status)


def test_the_change_reads_as_before_and_after() -> None:
    payload = render_report(report())
    [change] = [b for b in payload["blocks"] if "*Change*" in b.get("text", {}).get("text", "")]
    text = change["text"]["text"]
    assert "inline policy deploy: removed the wildcard actions" in text
    assert '-        "*",' in text  # the line that went, in a unified diff
    assert "```" in text


def test_short_values_read_inline() -> None:
    change = {"summary": "SSE", "before": "AES256", "after": "aws:kms", "manual": False}
    payload = render_report(report(changes=[change]))
    assert "`AES256` → `aws:kms`" in texts(payload)


def test_undo_is_the_reports_exact_command() -> None:
    payload = render_report(report())
    [undo] = [b for b in payload["blocks"] if "*Undo*" in b.get("text", {}).get("text", "")]
    assert f"```\n{UNDO}\n```" in undo["text"]["text"]
    assert "*Undo*" not in texts(render_report(report(undo=None, status="WOULD_REMEDIATE")))


def test_failed_stands_out_first_with_its_error() -> None:
    payload = render_report(
        report(status="FAILED", error_code="AccessDenied", reason="iam:PutRolePolicy denied")
    )
    second = payload["blocks"][1]["text"]["text"]
    assert second.startswith(":rotating_light: *FAILED* `AccessDenied`: iam:PutRolePolicy denied")


def test_a_conflict_stands_out_whatever_its_status() -> None:
    reason = "conflict: remediated 4 times in 10 minutes; stack app-pipeline changes it back"
    payload = render_report(report(status="WOULD_REMEDIATE", severity="HIGH", reason=reason))
    assert header_text(payload).startswith(":crossed_swords: WOULD REMEDIATE")
    assert colour(payload) == STYLES["CONFLICT"][1]
    assert payload["blocks"][1]["text"]["text"].startswith(":crossed_swords: *Conflict*: ")
    assert "stack app-pipeline" in payload["blocks"][1]["text"]["text"]
    # a status that says so counts too
    assert header_text(render_report(report(status="CONFLICT"))).startswith(":crossed_swords:")
    assert not header_text(render_report(report())).startswith(":crossed_swords:")


def test_manual_steps_stand_out() -> None:
    manual = {
        "summary": "cannot encrypt in place: 1. snapshot; 2. copy encrypted; 3. restore",
        "before": {"StorageEncrypted": False},
        "after": {"StorageEncrypted": True},
        "call": None,
        "manual": True,
    }
    payload = render_report(report(status="WOULD_REMEDIATE", changes=[manual], undo=None))
    standout = payload["blocks"][1]["text"]["text"]
    assert standout.startswith(":raised_hand: *Manual steps needed*")
    assert "1. snapshot; 2. copy encrypted; 3. restore" in standout
    assert "(manual)" in texts(payload)


def test_injected_mentions_and_links_are_escaped() -> None:
    nasty = "<!channel> <https://evil.example|click> & co"
    payload = render_report(
        report(reason=nasty, status="SKIPPED", changes=[{"summary": nasty, "before": nasty}])
    )
    assert_within_limits(payload)
    assert "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co" in texts(payload)


def test_omitted_documents_say_where_they_are() -> None:
    where = "omitted: in the ledger, outcome 20261124T120000Z-0123456789ab"
    change = {"summary": "s", "before": where, "after": where, "manual": False}
    payload = render_report(report(changes=[change]))
    assert "omitted: in the ledger" in texts(payload)


def test_a_malformed_report_still_renders() -> None:
    payload = render(json.dumps({"status": "FAILED", "remediator": "x", "changes": "oops"}))
    assert_within_limits(payload)
    assert header_text(payload).startswith(":rotating_light: FAILED")
    assert "unknown" in texts(payload)


def test_alarms_render() -> None:
    alarm = {
        "AlarmName": "autoremediate-RemediationDeadLetterQueueAlarm-1ABC",
        "AlarmDescription": "An autoremediate event failed every attempt and is in the DLQ.",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [1.0] was greater than 0.0",
        "AWSAccountId": "123456789012",
        "Region": "US East (N. Virginia)",
    }
    payload = render(json.dumps(alarm), "ALARM: dlq")
    assert_within_limits(payload)
    assert header_text(payload).startswith(":rotating_light: ALARM · autoremediate-Remediation")
    assert "Threshold Crossed" in texts(payload)


def test_any_other_message_renders_as_text() -> None:
    payload = render("plain words & <b>", "Hello")
    assert_within_limits(payload)
    assert header_text(payload) == ":speech_balloon: Hello"
    assert "plain words &amp; &lt;b&gt;" in texts(payload)
    assert_within_limits(render("x" * 100_000, "s" * 500))


def test_many_changes_fit_and_say_how_many_more() -> None:
    change = report()["changes"][0]
    payload = render_report(report(changes=[change] * 120))
    assert_within_limits(payload)
    assert len(payload["blocks"]) == MAX_BLOCKS
    assert "more changes (outcome 20261124T120000Z-0123456789ab in the ledger)" in texts(payload)
    assert "*Undo*" in payload["blocks"][-1]["text"]["text"]  # the undo is never cut away


# ------------------------------------------------------------------ properties (no moto)

JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=300), st.just("<!here> & ```")
)
DOCUMENT = st.recursive(
    JSON_LEAF,
    lambda children: (
        st.lists(children, max_size=30)
        | st.dictionaries(st.text(max_size=40), children, max_size=30)
    ),
    max_leaves=400,
)
CHANGE = st.fixed_dictionaries(
    {
        "summary": st.text(max_size=5000),
        "resource": st.text(max_size=300),
        "before": DOCUMENT,
        "after": DOCUMENT,
        "manual": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([s.value for s in Status] + ["CONFLICT", "SOMETHING_NEW"]),
    st.lists(CHANGE, max_size=70),
    st.text(max_size=6000),
    st.text(max_size=400),
)
def test_any_report_fits_slack(
    status: str, changes: list[dict[str, Any]], reason: str, resource: str
) -> None:
    payload = render_report(
        report(status=status, changes=changes, reason=reason, resource_arn=resource)
    )
    assert_within_limits(payload)
    assert "*Undo*" in payload["blocks"][-1]["text"]["text"]
    json.dumps(payload)  # serialisable as it is posted


@settings(max_examples=25, deadline=None)
@given(st.integers(2_000, 40_000))
def test_a_huge_policy_is_cut_readably(size: int) -> None:
    big = {"Statement": [{"Sid": f"S{i}", "Action": f"s3:Get{i}"} for i in range(size // 30)]}
    smaller = {"Statement": big["Statement"][1:]}
    change = {"summary": "removed S0", "before": big, "after": smaller, "manual": False}
    payload = render_report(report(changes=[change]))
    assert_within_limits(payload)
    [block] = [b for b in payload["blocks"] if "*Change*" in b.get("text", {}).get("text", "")]
    text = block["text"]["text"]
    assert '"Sid": "S0"' in text  # what changed is shown, not the first 3000 characters
    assert text.endswith("```")  # the code block is closed
