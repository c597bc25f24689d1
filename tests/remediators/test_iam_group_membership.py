"""A user added to a group that grants wildcards (issue 7, item 12).

The group's own wildcards are fixed as for any group event, and the outcome names the new member.
An exempt group keeps its policies, but its exemption does not cover a new member: the
membership is reported (WOULD_REMEDIATE, a manual step, HIGH) in every mode, unless the user is
exempt too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from autoremediate_cli.undo import undo
from core.ledger import Ledger
from core.outcome import Status
from tests.remediators import iam_state as state
from tests.remediators.approvals import approve
from tests.remediators.calls import api_calls
from tools.scenario import inbox, load_event, prepare

USER, GROUP = "contractor", "platform-admins"
USER_ARN = f"arn:aws:iam::123456789012:user/{USER}"
GROUP_ARN = f"arn:aws:iam::123456789012:group/{GROUP}"
NAMED = f"user {USER} was added to group {GROUP}, which grants wildcards: "
REVIEW = f"review the membership of user {USER} in exempt group {GROUP}"
REMOVE = f"aws iam remove-user-from-group --group-name {GROUP} --user-name {USER}"
EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


def _members(aws: Any) -> list[str]:
    return [u["UserName"] for u in aws("iam").get_group(GroupName=GROUP)["Users"]]


def _inline_wildcard_group(aws: Any) -> dict[str, Any]:
    """The sample's membership, in a group whose wildcard is an inline policy instead."""
    iam = aws("iam")
    iam.create_group(GroupName=GROUP)
    iam.put_group_policy(GroupName=GROUP, PolicyName="admin", PolicyDocument=json.dumps(EVERYTHING))
    iam.create_user(UserName=USER)
    iam.add_user_to_group(GroupName=GROUP, UserName=USER)
    return load_event("AddUserToGroup")


def test_report_mode_names_the_user_and_the_group_and_changes_nothing(aws, stack, run):
    event = prepare(aws, "AddUserToGroup")
    before = state.snapshot(aws)

    [outcome] = run(event, "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == GROUP_ARN
    [change] = outcome.changes
    assert change.summary.startswith(NAMED + f"detach {state.ADMIN_ARN} from group {GROUP}")
    assert state.snapshot(aws) == before and _members(aws) == [USER]
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"
    assert note["attributes"]["severity"] == "HIGH"
    assert note["body"]["changes"][0]["summary"] == change.summary


def test_enforce_mode_fixes_the_group_keeps_the_member_and_can_be_undone(aws, stack, run):
    event = prepare(aws, "AddUserToGroup")

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    [change] = outcome.changes
    assert change.summary.startswith(NAMED)
    assert state.attached(aws, "group", GROUP) == set()
    assert _members(aws) == [USER]  # membership is people's business: we only fix policies
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "REMEDIATED"
    # Quiet when all is well: the same event now finds a group that grants nothing.
    [echo] = run(event, "enforce")
    assert echo.status is Status.COMPLIANT and echo.quiet
    assert inbox(aws, stack) == []

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state.attached(aws, "group", GROUP) == {state.ADMIN_ARN}


def test_an_inline_wildcard_of_the_group_is_stripped_as_for_any_group_event(aws, stack, run):
    event = _inline_wildcard_group(aws)

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    [change] = outcome.changes
    assert change.summary == NAMED + (
        "inline policy admin: statement 'Admin': removed Action '*'; nothing left, policy deleted"
    )
    assert state.inline(aws, "group", GROUP, "admin") is None


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_a_new_member_of_an_exempt_group_is_reported_in_every_mode(aws, stack, run, mode):
    """The exemption covers the group's policies, not whoever joins it."""
    event = prepare(aws, "AddUserToGroup")
    before = state.snapshot(aws)

    [outcome] = run(event, mode, exempt=GROUP_ARN)

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == USER_ARN
    [change] = outcome.changes
    assert change.call is None and change.undo == ()
    assert change.summary == (
        f"{REVIEW}, which grants wildcards: {state.ADMIN_ARN} (attached); remove with {REMOVE}"
    )
    assert state.snapshot(aws) == before and _members(aws) == [USER]
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"
    assert note["attributes"]["severity"] == "HIGH"
    assert note["body"]["resource_arn"] == USER_ARN
    assert note["body"]["changes"][0]["manual"] is True
    assert "undo" not in note["body"]  # nothing was changed, nothing to undo


def test_an_exempt_group_with_an_inline_wildcard_names_the_policy(aws, stack, run):
    event = _inline_wildcard_group(aws)

    [outcome] = run(event, "enforce", exempt=GROUP_ARN)

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    [change] = outcome.changes
    assert change.summary == (
        f"{REVIEW}, which grants wildcards: inline policy admin; remove with {REMOVE}"
    )
    assert state.inline(aws, "group", GROUP, "admin") == EVERYTHING


def test_an_exempt_user_in_an_exempt_group_is_exempt(aws, stack, run):
    """The user's own exemption is what counts for the membership."""
    event = prepare(aws, "AddUserToGroup")
    tag = {"Key": "autoremediate:exempt", "Value": "break-glass INC-7"}
    aws("iam").tag_user(UserName=USER, Tags=[tag])
    approve(aws, stack, USER_ARN, "break-glass INC-7")
    before = state.snapshot(aws)

    [outcome] = run(event, "enforce", exempt=GROUP_ARN)

    assert outcome.status is Status.EXEMPT
    assert "break-glass INC-7" in outcome.reason and outcome.resource_arn == USER_ARN
    assert state.snapshot(aws) == before
    assert inbox(aws, stack)[0]["attributes"]["status"] == "EXEMPT"


def test_an_exempt_user_does_not_exempt_the_group(aws, stack, run):
    event = prepare(aws, "AddUserToGroup")

    [outcome] = run(event, "enforce", exempt=USER_ARN)

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert state.attached(aws, "group", GROUP) == set()


def test_a_group_that_grants_no_wildcard_is_compliant_and_quiet(aws, stack, run):
    iam = aws("iam")
    iam.create_group(GroupName=GROUP)
    iam.put_group_policy(GroupName=GROUP, PolicyName="read", PolicyDocument=json.dumps(READ_ONLY))
    iam.attach_group_policy(GroupName=GROUP, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam.create_user(UserName=USER)
    iam.add_user_to_group(GroupName=GROUP, UserName=USER)

    for exempt in ("", GROUP_ARN):
        [outcome] = run(load_event("AddUserToGroup"), "enforce", exempt=exempt)
        assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert inbox(aws, stack) == []
    assert aws("dynamodb").scan(TableName=stack.table)["Items"] == []


def test_group_deleted_in_between_is_skipped_with_the_reason(aws, stack, run):
    event = prepare(aws, "AddUserToGroup")
    iam = aws("iam")
    iam.remove_user_from_group(GroupName=GROUP, UserName=USER)
    iam.detach_group_policy(GroupName=GROUP, PolicyArn=state.ADMIN_ARN)
    iam.delete_group(GroupName=GROUP)

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (NoSuchEntity)" in outcome.reason
    assert inbox(aws, stack)[0]["attributes"]["status"] == "SKIPPED"


def test_user_deleted_in_between_still_gets_the_group_fixed(aws, stack, run):
    event = prepare(aws, "AddUserToGroup")
    iam = aws("iam")
    iam.remove_user_from_group(GroupName=GROUP, UserName=USER)
    iam.delete_user(UserName=USER)

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert state.attached(aws, "group", GROUP) == set()


@pytest.mark.parametrize("gone", ["deleted", "removed from the group"])
def test_no_membership_left_in_an_exempt_group_is_the_group_exemption(aws, stack, run, gone):
    """Live state decides: with the member gone, only the group's exemption is left to show."""
    event = prepare(aws, "AddUserToGroup")
    iam = aws("iam")
    iam.remove_user_from_group(GroupName=GROUP, UserName=USER)
    if gone == "deleted":
        iam.delete_user(UserName=USER)
    before = state.snapshot(aws)

    [outcome] = run(event, "enforce", exempt=GROUP_ARN)

    assert outcome.status is Status.EXEMPT
    assert outcome.resource_arn == GROUP_ARN and GROUP_ARN in outcome.reason
    assert state.snapshot(aws) == before


@pytest.mark.parametrize("exempt", ["", GROUP_ARN])
@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_every_call_is_a_declared_action(aws, stack, run, mode, exempt):
    """The template grants exactly REMEDIATOR's actions: a call outside them would fail in AWS."""
    from iam_policy_least_privilege import REMEDIATOR

    event = prepare(aws, "AddUserToGroup")

    with api_calls(aws, "iam") as seen:
        [outcome] = run(event, mode, exempt=exempt)

    assert outcome.status in (Status.WOULD_REMEDIATE, Status.REMEDIATED)
    reads = {a for a in seen if a not in REMEDIATOR.write_actions}
    writes = {a for a in seen if a in REMEDIATOR.write_actions}
    assert reads <= set(REMEDIATOR.read_actions), reads - set(REMEDIATOR.read_actions)
    assert writes == {c.call.action for c in outcome.changes if c.call and mode == "enforce"}
