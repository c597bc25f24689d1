"""Least privilege for IAM: strip wildcard grants from identity policies and open role trust.

Knows which IAM events and Config items point at which policy, how to read it, and which one
write makes it compliant. What counts as a wildcard lives in `iam_grants` (pure, property-tested).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core.event import EventError, Trigger
from core.exemptions import tags_to_dict
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator
from core.settings import SettingsError
from iam_grants import DENY_ALL_TRUST, WildcardLevel, strip_open_trust, strip_wildcard_grants

Kind = Literal["role", "user", "group"]
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
_MAX_VERSIONS = 5  # IAM keeps at most five versions of a managed policy


@dataclass(frozen=True)
class Principal:
    """A role, user or group: with `policy`, one inline policy; with `attached`, one attachment;
    with `trust_only`, a role's trust policy; with none, everything it holds (Config items)."""

    kind: Kind
    name: str
    account: str
    policy: str = ""
    attached: str = ""
    trust_only: bool = False

    def __str__(self) -> str:
        return f"arn:aws:iam::{self.account}:{self.kind}/{self.name}"


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
                return [Principal(kind, _need(item, "resourceName"), trigger.account)]
            if item.get("resourceType") == "AWS::IAM::Policy":
                return [ManagedPolicy(_need(item, "ARN"))]
            raise EventError(f"resource type {item.get('resourceType')!r} is not an IAM one")
        event, request = trigger.event_name, trigger.request
        if event in _INLINE:
            kind = _INLINE[event]
            name = _need(request, f"{kind}Name")
            return [Principal(kind, name, trigger.account, policy=_need(request, "policyName"))]
        if event in _ATTACH:
            kind = _ATTACH[event]
            name = _need(request, f"{kind}Name")
            return [Principal(kind, name, trigger.account, attached=_need(request, "policyArn"))]
        if event in ("CreatePolicyVersion", "SetDefaultPolicyVersion"):
            return [ManagedPolicy(_need(request, "policyArn"))]
        if event == "CreatePolicy":
            created = trigger.response.get("policy")
            if isinstance(created, dict) and created.get("arn"):
                return [ManagedPolicy(str(created["arn"]))]
            path = str(request.get("path") or "/")
            arn = f"arn:aws:iam::{trigger.account}:policy{path}{_need(request, 'policyName')}"
            return [ManagedPolicy(arn)]
        if event in ("CreateRole", "UpdateAssumeRolePolicy"):
            return [Principal("role", _need(request, "roleName"), trigger.account, trust_only=True)]
        raise EventError(f"{event} is not a trigger of {self.name}")

    def evaluate(self, target: Principal | ManagedPolicy, aws: Aws) -> Evaluation:
        iam = aws("iam")
        if isinstance(target, ManagedPolicy):
            return self._managed(iam, target.arn)
        if target.attached and not _is_aws_managed(target.attached):
            if target.attached not in _attached(iam, target):
                return Evaluation(target.attached)
            return self._managed(iam, target.attached)
        arn, tags, trust = _describe(iam, target)
        changes: list[Change] = []
        if trust is not None and (target.trust_only or not (target.policy or target.attached)):
            changes += self._trust(target, arn, trust)
        if not target.trust_only and not target.attached:
            names = [target.policy] if target.policy else _inline_names(iam, target)
            changes += [c for name in names for c in self._inline(iam, target, arn, name)]
        if not target.trust_only and not target.policy:
            wanted = {target.attached} if target.attached else None
            changes += [
                c
                for a in _attached(iam, target)
                if _is_aws_managed(a) and (wanted is None or a in wanted)
                for c in self._detach(iam, target, a)
            ]
        return Evaluation(arn, tuple(changes), tags)

    def undo_after(self, change: Change, response: Mapping[str, Any]) -> tuple[Call, ...]:
        """A new default version is undone by restoring the old default and deleting ours."""
        if change.call is None or change.call.operation != "create_policy_version":
            return change.undo
        version = response["PolicyVersion"]["VersionId"]
        arn = change.call.params["PolicyArn"]
        return (
            *change.undo,
            Call("iam", "delete_policy_version", {"PolicyArn": arn, "VersionId": version}),
        )

    def _inline(self, iam: Any, p: Principal, arn: str, policy: str) -> list[Change]:
        key = {f"{p.kind.title()}Name": p.name, "PolicyName": policy}
        document = getattr(iam, f"get_{p.kind}_policy")(**key)["PolicyDocument"]
        stripped = strip_wildcard_grants(document, self.level)
        if not stripped.changed:
            return []
        put = f"put_{p.kind}_policy"
        restore = Call("iam", put, {**key, "PolicyDocument": json.dumps(document)})
        call = (
            Call("iam", f"delete_{p.kind}_policy", key)
            if stripped.document is None
            else Call("iam", put, {**key, "PolicyDocument": json.dumps(stripped.document)})
        )
        summary = f"inline policy {policy}: " + "; ".join(stripped.removed)
        if stripped.document is None:
            summary += "; nothing left, policy deleted"
        return [
            Change(summary, f"{arn}/inline/{policy}", document, stripped.document, call, (restore,))
        ]

    def _trust(self, p: Principal, arn: str, document: Any) -> list[Change]:
        stripped = strip_open_trust(document)
        if not stripped.changed:
            return []
        after = stripped.document or DENY_ALL_TRUST
        call = Call(
            "iam",
            "update_assume_role_policy",
            {"RoleName": p.name, "PolicyDocument": json.dumps(after)},
        )
        restore = Call(
            "iam",
            "update_assume_role_policy",
            {"RoleName": p.name, "PolicyDocument": json.dumps(document)},
        )
        summary = "trust policy: " + "; ".join(stripped.removed)
        return [Change(summary, f"{arn}/trust", document, after, call, (restore,))]

    def _detach(self, iam: Any, p: Principal, policy_arn: str) -> list[Change]:
        """An AWS-managed policy cannot be edited: one granting a wildcard is detached."""
        stripped = strip_wildcard_grants(_default_document(iam, policy_arn)[1], self.level)
        if not stripped.changed:
            return []
        key = {f"{p.kind.title()}Name": p.name, "PolicyArn": policy_arn}
        return [_detachment(p.kind, key, policy_arn, stripped.removed)]

    def _managed(self, iam: Any, arn: str) -> Evaluation:
        """Customer-managed: a new default version; at the limit, drop the oldest non-default
        first; if nothing would remain, detach the policy from everyone instead."""
        policy, document = _default_document(iam, arn)
        stripped = strip_wildcard_grants(document, self.level)
        tags = tags_to_dict(policy.get("Tags"))
        if not stripped.changed or _is_aws_managed(arn):
            return Evaluation(arn, (), tags)
        if stripped.document is None:
            return Evaluation(arn, tuple(_detach_everywhere(iam, arn, stripped.removed)), tags)
        changes = []
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        if len(versions) >= _MAX_VERSIONS:
            oldest = min(
                (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
            )
            key = {"PolicyArn": arn, "VersionId": oldest["VersionId"]}
            old = iam.get_policy_version(**key)["PolicyVersion"]["Document"]
            recreate = Call(
                "iam",
                "create_policy_version",
                {"PolicyArn": arn, "PolicyDocument": json.dumps(old), "SetAsDefault": False},
            )
            changes.append(
                Change(
                    f"delete oldest non-default version {oldest['VersionId']} "
                    f"(IAM keeps {_MAX_VERSIONS})",
                    f"{arn}/{oldest['VersionId']}",
                    old,
                    None,
                    Call("iam", "delete_policy_version", key),
                    (recreate,),
                )
            )
        new = Call(
            "iam",
            "create_policy_version",
            {
                "PolicyArn": arn,
                "PolicyDocument": json.dumps(stripped.document),
                "SetAsDefault": True,
            },
        )
        back = Call(
            "iam",
            "set_default_policy_version",
            {"PolicyArn": arn, "VersionId": policy["DefaultVersionId"]},
        )
        summary = "new default version: " + "; ".join(stripped.removed)
        changes.append(Change(summary, arn, document, stripped.document, new, (back,)))
        return Evaluation(arn, tuple(changes), tags)


def _describe(iam: Any, p: Principal) -> tuple[str, dict[str, str], Any]:
    """ARN, tags and (for roles) trust policy of a principal, in one call."""
    if p.kind == "role":
        role = iam.get_role(RoleName=p.name)["Role"]
        return role["Arn"], tags_to_dict(role.get("Tags")), role["AssumeRolePolicyDocument"]
    if p.kind == "user":
        user = iam.get_user(UserName=p.name)["User"]
        return user["Arn"], tags_to_dict(user.get("Tags")), None
    return f"arn:aws:iam::{p.account}:group/{p.name}", {}, None  # groups carry no tags


def _inline_names(iam: Any, p: Principal) -> list[str]:
    pages = iam.get_paginator(f"list_{p.kind}_policies").paginate(
        **{f"{p.kind.title()}Name": p.name}
    )
    return [name for page in pages for name in page["PolicyNames"]]


def _attached(iam: Any, p: Principal) -> list[str]:
    pages = iam.get_paginator(f"list_attached_{p.kind}_policies").paginate(
        **{f"{p.kind.title()}Name": p.name}
    )
    return [a["PolicyArn"] for page in pages for a in page["AttachedPolicies"]]


def _default_document(iam: Any, arn: str) -> tuple[dict[str, Any], Any]:
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    return policy, version["PolicyVersion"]["Document"]


def _detach_everywhere(iam: Any, arn: str, removed: tuple[str, ...]) -> list[Change]:
    pages = iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=arn)
    changes = []
    for page in pages:
        for kind, key, name in (
            ("group", "PolicyGroups", "GroupName"),
            ("user", "PolicyUsers", "UserName"),
            ("role", "PolicyRoles", "RoleName"),
        ):
            for entity in page.get(key, []):
                params = {f"{kind.title()}Name": entity[name], "PolicyArn": arn}
                changes.append(_detachment(kind, params, arn, removed))
    return changes


def _detachment(kind: str, params: dict[str, str], arn: str, removed: tuple[str, ...]) -> Change:
    who = params[f"{kind.title()}Name"]
    summary = f"detach {arn} from {kind} {who}: it grants " + "; ".join(removed)
    return Change(
        summary,
        f"{kind}/{who}/attached/{arn}",
        arn,
        None,
        Call("iam", f"detach_{kind}_policy", params),
        (Call("iam", f"attach_{kind}_policy", params),),
    )


def _is_aws_managed(arn: str) -> bool:
    return ":iam::aws:policy/" in arn


def _need(record: Any, key: str) -> str:
    value = record.get(key) if hasattr(record, "get") else None
    if not isinstance(value, str) or not value:
        raise EventError(f"event lacks {key}")
    return value


REMEDIATOR = IamPolicyLeastPrivilege()
handler = lambda_handler(REMEDIATOR)
