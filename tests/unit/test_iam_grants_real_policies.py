"""iam_grants on real policies copied from ../shared/corpus into tests/fixtures/policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iam_grants import (
    Stripped,
    WildcardLevel,
    strip_open_trust,
    strip_wildcard_grants,
)
from tests.unit.iam_model import LEVELS, assert_identity_invariants
from tests.unit.iam_trust_model import assert_trust_invariants

FIXTURES = Path(__file__).parents[1] / "fixtures" / "policies"


# ---------------------------------------------------------------------------------------------
# Real policies copied from ../shared/corpus (provenance in each file's "source")
# ---------------------------------------------------------------------------------------------


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    assert loaded["source"]["repo"] and loaded["source"]["license"]
    return loaded


IDENTITY_FIXTURES = sorted(
    p.name for p in FIXTURES.glob("*.json") if not p.name.startswith("trust-")
)
TRUST_FIXTURES = sorted(p.name for p in FIXTURES.glob("trust-*.json"))
# Panther's backdoor-role test record: Principal '*' behind an external id only, which pins
# nobody (issue 7 item 3); its file name and PolicyName still say "pinned by sts:ExternalId".
OPEN_TRUST_FIXTURES = ("trust-panther-backdoor-role-externalid.json",)


def test_the_fixtures_are_there() -> None:
    assert len(IDENTITY_FIXTURES) >= 5
    assert len(TRUST_FIXTURES) >= 3
    assert set(OPEN_TRUST_FIXTURES) <= set(TRUST_FIXTURES)


@pytest.mark.parametrize("name", IDENTITY_FIXTURES)
@pytest.mark.parametrize("level", LEVELS)
def test_real_identity_policies_keep_the_invariants(name: str, level: WildcardLevel) -> None:
    assert_identity_invariants(fixture(name)["PolicyDocument"], level)


@pytest.mark.parametrize("name", sorted(set(TRUST_FIXTURES) - set(OPEN_TRUST_FIXTURES)))
def test_real_trust_policies_are_already_closed(name: str) -> None:
    text = fixture(name)["AssumeRolePolicyDocument"]
    result = strip_open_trust(text)
    assert not result.changed
    assert result.document is not None
    assert_trust_invariants(result.document)


def test_real_trust_with_principal_star_behind_an_external_id_is_removed() -> None:
    """An external id is no secret: the backdoor role trusts anyone (it was kept until issue 7)."""
    document = json.loads(
        fixture("trust-panther-backdoor-role-externalid.json")["AssumeRolePolicyDocument"]
    )
    assert document["Statement"][0]["Principal"] == "*"
    assert document["Statement"][0]["Condition"] == {"StringEquals": {"sts:ExternalId": "12345"}}
    result = strip_open_trust(document)
    assert result == Stripped(None, ("statement #1: removed statement with Principal '*'",))
    assert_trust_invariants(document)
    without_condition = {
        "Statement": [{k: v for k, v in document["Statement"][0].items() if k != "Condition"}]
    }
    assert strip_open_trust({**document, **without_condition}).document is None


def test_real_url_encoded_trust_policy_is_decoded() -> None:
    text = fixture("trust-custodian-lambda-role-urlencoded.json")["AssumeRolePolicyDocument"]
    assert text.startswith("%7B")
    assert strip_open_trust(text).document == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def test_amazon_s3_full_access_strips_to_nothing() -> None:
    result = strip_wildcard_grants(fixture("aws-managed-AmazonS3FullAccess.json")["PolicyDocument"])
    assert result == Stripped(
        None,
        (
            "statement #1: removed Action 's3:*'",
            "statement #1: removed Action 's3-object-lambda:*'",
        ),
    )


def test_iam_full_access_keeps_its_organizations_reads() -> None:
    document = fixture("aws-managed-IAMFullAccess.json")["PolicyDocument"]
    result = strip_wildcard_grants(document)
    assert result.removed == ("statement #1: removed Action 'iam:*'",)
    assert result.document is not None
    assert result.document["Statement"][0]["Action"] == document["Statement"][0]["Action"][1:]


def test_lake_formation_data_admin_loses_lakeformation_star_and_keeps_its_deny() -> None:
    document = fixture("aws-managed-AWSLakeFormationDataAdmin.json")["PolicyDocument"]
    result = strip_wildcard_grants(document)
    assert result.removed == (
        "statement 'AWSLakeFormationDataAdminAllow': removed Action 'lakeformation:*'",
    )
    assert result.document is not None
    assert result.document["Statement"][1] == document["Statement"][1]


def test_elasticache_full_access_keeps_its_not_resource_and_conditional_statements() -> None:
    document = fixture("aws-managed-AmazonElastiCacheFullAccess.json")["PolicyDocument"]
    result = strip_wildcard_grants(document)
    assert result.removed == (
        "statement 'ElastiCacheManagementActions': removed Action 'elasticache:*'",
    )
    assert result.document is not None
    assert result.document["Statement"] == document["Statement"][1:]


def test_auto_scaling_read_only_is_compliant_at_service_level_only() -> None:
    document = fixture("aws-managed-AutoScalingReadOnlyAccess.json")["PolicyDocument"]
    assert not strip_wildcard_grants(document).changed
    assert strip_wildcard_grants(document, WildcardLevel.ANY).document is None


def test_allow_and_deny_of_iam_star_keeps_the_deny_only() -> None:
    document = fixture("cloudsplaining-managed-fp1-allow-and-deny.json")["PolicyDocument"]
    result = strip_wildcard_grants(document)
    assert result.document == {**document, "Statement": [document["Statement"][1]]}


def test_exploitable_not_action_is_removed() -> None:
    document = fixture("bishopfox-fn4-exploitableNotAction.json")["PolicyDocument"]
    assert strip_wildcard_grants(document) == Stripped(
        None, ("statement #1: removed NotAction statement",)
    )
