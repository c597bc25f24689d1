"""Least privilege for IAM: strip wildcard grants from identity policies and open role trust.

Knows which IAM events and Config items point at which policy and what to read for each. What
counts as a wildcard lives in `iam_grants` (pure, property-tested); the writes that fix a policy,
with their inverses, in `iam_policy_changes`; what a new member of a group is told, in
`iam_group_membership`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

import iam_policy_changes as changes
from core.declaration import (
    ENFORCE,
    OWN_ROLES,
    CloudTrail,
    Declaration,
    Parameter,
    Policy,
    allow,
    arn,
    deny,
    ref,
)
from core.event import EventError, Trigger, required
from core.handler import lambda_handler
from core.observability import logger
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator
from core.settings import SettingsError, env_flag
from iam_grants import WildcardLevel
from iam_policy_changes import Kind, Principal

_INLINE: dict[str, Kind] = {
    "PutRolePolicy": "role",
    "PutUserPolicy": "user",
    "PutGroupPolicy": "group",
}
_ATTACH: dict[str, Kind] = {
    "AttachRolePolicy": "role",
    "AttachUserPolicy": "user",
    "AttachGroupPolicy": "group",
}
_CONFIG: dict[str, Kind] = {
    "AWS::IAM::Role": "role",
    "AWS::IAM::User": "user",
    "AWS::IAM::Group": "group",
}


def _iam(*actions: str) -> tuple[str, ...]:
    return tuple(f"iam:{action}" for action in actions)


_ROLES, _USERS, _GROUPS = (arn("iam", f"{k}/*", region=False) for k in ("role", "user", "group"))
_POLICIES = arn("iam", "policy/*", region=False)
_ROLE_WRITES = _iam(
    "PutRolePolicy", "DeleteRolePolicy", "DetachRolePolicy", "UpdateAssumeRolePolicy"
)
DECLARATION = Declaration(
    name="iam_policy_least_privilege",
    title="IAM least-privilege",
    description="Removes wildcard grants from IAM policies (IAM least privilege)",
    us_east_1_only=True,
    reserved_concurrency="IamReservedConcurrency",
    cloudtrail=(
        CloudTrail(
            "iam.amazonaws.com",
            (
                *_INLINE,
                "CreatePolicy",
                "CreatePolicyVersion",
                "SetDefaultPolicyVersion",
                *_ATTACH,
                "CreateRole",
                "UpdateAssumeRolePolicy",
                "AddUserToGroup",
            ),
        ),
    ),
    config_types=("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::Policy"),
    environment={
        "WILDCARD_LEVEL": ref("WildcardLevel"),
        "DELETE_WILDCARD_POLICY_VERSIONS": ref("DeleteWildcardPolicyVersions"),
    },
    parameters=(
        Parameter(
            "WildcardLevel",
            "Which IAM wildcards the IAM least-privilege remediator removes: service (whole-service"
            " wildcards such as s3:* and the bare *) or any (also partial ones such as s3:Get*).",
            default="service",
            allowed=("service", "any"),
        ),
        Parameter(
            "DeleteWildcardPolicyVersions",
            "Whether the IAM least-privilege remediator also deletes (enforce) or reports (report)"
            " non-default versions of customer-managed policies that grant wildcards, one"
            " SetDefaultPolicyVersion away from the default, including the old default it"
            " replaces. false keeps them and names them in its notifications. The ledger keeps"
            " each deleted document; undo recreates it under a new version id.",
            default="false",
            allowed=("false", "true"),
        ),
        Parameter(
            "IamReservedConcurrency",
            "Reserved concurrency of the IAM remediator, so that a burst of IAM changes cannot"
            " exhaust IAM's API rate (5 is a good value). 0 leaves it unset: accounts with the"
            " minimum Lambda concurrency quota reject any reservation.",
            default=0,
            type="Number",
            min_value=0,
        ),
    ),
    inverse_operations=(
        "iam.put_role_policy",
        "iam.put_user_policy",
        "iam.put_group_policy",
        "iam.update_assume_role_policy",
        "iam.set_default_policy_version",
        "iam.delete_policy_version",
        "iam.create_policy_version",
        "iam.attach_role_policy",
        "iam.attach_user_policy",
        "iam.attach_group_policy",
    ),
    permissions=(
        Policy(
            "iam-read",
            (
                allow(
                    "ReadRoles",
                    _iam(
                        "GetRole", "GetRolePolicy", "ListRolePolicies", "ListAttachedRolePolicies"
                    ),
                    _ROLES,
                ),
                allow(
                    "ReadUsers",
                    _iam(
                        "GetUser",
                        "GetUserPolicy",
                        "ListUserPolicies",
                        "ListAttachedUserPolicies",
                        "ListGroupsForUser",
                    ),
                    _USERS,
                ),
                allow(
                    "ReadGroups",
                    _iam("GetGroupPolicy", "ListGroupPolicies", "ListAttachedGroupPolicies"),
                    _GROUPS,
                ),
                allow(
                    "ReadCustomerManagedPolicies",
                    _iam(
                        "GetPolicy",
                        "GetPolicyVersion",
                        "ListPolicyVersions",
                        "ListEntitiesForPolicy",
                    ),
                    _POLICIES,
                ),
                allow(
                    "ReadAwsManagedPolicies",
                    _iam("GetPolicy", "GetPolicyVersion"),
                    arn("iam", "policy/*", region=False, account="aws"),
                ),
            ),
        ),
        Policy(
            "iam-write",
            when=ENFORCE,
            statements=(
                allow("FixRoles", _ROLE_WRITES, _ROLES),
                allow(
                    "FixUsers",
                    _iam("PutUserPolicy", "DeleteUserPolicy", "DetachUserPolicy"),
                    _USERS,
                ),
                allow(
                    "FixGroups",
                    _iam("PutGroupPolicy", "DeleteGroupPolicy", "DetachGroupPolicy"),
                    _GROUPS,
                ),
                allow(
                    "FixCustomerManagedPolicies",
                    _iam("CreatePolicyVersion", "DeletePolicyVersion"),
                    _POLICIES,
                ),
            ),
        ),
        Policy(
            "never-touch-own-roles",
            (deny("NeverTouchOwnRoles", _ROLE_WRITES, OWN_ROLES),),
            why="Defence in depth beside the loop guard: never rewrite this stack's own roles,"
            " named by ARN (a path would also cover roles that anyone creates under it).",
        ),
    ),
)


_SKIPPED = "AutoremediateSkipped"  # apply's answer instead of AWS's when it skipped the call


class ManagedPolicy(NamedTuple):  # NamedTuples: cheaper at cold start (core.outcome)
    arn: str

    def __str__(self) -> str:
        return self.arn


class Membership(NamedTuple):
    """A user added to a group: the group, evaluated whole as for any group event, names its
    new member; an exempt group's new member is reported (iam_group_membership)."""

    user: str
    group: Principal

    def __str__(self) -> str:
        return str(self.group)


Target = Principal | ManagedPolicy | Membership


class IamPolicyLeastPrivilege(Remediator[Target]):
    declaration = DECLARATION
    gone_errors = ("NoSuchEntity",)

    @property
    def level(self) -> WildcardLevel:
        raw = os.environ.get("WILDCARD_LEVEL", WildcardLevel.SERVICE.value)
        try:
            return WildcardLevel(raw)
        except ValueError:
            raise SettingsError(f"WILDCARD_LEVEL must be 'service' or 'any', not {raw!r}") from None

    @property
    def delete_versions(self) -> bool:
        """DELETE_WILDCARD_POLICY_VERSIONS: delete non-default versions that grant wildcards."""
        return env_flag("DELETE_WILDCARD_POLICY_VERSIONS")

    def targets(self, trigger: Trigger) -> list[Target]:
        if trigger.kind == "config":
            item = trigger.item
            kind = _CONFIG.get(str(item.get("resourceType")))
            if kind:
                return [Principal(kind, required(item, "resourceName"), trigger.account)]
            if item.get("resourceType") == "AWS::IAM::Policy":
                return [ManagedPolicy(required(item, "ARN"))]
            raise EventError(f"resource type {item.get('resourceType')!r} is not an IAM one")
        event, request = trigger.event_name, trigger.request
        if event in _INLINE:
            kind = _INLINE[event]
            name = required(request, f"{kind}Name")
            return [Principal(kind, name, trigger.account, policy=required(request, "policyName"))]
        if event in _ATTACH:
            kind = _ATTACH[event]
            name = required(request, f"{kind}Name")
            return [Principal(kind, name, trigger.account, attached=required(request, "policyArn"))]
        if event in ("CreatePolicyVersion", "SetDefaultPolicyVersion"):
            return [ManagedPolicy(required(request, "policyArn"))]
        if event == "CreatePolicy":
            created = trigger.response.get("policy")
            if isinstance(created, dict) and created.get("arn"):
                return [ManagedPolicy(str(created["arn"]))]
            path = str(request.get("path") or "/")
            arn = f"arn:aws:iam::{trigger.account}:policy{path}{required(request, 'policyName')}"
            return [ManagedPolicy(arn)]
        if event in ("CreateRole", "UpdateAssumeRolePolicy"):
            role = required(request, "roleName")
            return [Principal("role", role, trigger.account, trust_only=True)]
        if event == "AddUserToGroup":
            group = Principal("group", required(request, "groupName"), trigger.account)
            return [Membership(required(request, "userName"), group)]
        raise EventError(f"{event} is not a trigger of {self.name}")

    def evaluate(self, target: Target, aws: Aws) -> Evaluation:
        """Read only what the event points at; the principal's tags only when something is
        wrong (they decide exemptions), so that a compliant resource costs one or two reads."""
        iam, level, delete_versions = aws("iam"), self.level, self.delete_versions
        if isinstance(target, Membership):
            import iam_group_membership  # here, not at cold start: only AddUserToGroup needs it

            group = self.evaluate(target.group, aws)
            return iam_group_membership.member_of(iam, target.user, target.group, group)
        if isinstance(target, ManagedPolicy):
            return changes.managed(iam, target.arn, level, delete_versions)
        if target.attached and not changes.is_aws_managed(target.attached):  # fix the policy
            return changes.managed(iam, target.attached, level, delete_versions)
        whole = not (target.policy or target.attached or target.trust_only)
        found: list[Change] = []
        described = None
        if target.kind == "role" and (target.trust_only or whole):
            described = changes.describe(iam, target)
            found += changes.trust(target, described[2])
        if target.policy or whole:
            names = [target.policy] if target.policy else changes.inline_names(iam, target)
            found += [c for name in names for c in changes.inline(iam, target, name, level)]
        if target.attached or whole:
            arns = [a for a in changes.attached(iam, target) if changes.is_aws_managed(a)]
            arns = [a for a in arns if a == target.attached] if target.attached else arns
            found += [c for a in arns for c in changes.detach_aws_managed(iam, target, a, level)]
        if not found:
            return Evaluation(str(target))
        arn, tags, _ = described or changes.describe(iam, target)
        return Evaluation(arn, tuple(found), tags)

    def apply(self, change: Change, aws: Aws) -> dict[str, Any]:
        """As every remediator does, save that a detachment from one of a policy's principals
        that finds nothing attached any more is skipped, so that the others still happen."""
        try:
            return super().apply(change, aws)
        except ClientError as error:
            if not changes.skips_when_gone(change, error):
                raise
            logger.warning("nothing to detach: skipped", extra={"resource": change.resource})
            return {_SKIPPED: True}

    def undo_after(self, change: Change, response: Mapping[str, Any]) -> tuple[Call, ...]:
        """A new default version is undone by restoring the old default and deleting ours; a
        skipped detachment has nothing to undo (attaching would grant what we never removed)."""
        if response.get(_SKIPPED):
            return ()
        if change.call is None or change.call.operation != "create_policy_version":
            return change.undo
        return changes.undo_new_version(change, response["PolicyVersion"]["VersionId"])

    def current_state(self, change: Change, aws: Aws) -> Any:
        """What `change` wrote, read back live for undo (iam_policy_state). Imported here: only
        `autoremediate_cli.undo` asks, never a Lambda invocation, whose cold start need not
        compile it."""
        import iam_policy_state

        return iam_policy_state.written(change, aws("iam"))


REMEDIATOR = IamPolicyLeastPrivilege()
handler = lambda_handler(REMEDIATOR)
