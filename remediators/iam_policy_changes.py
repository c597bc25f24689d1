"""The IAM writes that make a policy compliant, each with its exact inverse.

Reads one IAM document, asks `iam_grants` what to strip, and plans the one call that writes the
result (or deletes, detaches, versions: a customer-managed policy's versions in
`iam_policy_versions`). Kept apart from `iam_policy_least_privilege`, which only knows which events
and Config items point at which policy.
"""

from __future__ import annotations

import json
from typing import Any, Literal, NamedTuple

from botocore.exceptions import ClientError

from core.exemptions import tags_to_dict
from core.outcome import Call, Change
from core.remediator import Evaluation
from iam_grants import (
    DENY_ALL_TRUST,
    WildcardLevel,
    strip_open_trust,
    strip_wildcard_grants,
)

Kind = Literal["role", "user", "group"]
ATTACHMENT = "/attachment/"  # in the resource of a detachment from one of a policy's principals


class Principal(NamedTuple):
    """A role, user or group: with `policy`, one inline policy; with `attached`, one attachment;
    with `trust_only`, a role's trust policy; with none, everything it holds (Config items).
    NamedTuples here: cheaper at cold start than frozen dataclasses (see core.outcome)."""

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
    # Imported here, not at cold start: only a policy that is not compliant needs its versions.
    from iam_policy_versions import versions

    found = versions(iam, policy, before, stripped, level, delete_versions)
    if not found:
        return Evaluation(arn)
    return Evaluation(arn, tuple(found), tags_to_dict(policy.get("Tags")))


def undo_new_version(change: Change, version: str) -> tuple[Call, ...]:
    """Restore the old default version, then delete the one we created."""
    assert change.call is not None
    arn = change.call.params["PolicyArn"]
    return (
        *change.undo,
        Call("iam", "delete_policy_version", {"PolicyArn": arn, "VersionId": version}),
    )


def skips_when_gone(change: Change, error: ClientError) -> bool:
    """A detachment from one of a policy's principals that finds nothing attached any more
    (detached or deleted meanwhile) is skipped, so that the others still happen."""
    if change.call is None or not change.call.operation.startswith("detach_"):
        return False
    mine = change.resource.startswith(f"{change.call.params['PolicyArn']}{ATTACHMENT}")
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
