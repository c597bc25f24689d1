"""iam_grants closes trust in web identities (OIDC providers, Cognito identity pools) whose
callers nobody pinned: an OIDC trust without a pinned `sub` is open to every subject of the
issuer (for GitHub: every repository in the world).

Checked against the independent trust-policy evaluator of iam_trust_model.py; the generated
trust documents of test_iam_grants_trust.py hold these principals and claims too.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.iam_model import Policy
from tests.unit.iam_trust_model import assert_trust_invariants

EC2 = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
ROOT = "arn:aws:iam::111122223333:root"


def trust(*statement_list: dict[str, Any]) -> Policy:
    return {"Version": "2012-10-17", "Statement": list(statement_list)}


GITHUB = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
GITHUB_AUD = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
GITHUB_SUB = "token.actions.githubusercontent.com:sub"
EKS = (
    "arn:aws:iam::111122223333:oidc-provider/"
    "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
)
EKS_SUB = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub"
SAML = "arn:aws:iam::111122223333:saml-provider/Okta"
COGNITO = "cognito-identity.amazonaws.com"
POOL = "us-east-1:12345678-1234-1234-1234-123456789012"


def web_identity(federated: Any, condition: dict[str, Any] | None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "Federated",
        "Effect": "Allow",
        "Principal": {"Federated": federated},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if condition is not None:
        statement["Condition"] = condition
    return statement


@pytest.mark.parametrize(
    "condition",
    [
        None,
        {"StringEquals": GITHUB_AUD},
        {"StringEquals": GITHUB_AUD, "StringLike": {GITHUB_SUB: "*"}},
        {"StringEquals": GITHUB_AUD, "StringLike": {GITHUB_SUB: "repo:*"}},
        {"StringLike": {GITHUB_SUB: "repo:octo-org*"}},  # also octo-org-evil/...
        {"StringLike": {GITHUB_SUB: "repo:*/app:*"}},  # any owner's "app"
        {"StringLike": {GITHUB_SUB: ["repo:octo-org/app:*", "repo:*"]}},  # values OR
        {"StringNotLike": {GITHUB_SUB: "repo:stranger-org/*"}},
        {"StringLikeIfExists": {GITHUB_SUB: "repo:octo-org/*"}},
        {"ForAllValues:StringLike": {GITHUB_SUB: "repo:octo-org/*"}},
        {"StringEquals": {EKS_SUB: "system:serviceaccount:default:app"}},  # another issuer's
        {"StringEquals": {"sts:ExternalId": "12345"}},
    ],
)
def test_a_github_trust_without_a_pinned_sub_loses_its_provider(
    condition: dict[str, Any] | None,
) -> None:
    """Every GitHub repository in the world gets tokens from the same issuer, audience included."""
    for federated in (GITHUB, "token.actions.githubusercontent.com", [GITHUB]):
        statement = web_identity(federated, condition)
        result = assert_trust_invariants(trust(EC2, statement))
        assert result.document == trust(EC2)
        name = federated[0] if isinstance(federated, list) else federated
        assert result.removed == (f"statement 'Federated': removed Principal Federated {name!r}",)
        assert assert_trust_invariants(trust(statement)).document is None


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {**GITHUB_AUD, GITHUB_SUB: "repo:octo-org/app:ref:refs/heads/main"}},
        {"StringEquals": GITHUB_AUD, "StringLike": {GITHUB_SUB: "repo:octo-org/app:*"}},
        {"StringLike": {GITHUB_SUB: "repo:octo-org/*"}},  # one organisation: acceptable
        {"StringLike": {GITHUB_SUB: ["repo:octo-org/app:*", "repo:other-org/tool:*"]}},
        {"StringEquals": {"Token.Actions.GitHubUserContent.com:SUB": "repo:octo-org/app:main"}},
        {"ForAnyValue:StringLike": {GITHUB_SUB: "repo:octo-org/*"}},
        {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},  # a web identity has no org id
    ],
)
def test_a_github_trust_with_a_pinned_sub_stays(condition: dict[str, Any]) -> None:
    for federated in (GITHUB, "token.actions.githubusercontent.com"):
        assert not assert_trust_invariants(trust(web_identity(federated, condition))).changed


def test_any_oidc_provider_needs_a_sub_without_wildcards() -> None:
    """Only GitHub's subjects are known to name an owner first; elsewhere a pattern is open."""
    open_statements = [
        web_identity(EKS, None),
        web_identity(EKS, {"StringEquals": {EKS_SUB.replace(":sub", ":aud"): "sts.amazonaws.com"}}),
        web_identity(EKS, {"StringLike": {EKS_SUB: "system:serviceaccount:default:*"}}),
        web_identity(EKS, {"StringEquals": {GITHUB_SUB: "repo:octo-org/app:main"}}),
    ]
    for statement in open_statements:
        assert assert_trust_invariants(trust(EC2, statement)).document == trust(EC2)
    pinned = web_identity(EKS, {"StringEquals": {EKS_SUB: "system:serviceaccount:default:app"}})
    assert not assert_trust_invariants(trust(pinned)).changed


def test_only_the_open_provider_goes_and_the_other_principals_stay() -> None:
    statement = {
        **web_identity([GITHUB, SAML, EKS], {"StringLike": {EKS_SUB: "system:serviceaccount:a:b"}}),
        "Principal": {"Federated": [GITHUB, SAML, EKS], "AWS": ROOT},
    }
    result = assert_trust_invariants(trust(statement))
    assert result.document == trust(
        {**statement, "Principal": {"Federated": [SAML, EKS], "AWS": ROOT}}
    )
    assert result.removed == (f"statement 'Federated': removed Principal Federated {GITHUB!r}",)


def test_a_saml_provider_is_not_an_open_trust() -> None:
    assert not assert_trust_invariants(trust(web_identity(SAML, None))).changed


@pytest.mark.parametrize(
    ("condition", "closed"),
    [
        (
            {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": POOL},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
            },
            True,
        ),
        (
            {
                "StringEquals": {
                    "cognito-identity.amazonaws.com:aud": POOL,
                    "cognito-identity.amazonaws.com:amr": "unauthenticated",
                }
            },
            True,
        ),
        (None, False),
        ({"StringEquals": {"cognito-identity.amazonaws.com:aud": POOL}}, False),
        (
            {"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}},
            False,
        ),
        (
            {
                "StringLike": {"cognito-identity.amazonaws.com:aud": "us-east-1:*"},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
            },
            False,
        ),
        (
            {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": POOL},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "*"},
            },
            False,
        ),
    ],
)
def test_a_cognito_identity_pool_trust_needs_aud_and_amr(
    condition: dict[str, Any] | None, closed: bool
) -> None:
    statement = web_identity(COGNITO, condition)
    result = assert_trust_invariants(trust(EC2, statement))
    assert result.changed is not closed
    if not closed:
        assert result.document == trust(EC2)
        assert result.removed == (
            f"statement 'Federated': removed Principal Federated {COGNITO!r}",
        )
