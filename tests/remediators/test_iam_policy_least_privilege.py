"""The IAM remediator in a moto account: each trigger, each mode, live state before and after."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from autoremediate_cli.undo import undo
from core.ledger import Ledger
from core.outcome import Status
from iam_grants import DENY_ALL_TRUST
from tests.remediators import iam_state as state
from tests.remediators.approvals import approve
from tests.remediators.calls import api_calls, ledger_before
from tests.remediators.faults import FailingAws
from tools.scenario import inbox, load_event, prepare

DEPLOY_AFTER = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Deploy", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": "arn:aws:s3:::app-artifacts/*"},
        {"Sid": "NoOrgLeave", "Effect": "Deny", "Action": "organizations:LeaveOrganization",
         "Resource": "*"},
    ],
}  # fmt: skip


def _policy_stripped(aws: Any) -> None:
    document = state.default_document(aws)
    assert document["Statement"][0]["Action"] == ["logs:PutLogEvents"]


# event -> (snapshot keys the fix may change, check of the state after the fix)
CASES: dict[str, tuple[set[str], Callable[[Any], None]]] = {
    "PutRolePolicy": (
        {"role/app-deploy-role/inline/deploy-wildcard"},
        lambda aws: _eq(
            state.inline(aws, "role", "app-deploy-role", "deploy-wildcard"), DEPLOY_AFTER
        ),
    ),
    "PutUserPolicy": (
        {"user/ci-bot/inline/ci-wildcard"},  # iam:* only: nothing left, the policy is deleted
        lambda aws: _eq(state.inline(aws, "user", "ci-bot", "ci-wildcard"), None),
    ),
    "PutGroupPolicy": (
        {"group/developers/inline/dev-wildcard"},  # NotAction Allow goes whole
        lambda aws: _eq(state.inline(aws, "group", "developers", "dev-wildcard"), None),
    ),
    "CreatePolicy": (
        {"policy/app-wildcard-policy/default", "policy/app-wildcard-policy/versions"},
        _policy_stripped,
    ),
    "CreatePolicyVersion": (
        {"policy/app-wildcard-policy/default", "policy/app-wildcard-policy/versions"},
        _policy_stripped,
    ),
    "SetDefaultPolicyVersion": (
        {"policy/app-wildcard-policy/default", "policy/app-wildcard-policy/versions"},
        _policy_stripped,
    ),
    "AttachRolePolicy": (
        {"role/app-deploy-role/attached"},
        lambda aws: _eq(state.attached(aws, "role", "app-deploy-role"), set()),
    ),
    "AttachUserPolicy": (  # customer-managed: the policy is fixed, the attachment stays
        {"policy/app-wildcard-policy/default", "policy/app-wildcard-policy/versions"},
        _policy_stripped,
    ),
    "AttachGroupPolicy": (
        {"group/developers/attached"},
        lambda aws: _eq(state.attached(aws, "group", "developers"), set()),
    ),
    "CreateRole": (
        {"role/open-trust-role/trust"},
        lambda aws: _eq(state.trust(aws, "open-trust-role"), DENY_ALL_TRUST),
    ),
    "UpdateAssumeRolePolicy": (
        {"role/open-trust-role/trust"},
        lambda aws: _eq(state.trust(aws, "open-trust-role"), DENY_ALL_TRUST),
    ),
    "Config-Role": (
        {"role/app-deploy-role/inline/deploy-wildcard", "role/app-deploy-role/attached"},
        lambda aws: _eq(state.attached(aws, "role", "app-deploy-role"), set()),
    ),
    "Config-User": (  # its attached customer-managed policy is its own resource: untouched here
        {"user/ci-bot/inline/ci-wildcard"},
        lambda aws: _eq(state.attached(aws, "user", "ci-bot"), {state.POLICY_ARN}),
    ),
    "Config-Group": (
        {"group/developers/inline/dev-wildcard", "group/developers/attached"},
        lambda aws: _eq(state.inline(aws, "group", "developers", "dev-wildcard"), None),
    ),
    "Config-Policy": (
        {"policy/app-wildcard-policy/default", "policy/app-wildcard-policy/versions"},
        _policy_stripped,
    ),
}


def _eq(actual: Any, expected: Any) -> None:
    assert actual == expected


def _changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_report_mode_reports_and_changes_nothing(aws, stack, run, name):
    event = prepare(aws, name)
    before = state.snapshot(aws)

    [outcome] = run(event, "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.changes, "a report must say what would change"
    assert state.snapshot(aws) == before
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"
    assert note["attributes"]["mode"] == "report"
    entry = Ledger(aws, stack.table).get(outcome.outcome_id)
    assert entry["status"] == "WOULD_REMEDIATE"


@pytest.mark.parametrize("name", sorted(CASES))
def test_enforce_mode_fixes_exactly_what_it_should_and_can_be_undone(aws, stack, run, name):
    may_change, check = CASES[name]
    event = prepare(aws, name)
    before = state.snapshot(aws)

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    after = state.snapshot(aws)
    changed = _changed(before, after)
    assert changed and changed <= may_change
    check(aws)
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "REMEDIATED"
    assert note["body"]["undo"].startswith(
        f"autoremediate undo {outcome.outcome_id} --table {stack.table}"
    )

    # Quiet when all is well: the same event again finds the resource compliant; where the fix
    # deleted the inline policy, it finds it gone and says so.
    [echo] = run(event, "enforce")
    if name in ("PutUserPolicy", "PutGroupPolicy"):
        assert echo.status is Status.SKIPPED and "no longer exists" in echo.reason
        inbox(aws, stack)
    else:
        assert echo.status is Status.COMPLIANT
        assert inbox(aws, stack) == []

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    restored = state.snapshot(aws)
    for key in changed:  # managed policies get their old default back (a new id is added)
        if key.endswith("/versions"):
            assert set(before[key]) <= set(restored[key])
        else:
            assert restored[key] == before[key], key
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "UNDONE"


def test_ledger_holds_the_original_before_the_write(aws, stack, run):
    event = prepare(aws, "PutRolePolicy")
    original = state.inline(aws, "role", "app-deploy-role", "deploy-wildcard")

    with ledger_before(aws, stack.table, "iam", "PutRolePolicy") as seen:
        [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED
    [entry] = seen
    assert entry["status"] == "APPLYING"
    assert entry["changes"][0]["before"] == original
    assert entry["changes"][0]["after"] == DEPLOY_AFTER


def test_notification_says_what_happened_to_whom_by_whom(aws, stack, run):
    event = prepare(aws, "PutRolePolicy")
    [outcome] = run(event, "enforce")
    [note] = inbox(aws, stack)
    body = note["body"]

    assert note["subject"] == (
        "[REMEDIATED] iam_policy_least_privilege: role/app-deploy-role (by alice)"
    )
    assert note["attributes"] == {
        "remediator": "iam_policy_least_privilege", "status": "REMEDIATED",
        "mode": "enforce", "severity": "HIGH",
    }  # fmt: skip
    assert body["outcome_id"] == outcome.outcome_id
    assert body["resource_arn"] == "arn:aws:iam::123456789012:role/app-deploy-role"
    assert (body["account"], body["region"]) == ("123456789012", "us-east-1")
    assert body["actor"]["arn"] == "arn:aws:sts::123456789012:assumed-role/DeveloperRole/alice"
    assert body["actor"]["source_ip"] == "203.0.113.10"
    assert body["actor"]["user_agent"].startswith("aws-cli/")
    assert body["trigger"]["event_name"] == "PutRolePolicy"
    assert body["trigger"]["event_id"] == event["detail"]["eventID"]
    assert body["trigger"]["event_time"] == event["detail"]["eventTime"]
    [change] = body["changes"]
    assert "removed Action '*'" in change["summary"]
    assert change["after"] == DEPLOY_AFTER
    assert change["undo"][0]["operation"] == "put_role_policy"
    assert change["undo_cli"][0].startswith("aws iam put-role-policy --role-name")


def test_wildcard_level_any_also_strips_partial_wildcards(aws, stack, run, monkeypatch):
    iam = aws("iam")
    partial = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Read",
                "Effect": "Allow",
                "Action": ["s3:Get*", "s3:ListBucket"],
                "Resource": "*",
            }
        ],
    }
    event = load_event("PutRolePolicy")
    event["detail"]["requestParameters"]["policyDocument"] = json.dumps(partial)
    iam.put_role_policy(RoleName="app-deploy-role", PolicyName="deploy-wildcard",
                        PolicyDocument=json.dumps(partial))  # fmt: skip

    monkeypatch.setenv("WILDCARD_LEVEL", "service")
    assert [o.status for o in run(event, "enforce")] == [Status.COMPLIANT]
    monkeypatch.setenv("WILDCARD_LEVEL", "any")
    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED
    policy = state.inline(aws, "role", "app-deploy-role", "deploy-wildcard")
    assert policy["Statement"][0]["Action"] == ["s3:ListBucket"]


def test_open_trust_keeps_the_principals_it_already_trusted(aws, stack, run):
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*", "Service": "lambda.amazonaws.com"},
         "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}},
    ]}  # fmt: skip
    event = load_event("UpdateAssumeRolePolicy")
    aws("iam").create_role(RoleName="open-trust-role", AssumeRolePolicyDocument=json.dumps(trust))

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED
    after = state.trust(aws, "open-trust-role")
    assert after["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert after["Statement"][1] == trust["Statement"][1]  # limited by a condition: kept


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_exempt_by_tag_changes_nothing(aws, stack, run, mode):
    event = prepare(aws, "PutRolePolicy")
    aws("iam").tag_role(
        RoleName="app-deploy-role",
        Tags=[
            {"Key": "autoremediate:exempt", "Value": "vendor integration INC-42 until=2026-12-31"}
        ],
    )
    approve(
        aws,
        stack,
        "arn:aws:iam::123456789012:role/app-deploy-role",
        "vendor integration INC-42 until=2026-12-31",
    )
    before = state.snapshot(aws)

    [outcome] = run(event, mode)

    assert outcome.status is Status.EXEMPT
    assert "vendor integration INC-42" in outcome.reason
    assert state.snapshot(aws) == before
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "EXEMPT"


@pytest.mark.parametrize("value", ["vendor integration INC-42", ""])
def test_an_exemption_tag_nobody_approved_is_not_honoured(aws, stack, run, value):
    """The bypass: a role tagged by anyone (even with an empty value) stayed EXEMPT."""
    event = prepare(aws, "PutRolePolicy")
    aws("iam").tag_role(
        RoleName="app-deploy-role", Tags=[{"Key": "autoremediate:exempt", "Value": value}]
    )

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED


def test_expired_exemption_tag_is_not_honoured(aws, stack, run):
    event = prepare(aws, "PutRolePolicy")
    aws("iam").tag_role(
        RoleName="app-deploy-role",
        Tags=[{"Key": "autoremediate:exempt", "Value": "migration until=2026-01-31"}],
    )
    approve(
        aws,
        stack,
        "arn:aws:iam::123456789012:role/app-deploy-role",
        "migration until=2026-01-31",
        until="2026-01-31",
    )

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED


def test_exempt_principal_pattern(aws, stack, run):
    event = prepare(aws, "AttachRolePolicy")
    before = state.snapshot(aws)

    patterns = "arn:aws:iam::*:role/breakglass-*,arn:aws:iam::*:role/app-deploy-*"
    [outcome] = run(event, "enforce", exempt=patterns)

    assert outcome.status is Status.EXEMPT
    assert "app-deploy-*" in outcome.reason
    assert state.snapshot(aws) == before


def test_service_linked_roles_are_never_touched(aws, stack, run):
    iam = aws("iam")
    role = iam.create_role(
        RoleName="AWSServiceRoleForDemo", Path="/aws-service-role/demo.amazonaws.com/",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}),
    )["Role"]  # fmt: skip
    event = load_event("UpdateAssumeRolePolicy")
    event["detail"]["requestParameters"]["roleName"] = role["RoleName"]
    before = state.snapshot(aws)

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.EXEMPT and "AWS-owned" in outcome.reason
    assert state.snapshot(aws) == before


def test_failed_calls_are_skipped_quietly(aws, stack, run):
    prepare(aws, "PutRolePolicy")  # the resource is non-compliant: only the errorCode stops us
    before = state.snapshot(aws)

    [outcome] = run(load_event("PutRolePolicy-failed-call"), "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert state.snapshot(aws) == before
    assert inbox(aws, stack) == []
    assert aws("dynamodb").scan(TableName=stack.table)["Items"] == []


def test_the_echo_of_our_own_fix_is_re_checked_and_quiet(aws, stack, run):
    event = prepare(aws, "PutRolePolicy-own-action")  # the stripped document our fix writes
    before = state.snapshot(aws)

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert state.snapshot(aws) == before
    assert inbox(aws, stack) == []
    assert aws("dynamodb").scan(TableName=stack.table)["Items"] == []


def test_resource_deleted_in_between_is_skipped_with_the_reason(aws, stack, run):
    event = prepare(aws, "PutRolePolicy")
    aws("iam").delete_role_policy(RoleName="app-deploy-role", PolicyName="deploy-wildcard")

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (NoSuchEntity)" in outcome.reason
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "SKIPPED"


def test_config_deleted_item_is_skipped_quietly(aws, stack, run):
    [outcome] = run(load_event("Config-Role-deleted"), "enforce")
    assert outcome.status is Status.SKIPPED and outcome.quiet


@pytest.mark.parametrize("broken", [
    {"detail-type": "AWS API Call via CloudTrail"},
    "not an event",
    {"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
     "account": "123456789012", "time": "t", "region": "us-east-1", "resources": [],
     "detail": {"eventName": "PutRolePolicy", "requestParameters": None}},
])  # fmt: skip
def test_malformed_events_change_nothing_and_say_why(aws, stack, run, broken):
    prepare(aws, "PutRolePolicy")
    before = state.snapshot(aws)

    [outcome] = run(broken, "enforce")

    assert outcome.status is Status.SKIPPED
    assert outcome.reason.startswith("malformed event:")
    assert state.snapshot(aws) == before
    [note] = inbox(aws, stack)
    assert note["attributes"]["severity"] == "LOW"


def test_access_denied_fails_loudly_and_changes_nothing(aws, stack, run):
    event = prepare(aws, "PutRolePolicy")
    before = state.snapshot(aws)

    [outcome] = run(event, "enforce", aws_=FailingAws(aws, "put_role_policy", "AccessDenied"))

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("AccessDenied while applying")
    assert state.snapshot(aws) == before
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "FAILED"
    entry = Ledger(aws, stack.table).get(outcome.outcome_id)
    assert entry["status"] == "FAILED"  # the entry written before the attempt is settled


def test_access_denied_on_read_in_report_mode_fails_loudly(aws, stack, run):
    event = prepare(aws, "PutRolePolicy")
    [outcome] = run(event, "report", aws_=FailingAws(aws, "get_role_policy", "AccessDenied"))
    assert outcome.status is Status.FAILED
    assert inbox(aws, stack)[0]["attributes"]["status"] == "FAILED"


def test_throttling_is_reported_then_retried_by_lambda(aws, stack, run):
    from core.runner import TransientError

    event = prepare(aws, "PutRolePolicy")
    before = state.snapshot(aws)

    with pytest.raises(TransientError, match="Throttling"):
        run(event, "enforce", aws_=FailingAws(aws, "put_role_policy", "Throttling"))

    assert state.snapshot(aws) == before
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "FAILED" and "will retry" in note["body"]["reason"]
    # The retry (Lambda's async retry) finds the same violation and fixes it.
    assert [o.status for o in run(event, "enforce")] == [Status.REMEDIATED]


def test_handler_runs_what_lambda_runs(aws, stack, monkeypatch):
    import iam_policy_least_privilege as module

    for key, value in {**stack.env("enforce"), "WILDCARD_LEVEL": "service"}.items():
        monkeypatch.setenv(key, value)
    event = prepare(aws, "PutRolePolicy")

    result = module.handler(event, None)

    assert result == [{"status": "REMEDIATED",
                       "resource": "arn:aws:iam::123456789012:role/app-deploy-role",
                       "reason": "verified", "outcome_id": result[0]["outcome_id"]}]  # fmt: skip
    assert Ledger(aws, stack.table).get(result[0]["outcome_id"])["status"] == "REMEDIATED"
    assert state.inline(aws, "role", "app-deploy-role", "deploy-wildcard") == DEPLOY_AFTER


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_call_is_a_declared_action(aws, stack, run, name):
    """The template grants exactly REMEDIATOR's actions: a call outside them would fail in AWS."""
    from iam_policy_least_privilege import REMEDIATOR

    event = prepare(aws, name)

    with api_calls(aws, "iam") as seen:
        [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED
    reads = {a for a in seen if a not in REMEDIATOR.write_actions}
    writes = {a for a in seen if a in REMEDIATOR.write_actions}
    assert reads <= set(REMEDIATOR.read_actions)
    assert writes == {c.call.action for c in outcome.changes}


def test_a_bad_configuration_value_fails_loudly_once(aws, stack, run, monkeypatch):
    event = prepare(aws, "PutRolePolicy")
    before = state.snapshot(aws)
    monkeypatch.setenv("WILDCARD_LEVEL", "some")

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.FAILED and not outcome.transient
    assert (
        outcome.reason
        == "configuration error: WILDCARD_LEVEL must be 'service' or 'any', not 'some'"
    )
    assert state.snapshot(aws) == before
    assert inbox(aws, stack)[0]["attributes"]["status"] == "FAILED"
