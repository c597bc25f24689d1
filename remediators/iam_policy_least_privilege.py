"""Least privilege for IAM: strip wildcard grants from identity policies and open role trust.

Knows which IAM events and Config items point at which policy and what to read for each. What
counts as a wildcard lives in `iam_grants` (pure, property-tested); the writes that fix a policy,
with their inverses, in `iam_policy_changes`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import iam_policy_changes as changes
from core.event import EventError, Trigger, required
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator
from core.settings import SettingsError
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


@dataclass(frozen=True)
class ManagedPolicy:
    arn: str

    def __str__(self) -> str:
        return self.arn


class IamPolicyLeastPrivilege(Remediator[Principal | ManagedPolicy]):
    name = "iam_policy_least_privilege"
    gone_errors = ("NoSuchEntity",)
    read_actions = tuple(f"iam:{a}" for a in (
        "GetRole", "GetUser", "GetRolePolicy", "GetUserPolicy", "GetGroupPolicy",
        "ListRolePolicies", "ListUserPolicies", "ListGroupPolicies", "ListAttachedRolePolicies",
        "ListAttachedUserPolicies", "ListAttachedGroupPolicies", "GetPolicy", "GetPolicyVersion",
        "ListPolicyVersions", "ListEntitiesForPolicy",
    ))  # fmt: skip
    write_actions = tuple(f"iam:{a}" for a in (
        "PutRolePolicy", "PutUserPolicy", "PutGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy",
        "DeleteGroupPolicy", "CreatePolicyVersion", "DeletePolicyVersion", "DetachRolePolicy",
        "DetachUserPolicy", "DetachGroupPolicy", "UpdateAssumeRolePolicy",
    ))  # fmt: skip

    @property
    def level(self) -> WildcardLevel:
        raw = os.environ.get("WILDCARD_LEVEL", WildcardLevel.SERVICE.value)
        try:
            return WildcardLevel(raw)
        except ValueError:
            raise SettingsError(f"WILDCARD_LEVEL must be 'service' or 'any', not {raw!r}") from None

    def targets(self, trigger: Trigger) -> list[Principal | ManagedPolicy]:
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
        raise EventError(f"{event} is not a trigger of {self.name}")

    def evaluate(self, target: Principal | ManagedPolicy, aws: Aws) -> Evaluation:
        """Read only what the event points at; the principal's tags only when something is
        wrong (they decide exemptions), so that a compliant resource costs one or two reads."""
        iam, level = aws("iam"), self.level
        if isinstance(target, ManagedPolicy):
            return changes.managed(iam, target.arn, level)
        if target.attached and not changes.is_aws_managed(target.attached):
            return changes.managed(iam, target.attached, level)  # the policy itself is fixed
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

    def undo_after(self, change: Change, response: Mapping[str, Any]) -> tuple[Call, ...]:
        """A new default version is undone by restoring the old default and deleting ours."""
        if change.call is None or change.call.operation != "create_policy_version":
            return change.undo
        return changes.undo_new_version(change, response["PolicyVersion"]["VersionId"])


REMEDIATOR = IamPolicyLeastPrivilege()
handler = lambda_handler(REMEDIATOR)
