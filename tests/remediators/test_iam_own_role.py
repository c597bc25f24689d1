"""The IAM remediator in a moto account, on changes made with its own role's session.

Our genuine fix echoes back through CloudTrail and is re-checked: compliant, quiet. A `*` grant
put with the same session is someone else holding our role (passed to their function, or our
code replaced): reported HIGH in every mode, never applied, never exempt.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.outcome import Status
from tests.remediators import iam_state as state
from tools.scenario import OWN_ROLE_ARN, inbox, load_event, prepare, replay

OWN_ACTION = "PutRolePolicy-own-action"
SESSION = "autoremediate-IamPolicyLeastPrivilege-AbCdEf123456"  # the sample's session name
ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _backdoor(aws: Any) -> dict[str, Any]:
    """An administrator grant put on app-deploy-role with the IAM function's own session."""
    event = load_event(OWN_ACTION)
    event["detail"]["requestParameters"].update(
        policyName="backdoor", policyDocument=json.dumps(ADMIN)
    )
    replay(aws, event)
    return event


def _ledger(aws: Any, stack: Any) -> list[dict[str, Any]]:
    items = aws("dynamodb").scan(TableName=stack.table)["Items"]
    # Circuit-breaker counters (key breaker#<arn>) hold times, not a record.
    return [json.loads(item["record"]["S"]) for item in items if "record" in item]


@pytest.mark.parametrize("mode", ["enforce", "report"])
def test_a_wildcard_grant_made_with_our_own_role_is_reported_high(aws, stack, run, mode):
    event = _backdoor(aws)
    before = state.snapshot(aws)

    [outcome] = run(event, mode)

    assert outcome.status is Status.WOULD_REMEDIATE and not outcome.quiet
    assert outcome.reason == (
        f"changed with autoremediate's own role {OWN_ROLE_ARN}, yet no fix of ours leaves this:"
        " not applied; investigate who used the role"
    )
    assert [c.summary for c in outcome.changes] == [
        "inline policy backdoor: statement #1: removed Action '*'; nothing left, policy deleted"
    ]
    # Nothing written, even in enforce mode: the grant is still live for a person to look at.
    assert state.snapshot(aws) == before
    assert state.inline(aws, "role", "app-deploy-role", "backdoor") == ADMIN
    [note] = inbox(aws, stack)
    assert note["attributes"] == {
        "remediator": "iam_policy_least_privilege",
        "status": "WOULD_REMEDIATE",
        "mode": mode,
        "severity": "HIGH",
    }
    assert note["body"]["reason"] == outcome.reason
    assert f"role/app-deploy-role (by {SESSION[:20]}" in note["subject"]  # clipped to 99
    assert note["body"]["actor"]["session_issuer_arn"] == OWN_ROLE_ARN
    # The finding is recorded, as every notified outcome is; nothing to undo, nothing applied.
    [entry] = _ledger(aws, stack)
    assert (entry["status"], entry["outcome_id"]) == ("WOULD_REMEDIATE", outcome.outcome_id)
    assert "undo" not in entry and not any(c["applied"] for c in entry["changes"])


def test_an_exemption_does_not_silence_our_own_role(aws, stack, run):
    event = _backdoor(aws)
    before = state.snapshot(aws)

    [outcome] = run(event, "enforce", exempt="arn:aws:iam::*:role/app-deploy-*")

    assert outcome.status is Status.WOULD_REMEDIATE
    assert state.snapshot(aws) == before
    [note] = inbox(aws, stack)
    assert note["attributes"]["severity"] == "HIGH"


def test_the_echo_of_our_genuine_fix_is_re_checked_and_quiet(aws, stack, run):
    [fixed] = run(prepare(aws, "PutRolePolicy"), "enforce")
    assert fixed.status is Status.REMEDIATED
    inbox(aws, stack)  # the fix's own notification
    # The sample is that echo: our role putting the stripped document the fix wrote.
    echo = load_event(OWN_ACTION)
    document = json.loads(echo["detail"]["requestParameters"]["policyDocument"])
    assert state.inline(aws, "role", "app-deploy-role", "deploy-wildcard") == document
    before = state.snapshot(aws)

    [outcome] = run(echo, "enforce")

    assert (outcome.status, outcome.quiet) == (Status.COMPLIANT, True)
    assert state.snapshot(aws) == before
    assert inbox(aws, stack) == []
    assert [e["outcome_id"] for e in _ledger(aws, stack)] == [fixed.outcome_id]
