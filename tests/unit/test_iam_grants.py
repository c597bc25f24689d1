"""iam_grants strips wildcard grants from identity policies without ever widening access.

The module is checked against an independent, deliberately small IAM evaluator (iam_model.py).
Trust policies are in test_iam_grants_trust.py, the real policies of tests/fixtures in
test_iam_grants_real_policies.py; test_iam_grants_corpus.py runs the same invariants over the
whole corpus, and imports what it needs from here.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iam_escalation import ESCALATION_ACTIONS, reaches_escalation
from iam_grants import (
    PolicyDocumentError,
    Stripped,
    WildcardLevel,
    is_wildcard_action,
    strip_wildcard_grants,
)
from tests.unit.iam_model import (
    ADMINISTRATOR_ACCESS,
    LEVELS,
    PROPERTY_SETTINGS,
    Policy,
    assert_identity_invariants,
    dumps,
    grants_wildcard,
)
from tests.unit.iam_strategies import generated_actions, identity_documents

# Re-exported for test_iam_grants_corpus.py, which imports them from this module.


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(document=identity_documents, level=st.sampled_from(LEVELS))
def test_identity_stripping_never_widens_and_removes_exactly_the_wildcards(
    document: Policy, level: WildcardLevel
) -> None:
    assert_identity_invariants(document, level)


@PROPERTY_SETTINGS
@given(document=identity_documents, level=st.sampled_from(LEVELS))
def test_identity_json_text_and_url_encoded_text_strip_like_the_dict(
    document: Policy, level: WildcardLevel
) -> None:
    text = json.dumps(document)
    expected = strip_wildcard_grants(document, level)
    assert strip_wildcard_grants(text, level) == expected
    assert strip_wildcard_grants(quote(text, safe=""), level) == expected


@PROPERTY_SETTINGS
@given(document=identity_documents)
def test_any_level_removes_at_least_what_service_level_removes(document: Policy) -> None:
    service = strip_wildcard_grants(document, WildcardLevel.SERVICE)
    broad = strip_wildcard_grants(document, WildcardLevel.ANY)
    assert len(broad.removed) >= len(service.removed)
    if service.document is None:
        assert broad.document is None


@PROPERTY_SETTINGS
@given(action=generated_actions)
def test_is_wildcard_action_agrees_with_the_semantic_definition(action: str) -> None:
    for level in LEVELS:
        assert is_wildcard_action(action, level) == grants_wildcard(action, level), level


# ---------------------------------------------------------------------------------------------
# Examples: wildcard actions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "at_service", "at_any"),
    [
        ("*", True, True),
        ("*:*", True, True),
        ("s3:*", True, True),
        ("S3:*", True, True),
        ("iam:**", True, True),
        ("ec2:?*", True, True),
        ("s3:Put*", False, True),
        ("s3:*Object", False, True),
        ("iam:?etRole", False, True),
        ("*:Get*", True, True),  # its service part spans every service
        ("s3:?", False, True),
        ("s3:GetObject", False, False),
        ("S3:GETOBJECT", False, False),
        ("iam*", True, True),  # colon-less: all service part, and it matches iam:PassRole
        ("s3GetObject", False, False),
    ],
)
def test_is_wildcard_action(action: str, at_service: bool, at_any: bool) -> None:
    assert is_wildcard_action(action) is at_service
    assert is_wildcard_action(action, WildcardLevel.SERVICE) is at_service
    assert is_wildcard_action(action, WildcardLevel.ANY) is at_any


# ---------------------------------------------------------------------------------------------
# Examples: identity policies
# ---------------------------------------------------------------------------------------------

# PowerUserAccess as AWS publishes it (the corpus leaves the GPL-licensed copy out).
POWER_USER_ACCESS: Policy = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "NotAction": ["iam:*", "organizations:*", "account:*"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": [
                "iam:CreateServiceLinkedRole",
                "iam:DeleteServiceLinkedRole",
                "iam:ListRoles",
                "organizations:DescribeOrganization",
                "account:ListRegions",
                "account:GetAccountInformation",
            ],
            "Resource": "*",
        },
    ],
}


def test_administrator_access_strips_to_nothing() -> None:
    result = assert_identity_invariants(ADMINISTRATOR_ACCESS, WildcardLevel.SERVICE)
    assert result == Stripped(None, ("statement #1: removed Action '*'",))
    assert result.changed


def test_power_user_access_loses_only_its_not_action_statement() -> None:
    result = assert_identity_invariants(POWER_USER_ACCESS, WildcardLevel.SERVICE)
    assert result.removed == ("statement #1: removed NotAction statement",)
    assert result.document == {
        "Version": "2012-10-17",
        "Statement": [POWER_USER_ACCESS["Statement"][1]],
    }


def test_specific_actions_sid_resource_and_condition_stay_in_order() -> None:
    statement = {
        "Sid": "Mixed",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:*", "iam:PassRole", "*"],
        "Resource": ["arn:aws:s3:::bucket/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "true"}},
    }
    result = strip_wildcard_grants({"Version": "2012-10-17", "Statement": [statement]})
    assert result.removed == (
        "statement 'Mixed': removed Action 's3:*'",
        "statement 'Mixed': removed Action '*'",
    )
    assert result.document == {
        "Version": "2012-10-17",
        "Statement": [{**statement, "Action": ["s3:GetObject", "iam:PassRole"]}],
    }
    assert result.document is not None
    assert list(result.document["Statement"][0]) == list(statement)


def test_a_single_statement_object_stays_an_object() -> None:
    document: Policy = {
        "Version": "2008-10-17",
        "Id": "legacy",
        "Statement": {"Effect": "Allow", "Action": ["s3:*", "s3:GetObject"], "Resource": "*"},
    }
    result = assert_identity_invariants(document, WildcardLevel.SERVICE)
    assert result.document == {
        "Version": "2008-10-17",
        "Id": "legacy",
        "Statement": {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"},
    }
    admin_statement = ADMINISTRATOR_ACCESS["Statement"][0]
    assert strip_wildcard_grants({**document, "Statement": admin_statement}).document is None


def test_a_string_action_that_is_specific_stays_a_string() -> None:
    document = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    result = strip_wildcard_grants(document, WildcardLevel.ANY)
    assert result == Stripped(document, ())
    assert not result.changed


def test_deny_statements_are_never_touched() -> None:
    deny = {"Effect": "Deny", "NotAction": "*", "Resource": "*", "Sid": "DenyAll"}
    deny_star = {"Resource": "*", "Action": ["*", "s3:*"], "Effect": "Deny"}
    document = {"Statement": [deny, ADMINISTRATOR_ACCESS["Statement"][0], deny_star]}
    result = assert_identity_invariants(document, WildcardLevel.ANY)
    assert result.document == {"Statement": [deny, deny_star]}
    assert result.removed == ("statement #2: removed Action '*'",)
    assert [dumps(s) for s in result.document["Statement"]] == [dumps(deny), dumps(deny_star)]


def test_not_resource_statements_lose_their_wildcards_like_any_other() -> None:
    statement = {"Effect": "Allow", "Action": ["iam:*", "iam:GetRole"], "NotResource": "arn:x"}
    result = strip_wildcard_grants({"Statement": [statement]})
    assert result.document == {"Statement": [{**statement, "Action": ["iam:GetRole"]}]}


def test_partial_wildcards_go_only_at_any_level() -> None:
    """Unless they span services ("*:List*") or reach an escalation action: see below."""
    document = {
        "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "*:List*"], "Resource": "*"}]
    }
    assert assert_identity_invariants(document, WildcardLevel.SERVICE).removed == (
        "statement #1: removed Action '*:List*'",
    )
    assert assert_identity_invariants(document, WildcardLevel.ANY).removed == (
        "statement #1: removed Action 's3:Get*'",
        "statement #1: removed Action '*:List*'",
    )


def test_the_input_is_never_mutated_and_the_output_is_a_copy() -> None:
    document: Policy = {
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]
    }
    result = strip_wildcard_grants(document)
    assert result.document == document
    assert result.document is not document
    result.document["Statement"][0]["Action"].append("s3:*")
    assert document["Statement"][0]["Action"] == ["s3:GetObject"]


def test_url_encoded_and_json_text_are_accepted() -> None:
    text = json.dumps(ADMINISTRATOR_ACCESS)
    encoded = quote(text, safe="")
    lower_hex = re.sub("%[0-9A-F]{2}", lambda escape: escape.group().lower(), encoded)
    for given_text in (text, f"  {text}\n", encoded, lower_hex):
        assert strip_wildcard_grants(given_text).document is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "must be an object"),
        (["Statement"], "must be an object"),
        ({"Version": "2012-10-17"}, "no Statement"),
        ({"Statement": "Allow everything"}, "object or a list of objects"),
        ({"Statement": [None]}, "object or a list of objects"),
        ({"Statement": [{"Action": "*", "Resource": "*"}]}, "Effect must be"),
        ({"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}, "Effect must be"),
        ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "exactly one of Action"),
        (
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}
                ]
            },
            "exactly one of Action",
        ),
        ({"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}, "non-empty list"),
        ({"Statement": [{"Effect": "Deny", "Action": [1], "Resource": "*"}]}, "list of strings"),
        ({"Statement": {"Sid": "S", "Effect": "Allow", "Action": None}}, "statement 'S'"),
    ],
)
def test_malformed_identity_documents_raise(document: Any, message: str) -> None:
    with pytest.raises(PolicyDocumentError, match=message):
        strip_wildcard_grants(document)


def test_policy_document_error_is_a_value_error() -> None:
    assert issubclass(PolicyDocumentError, ValueError)


# ---------------------------------------------------------------------------------------------
# Examples: partial wildcards that count at the default (service) level (issue 7 item 13)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        "*:Get*",  # the service part spans every service
        "*:*Object",
        "s?:GetObject",
        "iam*",  # colon-less (IAM rejects it): its service part is the whole pattern
        "iam:P*",  # iam:PassRole, iam:PutRolePolicy...
        "iam:*Policy*",
        "iam:Pass*",
        "IAM:pass*",  # IAM matches actions whatever their case
        "iam:Pass?ole",
        "iam:Set*",  # iam:SetDefaultPolicyVersion
        "sts:Assume*",
        "sts:AssumeRol?",
        "lambda:Update*",
        "ec2:Run*",
        "ssm:Send*",
    ],
)
def test_a_partial_wildcard_that_spans_services_or_reaches_an_escalation_goes_by_default(
    action: str,
) -> None:
    assert is_wildcard_action(action)
    assert is_wildcard_action(action, WildcardLevel.SERVICE)
    statement = {
        "Sid": "Mixed",
        "Effect": "Allow",
        "Action": ["s3:GetObject", action, "s3:Get*"],
        "Resource": "*",
    }
    deny = {"Effect": "Deny", "Action": action, "Resource": "*"}
    result = assert_identity_invariants({"Statement": [statement, deny]}, WildcardLevel.SERVICE)
    assert result.removed == (f"statement 'Mixed': removed Action {action!r}",)
    assert result.document == {
        "Statement": [{**statement, "Action": ["s3:GetObject", "s3:Get*"]}, deny]
    }
    alone = {"Effect": "Allow", "Action": action, "Resource": "*"}
    assert strip_wildcard_grants({"Statement": [alone, deny]}).document == {"Statement": [deny]}
    assert strip_wildcard_grants({"Statement": alone}).document is None


@pytest.mark.parametrize(
    "action",
    ["s3:Get*", "s3:*Object", "iam:Get*", "iam:List*", "ec2:Describe*", "iam:?etRole", "sts:Get*"],
)
def test_a_partial_wildcard_within_a_service_that_reaches_no_escalation_stays_by_default(
    action: str,
) -> None:
    document = {"Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
    assert not is_wildcard_action(action)
    assert not assert_identity_invariants(document, WildcardLevel.SERVICE).changed
    assert assert_identity_invariants(document, WildcardLevel.ANY).document is None


def test_the_escalation_list_is_sorted_specific_and_holds_no_reads() -> None:
    """Its content is checked against the corpus in test_iam_grants_corpus.py."""
    assert list(ESCALATION_ACTIONS) == sorted(ESCALATION_ACTIONS)
    assert len({a.lower() for a in ESCALATION_ACTIONS}) == len(ESCALATION_ACTIONS)
    for action in ESCALATION_ACTIONS:
        service, colon, name = action.partition(":")
        assert colon and service == service.lower() and name[:1].isupper(), action
        assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), action
        assert not name.lower().startswith(("describe", "get", "list")), action
    for action in ("iam:PassRole", "iam:PutRolePolicy", "iam:SetDefaultPolicyVersion"):
        assert action in ESCALATION_ACTIONS


@pytest.mark.parametrize(
    ("pattern", "reaches"),
    [
        ("iam:PassRole", True),
        ("IAM:PASSROLE", True),
        ("iam:p*", True),
        ("i?m:Pass*", True),
        ("*Role", True),
        ("iam:Get*", False),
        ("iam:[P]assRole", False),  # IAM knows no character classes
        ("iam:Pass.ole", False),  # nor regular expressions
        ("s3:*", False),
    ],
)
def test_reaches_escalation_matches_as_iam_does(pattern: str, reaches: bool) -> None:
    assert reaches_escalation(pattern) is reaches
