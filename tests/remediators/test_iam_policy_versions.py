"""Versions of customer-managed policies: IAM's 5-version limit, and non-default versions that
hold wildcard grants, one SetDefaultPolicyVersion away from the default (issue 7, item 14)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from autoremediate_cli.undo import undo
from core.ledger import Ledger
from core.outcome import Status
from iam_policy_least_privilege import DECLARATION, REMEDIATOR
from tests.remediators import iam_state as state
from tests.remediators.calls import api_calls
from tools.scenario import inbox, load_event, prepare

NARROW = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
}
WILDCARD = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["dynamodb:*", "logs:PutLogEvents"],
                   "Resource": "*"}],
}  # fmt: skip


@pytest.fixture
def delete_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELETE_WILDCARD_POLICY_VERSIONS", "true")


def _staged_wildcard(aws: Any) -> dict[str, Any]:
    """A policy whose default v1 is narrow and whose v2, not the default, grants dynamodb:*."""
    iam = aws("iam")
    iam.create_policy(PolicyName="app-wildcard-policy", PolicyDocument=json.dumps(NARROW))
    iam.create_policy_version(PolicyArn=state.POLICY_ARN, PolicyDocument=json.dumps(WILDCARD))
    return load_event("Config-Policy")


def _documents(aws: Any) -> Counter[str]:
    """The policy's version documents, whatever their version ids."""
    iam = aws("iam")
    found = Counter[str]()
    for version in state.versions(aws):
        got = iam.get_policy_version(PolicyArn=state.POLICY_ARN, VersionId=version)
        found[json.dumps(got["PolicyVersion"]["Document"], sort_keys=True)] += 1
    return found


def test_managed_policy_at_the_five_version_limit_drops_the_oldest_non_default(aws, stack, run):
    event = prepare(aws, "CreatePolicy")
    iam = aws("iam")
    narrow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
    }
    for _ in range(3):
        iam.create_policy_version(PolicyArn=state.POLICY_ARN, PolicyDocument=json.dumps(narrow))
    wildcard = state.default_document(aws)  # v1 stays default
    iam.create_policy_version(PolicyArn=state.POLICY_ARN, PolicyDocument=json.dumps(narrow))
    assert state.versions(aws) == ["v5", "v4", "v3", "v2", "v1"] or len(state.versions(aws)) == 5

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    remaining = state.versions(aws)
    assert len(remaining) == 5 and "v2" not in remaining and "v1" in remaining
    assert state.default_document(aws)["Statement"][0]["Action"] == ["logs:PutLogEvents"]
    deleted, created = outcome.changes
    assert deleted.call.operation == "delete_policy_version"
    assert deleted.before == narrow  # the dropped version's document is in the ledger
    assert created.before == wildcard
    entry = Ledger(aws, stack.table).get(outcome.outcome_id)
    assert entry["changes"][0]["before"] == narrow

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state.default_document(aws) == wildcard


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_wildcard_versions_left_beside_the_default_are_named_in_the_outcome(aws, stack, run, mode):
    """Kept by default (the old default is also what undo sets back), but named: v1 and v2 grant
    dynamodb:* too and stay one SetDefaultPolicyVersion away."""
    event = prepare(aws, "CreatePolicyVersion")  # v1 and v2 (default) both grant dynamodb:*

    [outcome] = run(event, mode)

    assert outcome.status is (Status.REMEDIATED if mode == "enforce" else Status.WOULD_REMEDIATE)
    [change] = outcome.changes
    assert change.summary.endswith("; wildcards stay in v2 (old default), v1")
    assert set(state.versions(aws)) == ({"v1", "v2", "v3"} if mode == "enforce" else {"v1", "v2"})


def test_a_wildcard_version_beside_a_narrow_default_is_kept_quietly_by_default(aws, stack, run):
    """Without DeleteWildcardPolicyVersions, a non-default version is not a finding on its own:
    the version our own fix leaves (undo sets it back) is one, and must not stay a finding."""
    [outcome] = run(_staged_wildcard(aws), "enforce")
    assert outcome.status is Status.COMPLIANT and outcome.quiet


@pytest.mark.usefixtures("delete_versions")
def test_a_wildcard_version_beside_a_narrow_default_is_reported(aws, stack, run):
    event = _staged_wildcard(aws)
    before = state.snapshot(aws)

    [outcome] = run(event, "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    [change] = outcome.changes
    assert "v2" in change.summary and "removed Action 'dynamodb:*'" in change.summary
    assert change.before == WILDCARD and change.call.operation == "delete_policy_version"
    assert state.snapshot(aws) == before


@pytest.mark.usefixtures("delete_versions")
def test_a_wildcard_version_beside_a_narrow_default_is_deleted_and_can_be_recreated(
    aws, stack, run
):
    event = _staged_wildcard(aws)

    with api_calls(aws, "iam") as seen:
        [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert state.versions(aws) == ["v1"] and state.default_document(aws) == NARROW
    [change] = outcome.changes
    assert "new version id" in change.summary
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["changes"][0]["before"] == WILDCARD
    assert set(seen) - set(REMEDIATOR.read_actions) == {"iam:DeletePolicyVersion"}
    inbox(aws, stack)
    [echo] = run(event, "enforce")
    assert echo.status is Status.COMPLIANT and inbox(aws, stack) == []

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state.default_document(aws) == NARROW
    assert _documents(aws) == Counter(json.dumps(d, sort_keys=True) for d in (NARROW, WILDCARD))


@pytest.mark.usefixtures("delete_versions")
def test_fixing_the_default_also_deletes_the_wildcard_versions_and_the_old_default(aws, stack, run):
    event = prepare(aws, "CreatePolicyVersion")  # v1 and v2 (default) both grant dynamodb:*
    documents = _documents(aws)
    wildcard = state.default_document(aws)

    with api_calls(aws, "iam") as seen:
        [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert state.versions(aws) == ["v3"]
    assert state.default_document(aws)["Statement"][0]["Action"] == ["logs:PutLogEvents"]
    writes = {a for a in seen if a in REMEDIATOR.write_actions}
    assert set(seen) - writes <= set(REMEDIATOR.read_actions)
    assert writes == {c.call.action for c in outcome.changes if c.call}
    [echo] = run(event, "enforce")
    assert echo.status is Status.COMPLIANT

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state.default_document(aws) == wildcard
    assert _documents(aws) == documents  # the same documents, under new version ids


def test_a_bad_delete_versions_value_fails_loudly_once(aws, stack, run, monkeypatch):
    event = prepare(aws, "CreatePolicy")
    before = state.snapshot(aws)
    monkeypatch.setenv("DELETE_WILDCARD_POLICY_VERSIONS", "yes")

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason == (
        "configuration error: DELETE_WILDCARD_POLICY_VERSIONS must be 'false' or 'true', not 'yes'"
    )
    assert state.snapshot(aws) == before


def test_delete_versions_is_a_declared_parameter_off_by_default():
    [parameter] = [p for p in DECLARATION.parameters if p.name == "DeleteWildcardPolicyVersions"]
    assert (parameter.default, parameter.allowed) == ("false", ("false", "true"))
    assert DECLARATION.environment["DELETE_WILDCARD_POLICY_VERSIONS"] == {
        "Ref": "DeleteWildcardPolicyVersions"
    }
    assert "iam:DeletePolicyVersion" in DECLARATION.write_actions
    assert "iam.create_policy_version" in DECLARATION.inverse_operations
