"""What an IAM change wrote, read back live (read-only), for undo to compare with its `after`.

Kept apart from `iam_policy_changes` (which plans the writes): each read mirrors one write there.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from core.outcome import Change
from iam_policy_changes import Principal, attached

_PRINCIPAL_WRITE = re.compile(r"(put|delete|detach)_(role|user|group)_policy")


def written(change: Change, iam: Any) -> Any:
    """The trust or inline document, the attachment (its ARN, None when detached), the default
    version's document, or a version's document (None when deleted), as `after` records it."""
    call = change.call
    if call is None:
        raise NotImplementedError(f"'{change.summary}' made no call: nothing to read back")
    op, params = call.operation, call.params
    try:
        if op == "update_assume_role_policy":
            return iam.get_role(RoleName=params["RoleName"])["Role"]["AssumeRolePolicyDocument"]
        if op == "create_policy_version":
            arn = params["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
                "Document"
            ]
        if op == "delete_policy_version":
            found = iam.get_policy_version(
                PolicyArn=params["PolicyArn"], VersionId=params["VersionId"]
            )
            return found["PolicyVersion"]["Document"]
        matched = _PRINCIPAL_WRITE.fullmatch(op)
        if matched:
            verb, kind = matched.groups()
            principal = Principal(kind, params[f"{kind.title()}Name"], "")  # type: ignore[arg-type]
            if verb == "detach":
                return (
                    params["PolicyArn"] if params["PolicyArn"] in attached(iam, principal) else None
                )
            key = principal.key(PolicyName=params["PolicyName"])
            return getattr(iam, f"get_{kind}_policy")(**key)["PolicyDocument"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return None  # deleted (or never there): as a deleting change leaves it
        raise
    raise NotImplementedError(f"no live read for iam.{op}")
