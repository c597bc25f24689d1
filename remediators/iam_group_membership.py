"""A user added to a group that grants wildcards (AddUserToGroup), read-only.

The group's wildcards are the group's: `iam_policy_least_privilege` evaluates (and in enforce
mode fixes) them as for any group event, and here each of those changes names the new member.
The group's exemption covers its policies, not whoever joins it: the evaluation also carries the
membership as a manual step on the user, which the runner reports instead when the group is
exempt (the user's own exemption then counts). We never remove a member: that is for people.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from core.outcome import Call, Change
from core.remediator import Evaluation
from iam_policy_changes import Principal, describe


def member_of(iam: Any, user: str, group: Principal, found: Evaluation) -> Evaluation:
    """The group's evaluation `found`, with changes that name `user`, and the membership to
    review should the group be exempt. A group that grants no wildcard costs no further read."""
    if not found.changes:
        return found
    named = f"user {user} was added to group {group.name}, which grants wildcards: "
    changes = tuple(c._replace(summary=named + c.summary) for c in found.changes)
    return found._replace(changes=changes, if_exempt=_review(iam, user, group, found.changes))


def _review(
    iam: Any, user: str, group: Principal, changes: tuple[Change, ...]
) -> Evaluation | None:
    """The membership as a manual step on the user (its ARN and tags), or None when there is
    none left to review: the user was deleted or removed from the group meanwhile."""
    try:
        pages = iam.get_paginator("list_groups_for_user").paginate(UserName=user)
        groups = {g["GroupName"].lower() for page in pages for g in page["Groups"]}
        if group.name.lower() not in groups:
            return None
        arn, tags, _ = describe(iam, Principal("user", user, group.account))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return None
        raise
    remove = Call("iam", "remove_user_from_group", {"GroupName": group.name, "UserName": user})
    grants = "; ".join(_where(c) for c in changes)
    summary = (
        f"review the membership of user {user} in exempt group {group.name}, which grants"
        f" wildcards: {grants}; remove with {remove.cli()}"
    )
    before = {"UserName": user, "GroupName": group.name}
    return Evaluation(
        arn, (Change(summary, f"{arn}/group/{group.name}", before, None, None),), tags
    )


def _where(change: Change) -> str:
    """Which of the group's policies grants the wildcard that `change` would remove."""
    params = change.call.params if change.call else {}
    if "PolicyArn" in params:
        return f"{params['PolicyArn']} (attached)"
    return f"inline policy {params.get('PolicyName', change.resource)}"
