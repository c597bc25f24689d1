"""core.exemptions: AWS-owned roles, break-glass patterns, and the exemption tag with its expiry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.exemptions import (
    EXEMPT_TAG,
    approval_key,
    builtin_exemption,
    principal_exemption,
    tag_exemption,
    tag_terms,
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


# --- tag_terms: what an approver's tag asks for ---------------------------------------------

MAX = 90
LATEST = date(2027, 2, 22)  # TODAY + 90 days


def test_a_reason_without_until_lasts_the_maximum() -> None:
    terms = tag_terms("legacy app, ticket SEC-123", TODAY, MAX)
    assert (terms.reason, terms.until, terms.problem) == ("legacy app, ticket SEC-123", LATEST, "")
    assert terms.note == "no until=: ends after 90 days"


@pytest.mark.parametrize("value", ["", "   ", "until=2026-12-31", " until=2026-12-31 "])
def test_a_reason_is_required(value: str) -> None:
    # The bypass: an empty tag exempted a policy wherever it was attached.
    terms = tag_terms(value, TODAY, MAX)
    assert terms.problem == "no reason given: write one before until="
    assert terms.until is None


def test_until_within_the_maximum_is_kept() -> None:
    assert tag_terms("migration SEC-9 until=2026-12-31", TODAY, MAX) == (
        "migration SEC-9",
        date(2026, 12, 31),
        "",
        "",
    )
    assert tag_terms("until=2026-11-24 freeze", TODAY, MAX).until == TODAY


def test_until_beyond_the_maximum_is_cut_to_it() -> None:
    # The bypass: until=2099-01-01 was an exemption for life.
    terms = tag_terms("vendor INC-42 until=2099-01-01", TODAY, MAX)
    assert terms.until == LATEST
    assert terms.note == "until=2099-01-01 is beyond the 90-day maximum: ends 2027-02-22"


def test_until_in_the_past_cannot_be_approved() -> None:
    assert tag_terms("freeze until=2026-11-23", TODAY, MAX).problem == "until=2026-11-23 has passed"


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
        "",
    ],
)
def test_malformed_until_cannot_be_approved_and_says_why(raw: str) -> None:
    # A mistyped end date must never turn into a longer exemption.
    terms = tag_terms(f"ticket-7 until={raw}", TODAY, MAX)
    assert terms.problem == f"until={raw!r} is not YYYY-MM-DD"
    assert terms.until is None


@pytest.mark.parametrize(
    "value",
    ["ticket-7 until= 2026-12-01", "ticket-7 Until=2026-12-01", "ticket-7 UNTIL = 2026-12-01",
     "ticket-7\tuntil=\t2026-12-01"],
)  # fmt: skip
def test_until_is_case_insensitive_with_optional_spaces(value: str) -> None:
    assert tag_terms(value, TODAY, MAX) == ("ticket-7", date(2026, 12, 1), "", "")


WORDS = st.text(
    alphabet=st.characters(blacklist_categories=["Z", "C"], blacklist_characters="="),
    min_size=1,
    max_size=20,
)


@given(st.dates(), st.dates(), WORDS, st.integers(min_value=1, max_value=3650))
def test_terms_never_outlast_the_maximum(today: date, until: date, words: str, days: int) -> None:
    from datetime import timedelta

    try:
        today + timedelta(days=days)
    except OverflowError:
        return
    terms = tag_terms(f"x{words} until={until.isoformat()}", today, days)
    if terms.problem:
        assert terms.until is None and until < today
    else:
        assert terms.until is not None
        assert today <= terms.until <= today + timedelta(days=days)
        assert terms.until == min(until, today + timedelta(days=days))


# --- tag_exemption: the runner honours approved tags only ------------------------------------

APPROVAL = {"value": "legacy SEC-1", "until": "2026-12-01", "by": "arn:aws:iam::1:role/A",
            "reason": "legacy SEC-1"}  # fmt: skip


def test_no_tag_no_exemption() -> None:
    assert tag_exemption({}, TODAY, None) == ("", "")
    assert tag_exemption({"team": "payments", "autoremediate": "x"}, TODAY, APPROVAL) == ("", "")


def test_tag_key_is_exact() -> None:
    assert tag_exemption({"AutoRemediate:Exempt": "legacy SEC-1"}, TODAY, APPROVAL) == ("", "")


def test_an_approved_tag_exempts_until_its_end_date() -> None:
    reason, note = tag_exemption({EXEMPT_TAG: "legacy SEC-1"}, TODAY, APPROVAL)
    assert (
        reason
        == f"tag {EXEMPT_TAG} approved by arn:aws:iam::1:role/A until 2026-12-01: legacy SEC-1"
    )
    assert note == ""
    assert tag_exemption({EXEMPT_TAG: "legacy SEC-1"}, date(2026, 12, 1), APPROVAL)[0]
    reason, note = tag_exemption({EXEMPT_TAG: "legacy SEC-1"}, date(2026, 12, 2), APPROVAL)
    assert reason == ""
    assert note == f"tag {EXEMPT_TAG} not honoured: the approval expired on 2026-12-01"


def test_a_tag_without_approval_is_not_honoured() -> None:
    reason, note = tag_exemption({EXEMPT_TAG: "legacy SEC-1"}, TODAY, None)
    assert reason == ""
    assert note == f"tag {EXEMPT_TAG} not honoured: no approval (set by no ExemptionApprover)"


def test_a_changed_or_revoked_value_is_not_honoured() -> None:
    reason, note = tag_exemption({EXEMPT_TAG: "legacy SEC-1 and more"}, TODAY, APPROVAL)
    assert reason == ""
    assert "its value changed since arn:aws:iam::1:role/A approved it" in note
    revoked = {**APPROVAL, "value": None}
    assert tag_exemption({EXEMPT_TAG: "legacy SEC-1"}, TODAY, revoked)[0] == ""


@pytest.mark.parametrize("until", ["", "2026-13-01", "forever"])
def test_an_approval_without_a_valid_end_date_is_not_honoured(until: str) -> None:
    assert tag_exemption({EXEMPT_TAG: "legacy SEC-1"}, TODAY, {**APPROVAL, "until": until})[0] == ""


# --- approval_key ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "key"),
    [
        (
            f"arn:aws:iam::{ACCOUNT}:role/vendors/x/admin",
            f"approval#arn:aws:iam::{ACCOUNT}:role/admin",
        ),
        (f"arn:aws:iam::{ACCOUNT}:role/admin", f"approval#arn:aws:iam::{ACCOUNT}:role/admin"),
        (f"arn:aws:iam::{ACCOUNT}:policy/p/q", f"approval#arn:aws:iam::{ACCOUNT}:policy/q"),
        ("arn:aws:s3:::bucket", "approval#arn:aws:s3:::bucket"),
        (f"arn:aws:sqs:us-east-1:{ACCOUNT}:q", f"approval#arn:aws:sqs:us-east-1:{ACCOUNT}:q"),
    ],
)
def test_approval_key_leaves_iam_paths_out(arn: str, key: str) -> None:
    # TagRole names the role without its path; the remediators' ARNs carry it.
    assert approval_key(arn) == key


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
    tags = tags_to_dict([{"Key": EXEMPT_TAG, "Value": "legacy SEC-1"}])
    assert tag_exemption(tags, TODAY, APPROVAL)[0].endswith("until 2026-12-01: legacy SEC-1")
