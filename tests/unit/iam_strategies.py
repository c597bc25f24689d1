"""Hypothesis strategies: generated identity and trust policy documents."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.unit.iam_model import Policy

# ---------------------------------------------------------------------------------------------
# Generated policy documents
# ---------------------------------------------------------------------------------------------

SPECIFIC_ACTIONS = (
    "s3:GetObject",
    "S3:getobject",
    "iam:PassRole",
    "ec2:DescribeInstances",
    "sts:AssumeRole",
)
SERVICE_WILDCARDS = ("*", "*:*", "s3:*", "S3:*", "IAM:*", "s3:**", "ec2:?*")
PARTIAL_WILDCARDS = ("s3:Put*", "s3:*Object", "iam:?etRole", "*:Get*", "iam:Pass?ole", "s3:?")
# Partial wildcards that count at the default level too: across services, or reaching an
# escalation action (iam:PassRole, iam:Put*Policy, sts:AssumeRole...); and some that do not.
ESCALATING_WILDCARDS = (
    "iam:P*",
    "iam:*Policy*",
    "iam:Pass*",
    "IAM:pass*",
    "sts:Assume*",
    "sts:AssumeRol?",
    "lambda:Update*",
    "s?:GetObject",
    "*:*Object",
)
HARMLESS_WILDCARDS = ("iam:Get*", "iam:List*", "sts:Get*", "ec2:Describe*")
MALFORMED_ACTIONS = ("s3GetObject", "iam*")  # IAM rejects these; they must not crash anything
RESOURCES = (
    "*",
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::bucket/*",
    "arn:aws:iam::111122223333:role/Ops",
    "arn:aws:s3:::bucket/key?",
)
IDENTITY_CONDITIONS = (
    {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
    {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
)

generated_actions = st.one_of(
    st.sampled_from(
        SPECIFIC_ACTIONS
        + SERVICE_WILDCARDS
        + PARTIAL_WILDCARDS
        + ESCALATING_WILDCARDS
        + HARMLESS_WILDCARDS
        + MALFORMED_ACTIONS
    ),
    st.builds(
        "{}:{}".format,
        st.sampled_from(("s3", "iam", "ec2", "sts", "*", "s?")),
        st.text(alphabet="GetPutObjcRolAsum*?", min_size=1, max_size=7),
    ),
)


def one_or_many(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, st.lists(values, min_size=1, max_size=4))


@st.composite
def shuffled(draw: st.DrawFn, statement: dict[str, Any]) -> dict[str, Any]:
    """Same statement, keys in a random order (order must survive byte-for-byte)."""
    return {key: statement[key] for key in draw(st.permutations(list(statement)))}


@st.composite
def identity_statements(draw: st.DrawFn) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": draw(st.sampled_from(("Allow", "Deny")))}
    if draw(st.booleans()):
        statement["Sid"] = draw(st.sampled_from(("", "Admin", "ReadS3", "Stmt1")))
    action_key = draw(st.sampled_from(("Action", "Action", "Action", "NotAction")))
    statement[action_key] = draw(one_or_many(generated_actions))
    resource_key = draw(st.sampled_from(("Resource", "Resource", "NotResource")))
    statement[resource_key] = draw(one_or_many(st.sampled_from(RESOURCES)))
    if draw(st.booleans()):
        statement["Condition"] = draw(st.sampled_from(IDENTITY_CONDITIONS))
    if draw(st.integers(0, 9)) == 0:
        statement["Principal"] = {"AWS": "arn:aws:iam::111122223333:root"}
    return draw(shuffled(statement))


@st.composite
def documents(draw: st.DrawFn, statement: st.SearchStrategy[dict[str, Any]]) -> Policy:
    document: Policy = {}
    version = draw(st.sampled_from(("2012-10-17", "2008-10-17", None)))
    if version is not None:
        document["Version"] = version
    if draw(st.booleans()):
        document["Id"] = "generated-policy"
    document["Statement"] = draw(st.one_of(statement, st.lists(statement, min_size=0, max_size=5)))
    return draw(shuffled(document))


GITHUB_PROVIDER = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"
EKS_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
EKS_PROVIDER = f"arn:aws:iam::111122223333:oidc-provider/{EKS_ISSUER}"
PRINCIPAL_VALUES = {
    "AWS": (
        "*",
        "arn:aws:iam::111122223333:root",
        "111122223333",
        "arn:aws:iam::444455556666:role/Ops",
    ),
    "Service": ("ec2.amazonaws.com", "lambda.amazonaws.com"),
    "Federated": (
        "cognito-identity.amazonaws.com",
        "arn:aws:iam::111122223333:saml-provider/Okta",
        GITHUB_PROVIDER,
        "token.actions.githubusercontent.com",
        EKS_PROVIDER,
    ),
}
CONDITION_VALUES: dict[str, tuple[Any, ...]] = {
    "aws:PrincipalOrgID": ("o-abc123", "o-*", "*"),
    "AWS:PRINCIPALORGID": ("o-abc123", "o-*"),
    "aws:PrincipalOrgPaths": ("o-abc123/r-ab12/ou-ab12-11111111/*", "o-*/*", "*"),
    "aws:PrincipalAccount": ("111122223333", 111122223333, "*"),
    "aws:PrincipalArn": (
        "arn:aws:iam::111122223333:role/Ops",
        "arn:aws:iam::111122223333:role/*",
        "arn:aws:iam::*:role/Ops",
        "arn:aws:iam::*",
        "*",
    ),
    "aws:SourceAccount": ("111122223333", "*"),
    "aws:SourceArn": (
        "arn:aws:s3:::my-bucket",
        "arn:aws:s3:::*",
        "arn:aws:sns:*:111122223333:topic",
        "arn:aws:sns:us-east-1:*:topic",
    ),
    "aws:SourceOrgID": ("o-abc123", "*"),
    "aws:userid": ("AROAEXAMPLEID:*", "AIDAEXAMPLE", "*"),
    "sts:ExternalId": ("12345", "ext-*", "*"),
    "sts:externalid": ("12345",),
    "aws:RequestedRegion": ("us-east-1",),
    "token.actions.githubusercontent.com:sub": (
        "repo:octo-org/app:ref:refs/heads/main",
        "repo:octo-org/app:*",
        "repo:octo-org/*",
        "repo:octo-org*",
        "repo:*/app:*",
        "repo:*",
        "*",
    ),
    "Token.Actions.GitHubUserContent.com:SUB": ("repo:octo-org/*", "repo:*"),
    "token.actions.githubusercontent.com:aud": ("sts.amazonaws.com",),
    f"{EKS_ISSUER}:sub": (
        "system:serviceaccount:default:app",
        "system:serviceaccount:default:*",
        "*",
    ),
    "cognito-identity.amazonaws.com:aud": (
        "us-east-1:12345678-1234-1234-1234-123456789012",
        "us-east-1:*",
        "*",
    ),
    "cognito-identity.amazonaws.com:amr": ("authenticated", "unauthenticated", "*"),
}
OPERATORS = (
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnLike",
    "ArnEquals",
    "StringNotEquals",
    "StringNotLike",
    "ArnNotLike",
    "StringEqualsIfExists",
    "StringLikeIfExists",
    "ForAnyValue:StringEquals",
    "ForAnyValue:StringLike",
    "ForAllValues:StringEquals",
    "Null",
)


@st.composite
def trust_conditions(draw: st.DrawFn) -> dict[str, Any]:
    """Up to two operator/key pairs on distinct keys (each pair then depends on its key only),
    or up to three web identity claims (a Cognito pool is pinned only by two of them)."""
    condition: dict[str, dict[str, Any]] = {}
    claims = sorted(key for key in CONDITION_VALUES if not key.lower().startswith(("aws:", "sts:")))
    keys = draw(
        st.one_of(
            st.lists(st.sampled_from(sorted(CONDITION_VALUES)), max_size=2, unique_by=str.lower),
            st.lists(st.sampled_from(claims), min_size=1, max_size=3, unique_by=str.lower),
        )
    )
    for key in keys:
        operator = draw(st.sampled_from(OPERATORS))
        if operator == "Null":
            value = draw(st.sampled_from(("true", "false")))
        else:
            value = draw(one_or_many(st.sampled_from(CONDITION_VALUES[key])))
        condition.setdefault(operator, {})[key] = value
    if draw(st.integers(0, 4)) == 0:
        condition.setdefault("Bool", {})["aws:SecureTransport"] = "true"
    return condition


@st.composite
def trust_principals(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 3)) == 0:
        return "*"
    kinds = draw(st.lists(st.sampled_from(sorted(PRINCIPAL_VALUES)), min_size=1, unique=True))
    return {kind: draw(one_or_many(st.sampled_from(PRINCIPAL_VALUES[kind]))) for kind in kinds}


@st.composite
def trust_statements(draw: st.DrawFn) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": draw(st.sampled_from(("Allow", "Allow", "Deny")))}
    if draw(st.booleans()):
        statement["Sid"] = draw(st.sampled_from(("", "Open", "TrustEc2")))
    principal_key = draw(st.sampled_from(("Principal", "Principal", "Principal", "NotPrincipal")))
    statement[principal_key] = draw(trust_principals())
    statement["Action"] = draw(
        one_or_many(
            st.sampled_from(
                ("sts:AssumeRole", "sts:TagSession", "sts:AssumeRoleWithWebIdentity", "sts:*")
            )
        )
    )
    if condition := draw(trust_conditions()):
        statement["Condition"] = condition
    return draw(shuffled(statement))


identity_documents = documents(identity_statements())
trust_documents = documents(trust_statements())
