"""Who manages a resource as code, from its tags: the team fixes the template, not the resource.

A fix we make to a resource that CloudFormation or Terraform manages lasts until their next
deploy reverts it (and the circuit breaker then stops the fight): notifications say where the
real fix belongs whenever the tags say so.
"""

from __future__ import annotations

from collections.abc import Mapping

CLOUDFORMATION_TAG = "aws:cloudformation:stack-name"
_MANAGED_BY = ("managed-by", "managedby", "managed_by")
_TERRAFORM_WORDS = ("terraform", "opentofu", "tofu")


def managed_by(tags: Mapping[str, str]) -> str:
    """E.g. 'CloudFormation stack app-prod', 'Terraform (workspace prod)', or '' when unknown."""
    stack = str(tags.get(CLOUDFORMATION_TAG, "")).strip()
    if stack:
        return f"CloudFormation stack {stack}"
    lowered = {str(k).strip().lower(): str(v).strip() for k, v in tags.items()}
    manager = next((lowered[k] for k in _MANAGED_BY if lowered.get(k)), "")
    terraform = (
        manager.lower() in _TERRAFORM_WORDS
        or lowered.get("terraform", "").lower() in ("true", "yes", "1")
        or any(k.startswith(("tf:", "terraform:", "tf_", "terraform_")) for k in lowered)
    )
    if terraform:
        where = next(
            (
                lowered[k]
                for k in ("tf:workspace", "terraform:workspace", "workspace")
                if lowered.get(k)
            ),
            "",
        )
        return f"Terraform (workspace {where})" if where else "Terraform"
    return manager[:80]


def advice(owner: str) -> str:
    """The sentence notifications carry: where the lasting fix belongs."""
    if owner.startswith("CloudFormation stack "):
        return f"managed by {owner}: fix the template, or its next deploy reverts this"
    if owner:
        return f"managed by {owner}: fix the code that deploys it, or its next run reverts this"
    return ""
