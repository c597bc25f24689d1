"""The writes that make a customer-managed policy compliant once its default version grants a
wildcard: a new default version (and what must go first: the oldest version at IAM's limit, or
every attachment when nothing is left), deleted versions, each with its exact inverse.

Kept apart from `iam_policy_changes`, which imports it only for such a policy: a compliant one
(two reads) does not compile this at cold start.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final, NamedTuple

from core.outcome import Call, Change
from iam_grants import Stripped, WildcardLevel, strip_wildcard_grants
from iam_policy_changes import ATTACHMENT, Kind, detachment

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


def versions(
    iam: Any,
    policy: dict[str, Any],
    before: Any,
    stripped: Stripped,
    level: WildcardLevel,
    delete_versions: bool,
) -> list[Change]:
    """The changes to a customer-managed policy whose default version `before` grants wildcards
    (`stripped`), or with `delete_versions`, whose other versions might: see
    iam_policy_changes.managed."""
    arn, default = policy["Arn"], policy["DefaultVersionId"]
    listed = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    others = [_read(iam, arn, v, level) for v in listed if v["VersionId"] != default]
    found = [_delete_version(arn, v) for v in others if v.removed] if delete_versions else []
    if stripped.changed:
        kept = [v for v in others if not (delete_versions and v.removed)]
        found += _new_default(iam, policy, before, stripped, kept, delete_versions)
    return found


class Version(NamedTuple):
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
    return change._replace(summary=summary, resource=f"{arn}{ATTACHMENT}{kind}/{name}")
