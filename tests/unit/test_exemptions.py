"""core.exemptions: AWS-owned roles, break-glass patterns, and the exemption tag with its expiry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.exemptions import (
    EXEMPT_TAG,
    builtin_exemption,
    principal_exemption,
    tag_exemption,
    tags_to_dict,
)

ACCOUNT = "123456789012"
TODAY = date(2026, 11, 24)

# --- builtin_exemption -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "path"),
    [
        (
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/elasticloadbalancing.amazonaws.com/"
            "AWSServiceRoleForElasticLoadBalancing",
            "/aws-service-role/",
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/support.amazonaws.com/"
            "AWSServiceRoleForSupport",
            "/aws-service-role/",
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
            "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
            "/aws-reserved/",
        ),
        (
            "arn:aws-us-gov:iam::123456789012:role/aws-service-role/config.amazonaws.com/"
            "AWSServiceRoleForConfig",
            "/aws-service-role/",
        ),
        (
            "arn:aws-cn:iam::123456789012:role/aws-reserved/sso.amazonaws.com/"
            "AWSReservedSSO_ReadOnly_0123456789abcdef",
            "/aws-reserved/",
        ),
    ],
)
def test_builtin_exemption_for_aws_owned_roles(arn: str, path: str) -> None:
    reason = builtin_exemption(arn)
    assert reason == f"AWS-owned role (path {path})"


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCOUNT}:role/app-deploy-role",
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role",  # a role *named* so, at the root path
        f"arn:aws:iam::{ACCOUNT}:role/AWSServiceRoleForFake",
        f"arn:aws:iam::{ACCOUNT}:role/team/aws-service-role/x",  # deeper path: not AWS's
        f"arn:aws:iam::{ACCOUNT}:role/aws-reserved-ish/x",
        f"arn:aws:iam::{ACCOUNT}:user/aws-service-role/x",  # a user, not a role
        f"arn:aws:iam::{ACCOUNT}:policy/aws-service-role/x",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        # The role path, but not an IAM ARN.
        f"arn:aws:sts::{ACCOUNT}:assumed-role/aws-service-role/x",
        "arn:aws:s3:::role/aws-service-role/bucket-key",
        f"arn:aws:iam::{ACCOUNT}",
        "role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport",
        f"xarn:aws:iam::{ACCOUNT}:role/aws-service-role/x",
        "",
    ],
)
def test_no_builtin_exemption_for_ordinary_resources(arn: str) -> None:
    assert builtin_exemption(arn) == ""


# IAM paths may contain ':' (characters ! to DEL): only the start of the resource part counts.
@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCOUNT}:role/x:role/aws-service-role/backdoor",
        f"arn:aws:iam::{ACCOUNT}:role/x:role/aws-reserved/backdoor",
        f"arn:aws:iam::{ACCOUNT}:policy/x:role/aws-service-role/wildcard-policy",
        f"arn:aws:iam::{ACCOUNT}:user/x:role/aws-reserved/ci-bot",
    ],
)
def test_builtin_exemption_only_for_the_role_path_itself(arn: str) -> None:
    assert builtin_exemption(arn) == ""


# --- principal_exemption ---------------------------------------------------------------------

BREAKGLASS = "arn:aws:iam::*:role/breakglass/*"


@pytest.mark.parametrize(
    ("arn", "patterns", "matched"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass/admin", (BREAKGLASS,), BREAKGLASS),
        (
            f"arn:aws:iam::{ACCOUNT}:role/breakglass/team/admin",
            ("arn:aws:iam::*:role/breakglass/**",),  # ** spans path segments, * does not
            "arn:aws:iam::*:role/breakglass/**",
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:role/OrgAdmin",
            (BREAKGLASS, f"arn:aws:iam::{ACCOUNT}:role/OrgAdmin"),
            f"arn:aws:iam::{ACCOUNT}:role/OrgAdmin",
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:user/ci-bot",
            ("arn:aws:iam::*:role/*", "arn:aws:iam::*:user/ci-?ot"),
            "arn:aws:iam::*:user/ci-?ot",
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:role/breakglass/admin",
            (BREAKGLASS, "arn:aws:iam::*:role/*"),
            BREAKGLASS,  # the first matching pattern is the one named
        ),
        (
            f"arn:aws-us-gov:iam::{ACCOUNT}:role/breakglass/admin",
            ("arn:*:iam::*:role/breakglass/*",),
            "arn:*:iam::*:role/breakglass/*",
        ),
        (
            # The resource part is kept whole (as ArnLike does): its '*' may cover a ':'.
            f"arn:aws:iam::{ACCOUNT}:role/breakglass/x:y",
            (BREAKGLASS,),
            BREAKGLASS,
        ),
    ],
    ids=[
        "glob",
        "glob-deeper-path",
        "exact-second-pattern",
        "question-mark",
        "first-wins",
        "partition-wildcard",
        "colon-in-path",
    ],
)
def test_principal_exemption_matches_globs_and_exact_arns(
    arn: str, patterns: tuple[str, ...], matched: str
) -> None:
    assert principal_exemption(arn, patterns) == f"principal matches exempt pattern {matched}"


@pytest.mark.parametrize(
    ("arn", "patterns"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/app-deploy-role", (BREAKGLASS,)),
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass", (BREAKGLASS,)),  # the name, not the path
        (f"arn:aws:iam::{ACCOUNT}:role/BreakGlass/admin", (BREAKGLASS,)),  # case-sensitive
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass/admin", ("arn:aws:iam::*:role/BREAKGLASS/*",)),
        (f"arn:aws:iam::{ACCOUNT}:user/breakglass/admin", (BREAKGLASS,)),  # a user, not a role
        (f"arn:aws:iam::{ACCOUNT}:role/OrgAdmin2", (f"arn:aws:iam::{ACCOUNT}:role/OrgAdmin",)),
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass/admin", ()),  # no patterns configured
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass/admin", ("arn:aws:iam::*",)),  # not 6 parts
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass/admin", ("arn:aws:iam::*:role",)),
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass/admin", ("arn:aws:iam:*:role/breakglass/*",)),
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass/admin", ("arn:aws:sts::*:role/breakglass/*",)),
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass/admin", ("*:role/breakglass/*",)),
        ("role/breakglass/admin", ("role/breakglass/*",)),  # not an ARN
    ],
    ids=[
        "other-role",
        "name-not-path",
        "case-arn",
        "case-pattern",
        "user",
        "prefix",
        "none",
        "short-pattern",
        "five-part-pattern",
        "region-swallows-account",
        "other-service",
        "star-spans-parts",
        "not-an-arn",
    ],
)
def test_principal_exemption_no_match(arn: str, patterns: tuple[str, ...]) -> None:
    assert principal_exemption(arn, patterns) == ""


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCOUNT}:role/x:role/breakglass/backdoor",
        f"arn:aws:iam::{ACCOUNT}:policy/x:role/breakglass/wildcard-policy",
        f"arn:aws:iam::{ACCOUNT}:user/x:role/breakglass/ci-bot",
    ],
)
def test_principal_exemption_wildcard_does_not_span_arn_parts(arn: str) -> None:
    # IAM ArnLike matches each colon-delimited part separately: the account '*' is one part.
    assert principal_exemption(arn, (BREAKGLASS,)) == ""


@pytest.mark.parametrize(
    ("arn", "pattern"),
    [
        # Reproduced bypasses: names and paths an attacker chooses under a break-glass pattern.
        (f"arn:aws:iam::{ACCOUNT}:role/BreakGlassX/evil", "arn:aws:iam::*:role/BreakGlass*"),
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass/team/admin", BREAKGLASS),
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass/x:y/admin", BREAKGLASS),
        (f"arn:aws:iam::{ACCOUNT}:role/ci-b/t", "arn:aws:iam::*:role/ci-b?t"),
        (f"arn:aws:iam::{ACCOUNT}:role/breakglass/a", "arn:aws:iam::*:role/breakglass/[ab]"),
    ],
    ids=[
        "name-prefix-then-path",
        "deeper-path",
        "deeper-path-with-colon",
        "question-slash",
        "class",
    ],
)
def test_principal_exemption_wildcard_stays_within_one_path_segment(arn: str, pattern: str) -> None:
    assert principal_exemption(arn, (pattern,)) == ""


def test_principal_exemption_takes_any_sequence_of_patterns() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:role/breakglass/admin"
    reason = principal_exemption(arn, [BREAKGLASS])
    assert reason == f"principal matches exempt pattern {BREAKGLASS}"


# --- tag_exemption ---------------------------------------------------------------------------


def test_no_tag_no_exemption() -> None:
    assert tag_exemption({}, TODAY) == ("", "")
    assert tag_exemption({"team": "payments", "autoremediate": "x"}, TODAY) == ("", "")


def test_tag_key_is_exact() -> None:
    assert tag_exemption({"AutoRemediate:Exempt": "legacy"}, TODAY) == ("", "")


def test_tag_with_a_reason_is_a_permanent_exemption() -> None:
    reason, note = tag_exemption({EXEMPT_TAG: "legacy app, ticket SEC-123"}, TODAY)
    assert reason == f"tag {EXEMPT_TAG}: legacy app, ticket SEC-123"
    assert note == ""


def test_empty_tag_value_is_an_exemption_without_reason() -> None:
    assert tag_exemption({EXEMPT_TAG: ""}, TODAY) == (f"tag {EXEMPT_TAG}: no reason given", "")
    assert tag_exemption({EXEMPT_TAG: "   "}, TODAY) == (f"tag {EXEMPT_TAG}: no reason given", "")


def test_until_in_the_future_is_exempt() -> None:
    reason, note = tag_exemption({EXEMPT_TAG: "migration SEC-9 until=2026-12-31"}, TODAY)
    assert reason == f"tag {EXEMPT_TAG} until 2026-12-31: migration SEC-9"
    assert note == ""


def test_until_first_in_the_value_and_no_reason() -> None:
    reason, note = tag_exemption({EXEMPT_TAG: "until=2026-12-31"}, TODAY)
    assert reason == f"tag {EXEMPT_TAG} until 2026-12-31: no reason given"
    assert note == ""


def test_until_today_is_still_exempt() -> None:
    reason, note = tag_exemption({EXEMPT_TAG: "until=2026-11-24 freeze"}, TODAY)
    assert reason == f"tag {EXEMPT_TAG} until 2026-11-24: freeze"
    assert note == ""


def test_until_yesterday_has_expired() -> None:
    reason, note = tag_exemption({EXEMPT_TAG: "freeze until=2026-11-23"}, TODAY)
    assert reason == ""
    assert note == f"tag {EXEMPT_TAG} expired on 2026-11-23 (freeze)"


def test_long_expired() -> None:
    reason, note = tag_exemption({EXEMPT_TAG: "until=2020-01-01"}, TODAY)
    assert reason == ""
    assert "expired on 2020-01-01" in note


@pytest.mark.parametrize(
    "raw",
    [
        "2026-13-01",
        "31/12/2026",
        "next-week",
        "2026-02-30",
        # date.fromisoformat accepts these, the tag's documented format does not.
        "20991231",
        "2099-W01-1",
        "2099-12-31,",
        "2099-12-31T00:00",
        "\uff12\uff10\uff19\uff19-\uff11\uff12-\uff13\uff11",  # full-width digits
    ],
)
def test_malformed_until_is_not_exempt_and_says_why(raw: str) -> None:
    reason, note = tag_exemption({EXEMPT_TAG: f"ticket-7 until={raw}"}, TODAY)
    assert reason == ""
    assert note == f"tag {EXEMPT_TAG} ignored: until={raw!r} is not YYYY-MM-DD"


@pytest.mark.parametrize(
    "value",
    ["ticket-7 until=", "ticket-7 until= ", "until=", "ticket-7 Until =", "ticket-7 until= soon"],
)
def test_empty_until_is_not_an_exemption(value: str) -> None:
    # A mistyped expiry must never turn into a permanent exemption.
    reason, note = tag_exemption({EXEMPT_TAG: value}, TODAY)
    assert reason == ""
    assert note.startswith(f"tag {EXEMPT_TAG} ignored: until=")
    assert note.endswith(" is not YYYY-MM-DD")


@pytest.mark.parametrize(
    "value",
    [
        "ticket-7 until= 2020-01-01",
        "ticket-7 Until=2020-01-01",
        "ticket-7 UNTIL = 2020-01-01",
        "ticket-7 until =2020-01-01",
        "ticket-7\tuntil=\t2020-01-01",
    ],
)
def test_until_is_case_insensitive_with_optional_spaces(value: str) -> None:
    reason, note = tag_exemption({EXEMPT_TAG: value}, TODAY)
    assert reason == ""
    assert note == f"tag {EXEMPT_TAG} expired on 2020-01-01 (ticket-7)"
    future = value.replace("2020-01-01", "2099-01-01")
    assert tag_exemption({EXEMPT_TAG: future}, TODAY) == (
        f"tag {EXEMPT_TAG} until 2099-01-01: ticket-7",
        "",
    )


WORDS = st.text(
    alphabet=st.characters(blacklist_categories=["Z", "C"], blacklist_characters="="), max_size=20
)


@given(
    st.dates(),
    st.dates(),
    WORDS,
    st.sampled_from(["until", "Until", "UNTIL"]),
    st.sampled_from(["=", " =", "= ", " = "]),
)
def test_until_property(today: date, until: date, words: str, key: str, equals: str) -> None:
    value = f"{words} {key}{equals}{until.isoformat()}"
    reason, note = tag_exemption({EXEMPT_TAG: value}, today)
    assert bool(reason) != bool(note)  # exactly one of: exempt, or a note saying why not
    assert bool(reason) == (today <= until)


# --- tags_to_dict ----------------------------------------------------------------------------


def test_tags_to_dict() -> None:
    tags: list[Mapping[str, str]] = [
        {"Key": EXEMPT_TAG, "Value": "legacy"},
        {"Key": "team", "Value": "payments"},
    ]
    assert tags_to_dict(tags) == {EXEMPT_TAG: "legacy", "team": "payments"}


def test_tags_to_dict_empty_and_missing_value() -> None:
    assert tags_to_dict(None) == {}
    assert tags_to_dict([]) == {}
    assert tags_to_dict([{"Key": "k"}]) == {"k": ""}


def test_tags_to_dict_feeds_tag_exemption() -> None:
    tags = tags_to_dict([{"Key": EXEMPT_TAG, "Value": "until=2026-12-01 SEC-1"}])
    assert tag_exemption(tags, TODAY)[0] == f"tag {EXEMPT_TAG} until 2026-12-01: SEC-1"
