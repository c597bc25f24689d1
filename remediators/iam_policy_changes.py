"""The IAM writes that make a policy compliant, each with its exact inverse.

Reads one IAM document, asks `iam_grants` what to strip, and plans the one call that writes the
result (or deletes, detaches, versions). Kept apart from `iam_policy_least_privilege`, which only
knows which events and Config items point at which policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Literal

from botocore.exceptions import ClientError

from core.exemptions import tags_to_dict
from core.outcome import Call, Change
from core.remediator import Evaluation
from iam_grants import (
    DENY_ALL_TRUST,
    Stripped,
    WildcardLevel,
    strip_open_trust,
    strip_wildcard_grants,
)

Kind = Literal["role", "user", "group"]
MAX_VERSIONS = 5  # IAM keeps at most five versions of a managed policy
#: The default version of a customer-managed policy of which nothing would remain: IAM rejects
#: a policy without a statement, and a Deny of everything can never widen access, stays stable
#: (a Deny is never stripped) and keeps a later attachment harmless. Copy it before changing it.
GRANTS_NOTHING: Final[dict[str, Any]] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AutoremediateNoWildcard", "Effect": "Deny", "Action": "*", "Resource": "*"}
    ],
}
_ATTACHMENT = "/attachment/"  # in the resource of a detachment from one of a policy's principals


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

    def key(self, **more: str) -> dict[str, str]:
        """The API parameters naming this principal, e.g. {"RoleName": ...}."""
        return {f"{self.kind.title()}Name": self.name, **more}


def describe(iam: Any, p: Principal) -> tuple[str, dict[str, str], Any]:
    """ARN, tags and (for roles) trust policy of a principal, in one call."""
    if p.kind == "role":
        role = iam.get_role(RoleName=p.name)["Role"]
        return role["Arn"], tags_to_dict(role.get("Tags")), role["AssumeRolePolicyDocument"]
    if p.kind == "user":
        user = iam.get_user(UserName=p.name)["User"]
        return user["Arn"], tags_to_dict(user.get("Tags")), None
    return str(p), {}, None  # groups carry no tags


def inline_names(iam: Any, p: Principal) -> list[str]:
    pages = iam.get_paginator(f"list_{p.kind}_policies").paginate(**p.key())
    return [name for page in pages for name in page["PolicyNames"]]


def attached(iam: Any, p: Principal) -> list[str]:
    pages = iam.get_paginator(f"list_attached_{p.kind}_policies").paginate(**p.key())
    return [a["PolicyArn"] for page in pages for a in page["AttachedPolicies"]]


def is_aws_managed(arn: str) -> bool:
    return ":iam::aws:policy/" in arn


def inline(iam: Any, p: Principal, policy: str, level: WildcardLevel) -> list[Change]:
    """Write the stripped inline document, or delete the policy when nothing is left."""
    key = p.key(PolicyName=policy)
    document = getattr(iam, f"get_{p.kind}_policy")(**key)["PolicyDocument"]
    stripped = strip_wildcard_grants(document, level)
    if not stripped.changed:
        return []
    put = f"put_{p.kind}_policy"
    restore = Call("iam", put, {**key, "PolicyDocument": json.dumps(document)})
    if stripped.document is None:
        call = Call("iam", f"delete_{p.kind}_policy", key)
    else:
        call = Call("iam", put, {**key, "PolicyDocument": json.dumps(stripped.document)})
    summary = f"inline policy {policy}: " + "; ".join(stripped.removed)
    if stripped.document is None:
        summary += "; nothing left, policy deleted"
    resource = f"{p}/inline/{policy}"
    return [Change(summary, resource, document, stripped.document, call, (restore,))]


def trust(p: Principal, document: Any) -> list[Change]:
    """Close an open trust policy; a role left trusting nobody gets an explicit deny-all."""
    stripped = strip_open_trust(document)
    if not stripped.changed:
        return []
    after = stripped.document or DENY_ALL_TRUST
    write = {"RoleName": p.name, "PolicyDocument": json.dumps(after)}
    restore = {"RoleName": p.name, "PolicyDocument": json.dumps(document)}
    return [
        Change(
            "trust policy: " + "; ".join(stripped.removed),
            f"{p}/trust",
            document,
            after,
            Call("iam", "update_assume_role_policy", write),
            (Call("iam", "update_assume_role_policy", restore),),
        )
    ]


def detach_aws_managed(iam: Any, p: Principal, arn: str, level: WildcardLevel) -> list[Change]:
    """An AWS-managed policy cannot be edited: one granting a wildcard is detached."""
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    stripped = strip_wildcard_grants(document["Document"], level)
    return [detachment(p.kind, p.name, arn, stripped.removed)] if stripped.changed else []


def managed(iam: Any, arn: str, level: WildcardLevel, delete_versions: bool = False) -> Evaluation:
    """Customer-managed: a new default version with the stripped document. With nothing left,
    the policy is detached from every principal it is attached to, and its new default grants
    nothing. At IAM's limit the oldest non-default version goes first. Non-default versions
    with wildcards are named (kept), or deleted with `delete_versions`."""
    if is_aws_managed(arn):
        return Evaluation(arn)  # cannot be edited: detached where attached (detach_aws_managed)
    policy = iam.get_policy(PolicyArn=arn)["Policy"]  # default version, tags, boundary use
    default = policy["DefaultVersionId"]
    before = iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]["Document"]
    stripped = strip_wildcard_grants(before, level)
    if not (stripped.changed or delete_versions):
        return Evaluation(arn)  # a compliant default costs two reads
    listed = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    others = [_read(iam, arn, v, level) for v in listed if v["VersionId"] != default]
    found = [_delete_version(arn, v) for v in others if v.removed] if delete_versions else []
    if stripped.changed:
        kept = [v for v in others if not (delete_versions and v.removed)]
        found += _new_default(iam, policy, before, stripped, kept, delete_versions)
    if not found:
        return Evaluation(arn)
    return Evaluation(arn, tuple(found), tags_to_dict(policy.get("Tags")))


@dataclass(frozen=True)
class Version:
    """A non-default version of a managed policy, and the wildcard grants it holds."""

    id: str
    created: datetime
    document: Any
    removed: tuple[str, ...]


def _read(iam: Any, arn: str, listed: dict[str, Any], level: WildcardLevel) -> Version:
    """ListPolicyVersions has no documents in AWS (moto adds them): read each one."""
    key = {"PolicyArn": arn, "VersionId": listed["VersionId"]}
    document = iam.get_policy_version(**key)["PolicyVersion"]["Document"]
    removed = strip_wildcard_grants(document, level).removed
    return Version(listed["VersionId"], listed["CreateDate"], document, removed)


def _new_default(
    iam: Any,
    policy: dict[str, Any],
    before: Any,
    stripped: Stripped,
    kept: list[Version],
    delete_old: bool,
) -> list[Change]:
    """The new default version (and what must go first); with `delete_old`, the old default
    after it, its undo folded into the new version's (a deleted version id cannot come back)."""
    arn, default = policy["Arn"], policy["DefaultVersionId"]
    found: list[Change] = []
    after, summary = stripped.document, "new default version: "
    if after is None:
        found += _detach_everywhere(iam, arn, stripped.removed)
        boundary_of = int(policy.get("PermissionsBoundaryUsageCount", 0))
        if boundary_of:  # a boundary that grants nothing would deny its principals everything
            return [*found, _boundary_note(arn, before, boundary_of)]
        after, summary = GRANTS_NOTHING, "new default version that grants nothing (Deny *): "
    summary += "; ".join(stripped.removed)
    if len(kept) + 1 >= MAX_VERSIONS:
        oldest = min(kept, key=lambda v: v.created)
        kept.remove(oldest)
        found.append(_delete_version(arn, oldest, f"oldest non-default (IAM keeps {MAX_VERSIONS})"))
    new = {"PolicyArn": arn, "PolicyDocument": json.dumps(after), "SetAsDefault": True}
    if delete_old:
        old = {"PolicyArn": arn, "PolicyDocument": json.dumps(before), "SetAsDefault": True}
        back = Call("iam", "create_policy_version", old)
        summary += f"; {default} (the old default) is deleted next"
    else:
        back = Call("iam", "set_default_policy_version", {"PolicyArn": arn, "VersionId": default})
        # kept (DeleteWildcardPolicyVersions=false), one SetDefaultPolicyVersion away: named
        left = [f"{default} (old default)", *(v.id for v in kept if v.removed)]
        summary += f"; wildcards stay in {', '.join(left)}"
    create = Call("iam", "create_policy_version", new)
    found.append(Change(summary, arn, before, after, create, (back,)))
    if delete_old:
        key = {"PolicyArn": arn, "VersionId": default}
        found.append(
            Change(
                f"delete {default}, the old default: it grants " + "; ".join(stripped.removed)
                + "; undoing the new default version recreates it, under a new version id",
                f"{arn}/{default}",
                before,
                None,
                Call("iam", "delete_policy_version", key),
            )
        )  # fmt: skip
    return found


def undo_new_version(change: Change, version: str) -> tuple[Call, ...]:
    """Restore the old default version, then delete the one we created."""
    assert change.call is not None
    arn = change.call.params["PolicyArn"]
    return (
        *change.undo,
        Call("iam", "delete_policy_version", {"PolicyArn": arn, "VersionId": version}),
    )


def _delete_version(arn: str, version: Version, why: str = "") -> Change:
    """Delete a non-default version; undo recreates its document (IAM gives a new id)."""
    key = {"PolicyArn": arn, "VersionId": version.id}
    recreate = {"PolicyArn": arn, "PolicyDocument": json.dumps(version.document),
                "SetAsDefault": False}  # fmt: skip
    grants = "; ".join(version.removed)
    why = why or f"it grants {grants}, one SetDefaultPolicyVersion away"
    return Change(
        f"delete non-default version {version.id}, {why}; undo recreates it under a new version id",
        f"{arn}/{version.id}",
        version.document,
        None,
        Call("iam", "delete_policy_version", key),
        (Call("iam", "create_policy_version", recreate),),
    )


def _boundary_note(arn: str, before: Any, principals: int) -> Change:
    return Change(
        f"not rewritten: {arn} is also the permissions boundary of {principals} principal(s),"
        " whom a version that grants nothing would deny everything (a boundary grants nothing"
        " by itself); review it by hand: aws iam list-entities-for-policy --policy-arn"
        f" {arn} --policy-usage-filter PermissionsBoundary",
        f"{arn}/permissions-boundary",
        before,
        None,
        None,
    )


def _detach_everywhere(iam: Any, arn: str, removed: tuple[str, ...]) -> list[Change]:
    """Detach from each principal the policy is attached to; not from those that only use it as
    their permissions boundary (nothing is attached to detach: NoSuchEntity)."""
    pages = iam.get_paginator("list_entities_for_policy").paginate(
        PolicyArn=arn, PolicyUsageFilter="PermissionsPolicy"
    )
    kinds: tuple[tuple[Kind, str], ...] = (("group", "PolicyGroups"), ("user", "PolicyUsers"),
                                           ("role", "PolicyRoles"))  # fmt: skip
    return [
        _entity_detachment(kind, entity[f"{kind.title()}Name"], arn, removed)
        for page in pages
        for kind, key in kinds
        for entity in page.get(key, [])
    ]


def _entity_detachment(kind: Kind, name: str, arn: str, removed: tuple[str, ...]) -> Change:
    change = detachment(kind, name, arn, removed)
    summary = f"{change.summary} (if no longer attached by then: skipped, nothing to undo)"
    return replace(change, summary=summary, resource=f"{arn}{_ATTACHMENT}{kind}/{name}")


def skips_when_gone(change: Change, error: ClientError) -> bool:
    """A detachment from one of a policy's principals that finds nothing attached any more
    (detached or deleted meanwhile) is skipped, so that the others still happen."""
    if change.call is None or not change.call.operation.startswith("detach_"):
        return False
    mine = change.resource.startswith(f"{change.call.params['PolicyArn']}{_ATTACHMENT}")
    return mine and error.response.get("Error", {}).get("Code") == "NoSuchEntity"


def detachment(kind: Kind, name: str, arn: str, removed: tuple[str, ...]) -> Change:
    params = {f"{kind.title()}Name": name, "PolicyArn": arn}
    summary = f"detach {arn} from {kind} {name}: it grants " + "; ".join(removed)
    return Change(
        summary,
        f"{kind}/{name}/attached/{arn}",
        arn,
        None,
        Call("iam", f"detach_{kind}_policy", params),
        (Call("iam", f"attach_{kind}_policy", params),),
    )
