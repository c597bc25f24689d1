"""Customer-managed policies of which nothing would remain (only wildcard grants): detached from
the principals it is attached to as a permissions policy, then left granting nothing.

Issue 7: item 10 (a permissions-boundary decoy stopped the detachment), item 11 (an unattached
`*:*` policy was COMPLIANT and silent).
"""

from __future__ import annotations

import json
from typing import Any

from autoremediate_cli.undo import undo
from core.ledger import Ledger
from core.outcome import Status
from tests.remediators import iam_state as state
from tests.remediators.calls import api_calls
from tests.remediators.iam_entities import DetachedMeanwhile, PolicyUsage
from tools.scenario import CODEBUILD_TRUST, inbox, load_event, replay

EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
GRANTS_NOTHING = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AutoremediateNoWildcard", "Effect": "Deny", "Action": "*", "Resource": "*"}
    ],
}


def _all_in(aws: Any) -> str:
    arn: str = aws("iam").create_policy(PolicyName="all-in", PolicyDocument=json.dumps(EVERYTHING))[
        "Policy"]["Arn"]  # fmt: skip
    return arn


def _config_event(arn: str) -> dict[str, Any]:
    event = load_event("Config-Policy")
    event["detail"]["configurationItem"]["ARN"] = arn
    return event


def _created_all_wildcard(aws: Any) -> dict[str, Any]:
    """The CreatePolicy sample event with a `*` document, replayed: a policy attached to nothing."""
    event = load_event("CreatePolicy")
    event["detail"]["requestParameters"]["policyDocument"] = json.dumps(EVERYTHING)
    replay(aws, event)
    return event


def test_managed_policy_with_nothing_left_is_detached_not_emptied(aws, stack, run):
    iam = aws("iam")
    arn = _all_in(aws)
    iam.attach_role_policy(RoleName="app-deploy-role", PolicyArn=arn)
    iam.attach_user_policy(UserName="ci-bot", PolicyArn=arn)

    [outcome] = run(_config_event(arn), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert state.attached(aws, "role", "app-deploy-role") == set()
    assert state.attached(aws, "user", "ci-bot") == set()
    # No empty document is written (IAM rejects one): once detached, the policy's new default
    # version grants nothing, so that attaching it again later grants nothing either (item 11).
    assert state.default_document(aws, arn) == GRANTS_NOTHING
    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state.attached(aws, "role", "app-deploy-role") == {arn}
    assert state.attached(aws, "user", "ci-bot") == {arn}
    assert state.default_document(aws, arn) == EVERYTHING
    assert state.versions(aws, arn) == ["v1"]


def test_a_permissions_boundary_decoy_does_not_stop_the_detachment(aws, stack, run):
    """Item 10: a role using the policy only as its permissions boundary is not detached from (it
    has nothing attached: NoSuchEntity, read as "resource gone", left the real attachments)."""
    iam = aws("iam")
    arn = _all_in(aws)
    iam.create_role(RoleName="admin-sandbox-role", PermissionsBoundary=arn,
                    AssumeRolePolicyDocument=json.dumps(CODEBUILD_TRUST))  # fmt: skip
    iam.attach_role_policy(RoleName="app-deploy-role", PolicyArn=arn)
    iam.attach_user_policy(UserName="ci-bot", PolicyArn=arn)
    with_usage = PolicyUsage(aws)  # AWS lists boundary users too unless filtered; moto does not

    [outcome] = run(_config_event(arn), "enforce", aws_=with_usage)

    assert state.attached(aws, "role", "app-deploy-role") == set()
    assert state.attached(aws, "user", "ci-bot") == set()
    boundary = iam.get_role(RoleName="admin-sandbox-role")["Role"]["PermissionsBoundary"]
    assert boundary["PermissionsBoundaryArn"] == arn
    assert not any("admin-sandbox-role" in (c.call.params.get("RoleName", "") if c.call else "")
                   for c in outcome.changes)  # fmt: skip
    # Rewritten to grant nothing, the boundary would deny its role everything: left as it is,
    # and said so (a manual step), while the detachments were made and verified.
    assert state.default_document(aws, arn) == EVERYTHING
    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.reason.endswith("manual steps still needed")
    [manual] = [c for c in outcome.changes if c.call is None]
    assert "permissions boundary of 1 principal" in manual.summary
    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state.attached(aws, "role", "app-deploy-role") == {arn}
    assert state.attached(aws, "user", "ci-bot") == {arn}
    assert state.attached(aws, "role", "admin-sandbox-role") == set()


def test_an_attachment_gone_meanwhile_is_skipped_and_the_others_are_detached(aws, stack, run):
    """Item 10: NoSuchEntity on one principal does not abort the detachment from the others,
    and undo does not attach what we never detached."""
    iam = aws("iam")
    arn = _all_in(aws)
    iam.attach_group_policy(GroupName="developers", PolicyArn=arn)
    iam.attach_user_policy(UserName="ci-bot", PolicyArn=arn)
    iam.attach_role_policy(RoleName="app-deploy-role", PolicyArn=arn)

    [outcome] = run(_config_event(arn), "enforce", aws_=DetachedMeanwhile(aws, "user"))

    assert outcome.status is Status.REMEDIATED, outcome.reason
    for kind, name in (("group", "developers"), ("user", "ci-bot"), ("role", "app-deploy-role")):
        assert state.attached(aws, kind, name) == set(), name
    assert state.default_document(aws, arn) == GRANTS_NOTHING
    [user] = [c for c in outcome.changes if c.call and c.call.operation == "detach_user_policy"]
    assert "skipped" in user.summary and user.undo == ()
    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state.attached(aws, "group", "developers") == {arn}
    assert state.attached(aws, "role", "app-deploy-role") == {arn}
    assert state.attached(aws, "user", "ci-bot") == set()  # someone else removed it: not ours


def test_an_unattached_all_wildcard_policy_is_reported(aws, stack, run):
    """Item 11: CreatePolicy with only `*` was COMPLIANT and silent."""
    event = _created_all_wildcard(aws)
    before = state.snapshot(aws)

    [outcome] = run(event, "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    [change] = outcome.changes
    assert "grants nothing" in change.summary and "removed Action '*'" in change.summary
    assert (change.before, change.after) == (EVERYTHING, GRANTS_NOTHING)
    assert state.snapshot(aws) == before
    assert inbox(aws, stack)[0]["attributes"]["status"] == "WOULD_REMEDIATE"


def test_an_unattached_all_wildcard_policy_is_made_to_grant_nothing(aws, stack, run):
    event = _created_all_wildcard(aws)

    with api_calls(aws, "iam") as seen:
        [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert state.default_document(aws) == GRANTS_NOTHING
    assert sorted(state.versions(aws)) == ["v1", "v2"]
    assert "iam:ListEntitiesForPolicy" in seen  # attached to nothing, looked up
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["changes"][0]["before"] == EVERYTHING
    inbox(aws, stack)
    [echo] = run(event, "enforce")
    assert echo.status is Status.COMPLIANT and inbox(aws, stack) == []

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state.default_document(aws) == EVERYTHING
    assert state.versions(aws) == ["v1"]


def test_an_unattached_all_wildcard_policy_at_the_version_limit(aws, stack, run):
    event = _created_all_wildcard(aws)
    narrow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
    }
    for _ in range(4):
        aws("iam").create_policy_version(
            PolicyArn=state.POLICY_ARN, PolicyDocument=json.dumps(narrow)
        )

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert state.default_document(aws) == GRANTS_NOTHING
    assert sorted(state.versions(aws)) == ["v1", "v3", "v4", "v5", "v6"]
    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state.default_document(aws) == EVERYTHING
    assert len(state.versions(aws)) == 5


def test_a_wildcard_boundary_attached_to_nothing_is_reported_never_rewritten(aws, stack, run):
    """A boundary that grants nothing would deny its role everything: a manual step, every mode."""
    arn = _all_in(aws)
    aws("iam").create_role(RoleName="admin-sandbox-role", PermissionsBoundary=arn,
                           AssumeRolePolicyDocument=json.dumps(CODEBUILD_TRUST))  # fmt: skip
    before = state.snapshot(aws)

    [outcome] = run(_config_event(arn), "enforce", aws_=PolicyUsage(aws))

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.reason == "cannot be fixed in place: manual steps needed"
    [manual] = outcome.changes
    assert manual.call is None and "permissions boundary of 1 principal" in manual.summary
    assert state.snapshot(aws) == before


def test_every_call_of_the_nothing_left_fix_is_a_declared_action(aws, stack, run):
    from iam_policy_least_privilege import REMEDIATOR

    arn = _all_in(aws)
    aws("iam").attach_role_policy(RoleName="app-deploy-role", PolicyArn=arn)

    with api_calls(aws, "iam") as seen:
        [outcome] = run(_config_event(arn), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    writes = {a for a in seen if a in REMEDIATOR.write_actions}
    assert set(seen) - writes <= set(REMEDIATOR.read_actions)
    assert writes == {"iam:DetachRolePolicy", "iam:CreatePolicyVersion"}
    assert writes == {c.call.action for c in outcome.changes if c.call}
