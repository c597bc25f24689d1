"""The IAM writes that make a policy compliant, each with its exact inverse.

Reads one IAM document, asks `iam_grants` what to strip, and plans the one call that writes the
result (or deletes, detaches, versions). Kept apart from `iam_policy_least_privilege`, which only
knows which events and Config items point at which policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from core.exemptions import tags_to_dict
from core.outcome import Call, Change
from core.remediator import Evaluation
from iam_grants import DENY_ALL_TRUST, WildcardLevel, strip_open_trust, strip_wildcard_grants

Kind = Literal["role", "user", "group"]
MAX_VERSIONS = 5  # IAM keeps at most five versions of a managed policy


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


def managed(iam: Any, arn: str, level: WildcardLevel) -> Evaluation:
    """Customer-managed: a new default version; at the limit, drop the oldest non-default
    first; if nothing would remain, detach the policy from everyone instead."""
    policy = iam.get_policy(PolicyArn=arn)["Policy"]  # default version and tags
    default = policy["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=default)["PolicyVersion"]
    before = document["Document"]
    stripped = strip_wildcard_grants(before, level)
    if not stripped.changed or is_aws_managed(arn):
        return Evaluation(arn)
    tags = tags_to_dict(policy.get("Tags"))
    if stripped.document is None:
        return Evaluation(arn, tuple(_detach_everywhere(iam, arn, stripped.removed)), tags)
    changes = []
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    if len(versions) >= MAX_VERSIONS:
        changes.append(_drop_oldest(iam, arn, versions))
    new = {"PolicyArn": arn, "PolicyDocument": json.dumps(stripped.document), "SetAsDefault": True}
    back = Call("iam", "set_default_policy_version", {"PolicyArn": arn, "VersionId": default})
    summary = "new default version: " + "; ".join(stripped.removed)
    create = Call("iam", "create_policy_version", new)
    changes.append(Change(summary, arn, before, stripped.document, create, (back,)))
    return Evaluation(arn, tuple(changes), tags)


def undo_new_version(change: Change, version: str) -> tuple[Call, ...]:
    """Restore the old default version, then delete the one we created."""
    assert change.call is not None
    arn = change.call.params["PolicyArn"]
    return (
        *change.undo,
        Call("iam", "delete_policy_version", {"PolicyArn": arn, "VersionId": version}),
    )


def _drop_oldest(iam: Any, arn: str, versions: list[dict[str, Any]]) -> Change:
    oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
    key = {"PolicyArn": arn, "VersionId": oldest["VersionId"]}
    old = iam.get_policy_version(**key)["PolicyVersion"]["Document"]
    recreate = {"PolicyArn": arn, "PolicyDocument": json.dumps(old), "SetAsDefault": False}
    return Change(
        f"delete oldest non-default version {oldest['VersionId']} (IAM keeps {MAX_VERSIONS})",
        f"{arn}/{oldest['VersionId']}",
        old,
        None,
        Call("iam", "delete_policy_version", key),
        (Call("iam", "create_policy_version", recreate),),
    )


def _detach_everywhere(iam: Any, arn: str, removed: tuple[str, ...]) -> list[Change]:
    pages = iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=arn)
    kinds: tuple[tuple[Kind, str], ...] = (("group", "PolicyGroups"), ("user", "PolicyUsers"),
                                           ("role", "PolicyRoles"))  # fmt: skip
    return [
        detachment(kind, entity[f"{kind.title()}Name"], arn, removed)
        for page in pages
        for kind, key in kinds
        for entity in page.get(key, [])
    ]


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
