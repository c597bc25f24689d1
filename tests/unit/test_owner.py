"""core.owner: who manages a resource as code, from its tags (pure, no AWS)."""

from __future__ import annotations

import pytest

from core.owner import advice, managed_by


@pytest.mark.parametrize(
    ("tags", "owner"),
    [
        ({"aws:cloudformation:stack-name": "app-prod", "ManagedBy": "terraform"},
         "CloudFormation stack app-prod"),
        ({"ManagedBy": "Terraform"}, "Terraform"),
        ({"managed-by": "OpenTofu", "tf:workspace": "prod"}, "Terraform (workspace prod)"),
        ({"terraform": "true"}, "Terraform"),
        ({"tf:module": "network"}, "Terraform"),
        ({"Terraform": "false"}, ""),
        ({"ManagedBy": "pulumi"}, "pulumi"),
        ({"team": "payments", "terraformer": "alice"}, ""),
        ({}, ""),
    ],
)  # fmt: skip
def test_owner_from_tags(tags: dict[str, str], owner: str) -> None:
    assert managed_by(tags) == owner


def test_advice_points_at_the_template_or_the_code() -> None:
    assert advice("CloudFormation stack app-prod") == (
        "managed by CloudFormation stack app-prod: fix the template,"
        " or its next deploy reverts this"
    )
    assert advice("Terraform").startswith("managed by Terraform: fix the code that deploys it")
    assert advice("") == ""
