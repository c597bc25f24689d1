"""iam_grants strips open grants from trust policies: it trusts a subset, never a stranger.

Checked against the independent trust-policy evaluator of iam_trust_model.py.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given

from iam_grants import (
    DENY_ALL_TRUST,
    PolicyDocumentError,
    strip_open_trust,
)
from tests.unit.iam_model import PROPERTY_SETTINGS, Policy, _conditions_hold
from tests.unit.iam_strategies import trust_documents
from tests.unit.iam_trust_model import STRANGERS, assert_trust_invariants, trust_allows

# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(document=trust_documents)
def test_trust_stripping_trusts_a_subset_and_leaves_no_open_grant(document: Policy) -> None:
    assert_trust_invariants(document)


@PROPERTY_SETTINGS
@given(document=trust_documents)
def test_trust_json_text_and_url_encoded_text_strip_like_the_dict(document: Policy) -> None:
    text = json.dumps(document)
    assert strip_open_trust(text) == strip_open_trust(document)
    assert strip_open_trust(quote(text, safe="")) == strip_open_trust(document)


# ---------------------------------------------------------------------------------------------
# Examples: trust policies
# ---------------------------------------------------------------------------------------------

EC2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
ROOT = "arn:aws:iam::111122223333:root"


def trust(*statement_list: dict[str, Any]) -> Policy:
    return {"Version": "2012-10-17", "Statement": list(statement_list)}


def test_principal_star_without_condition_is_removed() -> None:
    open_statement = {
        "Sid": "Open",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "sts:AssumeRole",
    }
    result = assert_trust_invariants(trust(EC2, open_statement))
    assert result.document == trust(EC2)
    assert result.removed == ("statement 'Open': removed statement with Principal '*'",)
    assert assert_trust_invariants(trust(open_statement)).document is None


def test_aws_star_beside_a_service_goes_and_the_service_stays() -> None:
    statement = {
        "Sid": "Open",
        "Effect": "Allow",
        "Principal": {"AWS": "*", "Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    result = assert_trust_invariants(trust(statement))
    assert result.removed == ("statement 'Open': removed Principal AWS '*'",)
    assert result.document == trust({**statement, "Principal": {"Service": "lambda.amazonaws.com"}})


def test_only_star_goes_from_a_list_of_aws_principals() -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": ["*", ROOT]}, "Action": "sts:AssumeRole"}
    result = assert_trust_invariants(trust(statement))
    assert result.document == trust({**statement, "Principal": {"AWS": [ROOT]}})
    only_star = {**statement, "Principal": {"AWS": ["*"]}}
    assert assert_trust_invariants(trust(EC2, only_star)).document == trust(EC2)


def test_the_aws_principal_key_is_matched_whatever_its_case() -> None:
    """IAM spells it "AWS"; a variant spelling is treated the same, which can only remove more."""
    statement = {"Effect": "Allow", "Principal": {"aws": ["*", ROOT]}, "Action": "sts:AssumeRole"}
    result = assert_trust_invariants(trust(statement))
    assert result.document == trust({**statement, "Principal": {"aws": [ROOT]}})
    assert result.removed == ("statement #1: removed Principal aws '*'",)


def test_allow_with_not_principal_is_removed_and_deny_is_kept() -> None:
    not_principal = {"Effect": "Allow", "NotPrincipal": {"AWS": ROOT}, "Action": "sts:AssumeRole"}
    deny_everyone = {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}
    result = assert_trust_invariants(trust(deny_everyone, not_principal, EC2))
    assert result.document == trust(deny_everyone, EC2)
    assert result.removed == ("statement #2: removed NotPrincipal statement",)


@pytest.mark.parametrize(
    ("operator", "key", "value"),
    [
        ("StringEquals", "aws:PrincipalOrgID", "o-abc123"),
        ("StringEquals", "aws:PRINCIPALORGID", "o-abc123"),
        ("ForAnyValue:StringLike", "aws:PrincipalOrgPaths", "o-abc123/r-ab12/ou-ab12-11111111/*"),
        ("StringEquals", "aws:PrincipalAccount", "111122223333"),
        ("StringEquals", "aws:SourceAccount", 111122223333),
        ("ArnLike", "aws:PrincipalArn", "arn:aws:iam::111122223333:role/*"),
        ("ArnEquals", "aws:SourceArn", "arn:aws:s3:::my-bucket"),
        ("StringEquals", "aws:SourceOrgID", "o-abc123"),
    ],
)
def test_a_condition_that_pins_the_caller_keeps_principal_star(
    operator: str, key: str, value: Any
) -> None:
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "sts:AssumeRole",
        "Condition": {operator: {key: value}, "Bool": {"aws:SecureTransport": "true"}},
    }
    assert not assert_trust_invariants(trust(statement)).changed


@pytest.mark.parametrize(
    "condition",
    [
        {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}},
        {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/*"}},
        {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}},
        {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
        {"Null": {"aws:PrincipalArn": "false"}},
        {"StringLike": {"aws:PrincipalArn": "*"}},
        {"StringEquals": {"sts:ExternalId": "*"}},
        {"StringEquals": {"sts:ExternalId": "12345"}},  # no secret: pinned nobody (issue 7)
        {"StringEqualsIgnoreCase": {"sts:externalid": "12345"}},
        {"StringLike": {"aws:userid": "AROAEXAMPLEID:*"}},  # matched callers of any account
        {"StringLike": {"aws:PrincipalOrgID": ["o-abc123", "o-*"]}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Ops"}},
        {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/Ops"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}},
        {"StringLike": {"aws:PrincipalOrgPaths": "o-*/*"}},
        {"StringEquals": {"aws:SecureTransport": "true", "aws:RequestedRegion": "us-east-1"}},
    ],
)
def test_a_condition_that_does_not_pin_the_caller_leaves_principal_star_open(
    condition: dict[str, Any],
) -> None:
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "sts:AssumeRole",
        "Condition": condition,
    }
    assert assert_trust_invariants(trust(EC2, statement)).document == trust(EC2)


def test_a_partially_wildcarded_account_is_not_a_pin() -> None:
    """Conservative on purpose: "11112222333?" admits ten accounts, nobody vouched for them."""
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringLike": {"aws:PrincipalAccount": "11112222333?"}},
    }
    assert strip_open_trust(trust(statement)).document is None
    exact = {**statement, "Condition": {"StringEquals": {"aws:PrincipalAccount": "11112222333?"}}}
    assert not strip_open_trust(trust(exact)).changed
    no_value = {**statement, "Condition": {"StringEquals": {"aws:PrincipalAccount": []}}}
    assert strip_open_trust(trust(no_value)).document is None


def test_deny_all_trust_is_compliant_and_trusts_nobody() -> None:
    assert not assert_trust_invariants(DENY_ALL_TRUST).changed
    for principal in (*STRANGERS, ("AWS", ROOT), ("Service", "ec2.amazonaws.com")):
        assert not trust_allows(DENY_ALL_TRUST, principal, "sts:AssumeRole", _conditions_hold)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]},
            "Principal or NotPrincipal",
        ),
        (
            {"Statement": [{**EC2, "NotPrincipal": {"AWS": ROOT}}]},
            "Principal or NotPrincipal",
        ),
        ({"Statement": [{**EC2, "Principal": "arn:aws:iam::111122223333:root"}]}, "'\\*' or a"),
        ({"Statement": [{**EC2, "Principal": {}}]}, "non-empty object"),
        ({"Statement": [{**EC2, "Principal": {"AWS": 111122223333}}]}, "list of strings"),
        ({"Statement": [{**EC2, "Condition": ["StringEquals"]}]}, "Condition must"),
        ({"Statement": [{**EC2, "Condition": {"StringEquals": "x"}}]}, "Condition must"),
        ({"Statement": [{**EC2, "Effect": "Permit"}]}, "Effect must"),
    ],
)
def test_malformed_trust_documents_raise(document: Any, message: str) -> None:
    with pytest.raises(PolicyDocumentError, match=message):
        strip_open_trust(document)


# ---------------------------------------------------------------------------------------------
# Examples: conditions that look limiting but are not (issue 7 item 3)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        {"StringLike": {"aws:userid": "*:*"}},
        {"StringLike": {"aws:userid": "AROA*"}},
        {"StringLike": {"aws:userid": "AROAEXAMPLEID:*"}},
        {"StringEquals": {"aws:userid": "AIDAEXAMPLE"}},
        {"StringEquals": {"sts:ExternalId": "12345"}},
        {"StringEqualsIgnoreCase": {"sts:externalid": "12345"}},
        {"StringLike": {"sts:ExternalId": "ext-*"}},
        {"StringEquals": {"sts:ExternalId": "12345", "aws:userid": "AIDAEXAMPLE"}},
    ],
)
def test_a_user_id_or_an_external_id_does_not_pin_the_caller(condition: dict[str, Any]) -> None:
    """An external id is no secret, and aws:userid patterns match callers of every account."""
    for principal in ("*", {"AWS": "*"}, {"AWS": ["*"]}):
        statement = {
            "Effect": "Allow",
            "Principal": principal,
            "Action": "sts:AssumeRole",
            "Condition": condition,
        }
        assert assert_trust_invariants(trust(EC2, statement)).document == trust(EC2)
        assert assert_trust_invariants(trust(statement)).document is None


def test_an_external_id_beside_a_pinning_condition_is_harmless() -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"sts:ExternalId": "12345", "aws:PrincipalAccount": "111122223333"}
        },
    }
    assert not assert_trust_invariants(trust(statement)).changed
