"""iam_grants strips wildcard grants without ever widening access.

The module is checked against an independent, deliberately small IAM evaluator written here:
action/resource globbing for identity policies, principal and condition matching for trust
policies, and a stranger (someone in account 999999999999) who controls every request value
that is theirs to choose. test_iam_grants_corpus.py runs the same invariants over real policies.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iam_grants import (
    DENY_ALL_TRUST,
    PolicyDocumentError,
    Stripped,
    WildcardLevel,
    is_wildcard_action,
    strip_open_trust,
    strip_wildcard_grants,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "policies"
LEVELS = tuple(WildcardLevel)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

Policy = dict[str, Any]
Holds = Callable[[Any], bool]  # does this Condition hold for the request?

# ---------------------------------------------------------------------------------------------
# A small IAM evaluator, independent of the module under test
# ---------------------------------------------------------------------------------------------


@functools.cache
def _glob(patterns: tuple[str, ...], ignore_case: bool) -> re.Pattern[str]:
    """One regex for "any of these IAM patterns": * is any run of characters, ? is one."""
    alternatives = (
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        for pattern in patterns
    )
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("(?:" + "|".join(alternatives) + ")", flags)


def matches_any(patterns: Sequence[str], value: str, *, ignore_case: bool) -> bool:
    return bool(patterns) and _glob(tuple(patterns), ignore_case).fullmatch(value) is not None


def listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str | int) else list(value)


def statements(document: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if document is None:
        return []
    raw = document["Statement"]
    return [raw] if isinstance(raw, dict) else list(raw)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=False)


def _conditions_hold(condition: Any) -> bool:
    return True


def _no_condition_holds(condition: Any) -> bool:
    return False


def _some_conditions_hold(condition: Any) -> bool:
    """Each distinct condition holds or not, the same way in the original and the result."""
    return zlib.crc32(json.dumps(condition, sort_keys=True).encode()) % 2 == 0


ORACLES: tuple[Holds, ...] = (_conditions_hold, _no_condition_holds, _some_conditions_hold)


def _matcher(statement: Mapping[str, Any], key: str, ignore_case: bool) -> Callable[[str], bool]:
    """Whether a request value is covered by Key (or, for NotKey, is not excluded by it)."""
    if key in statement:
        pattern = _glob(tuple(listed(statement[key])), ignore_case)
        return lambda value: pattern.fullmatch(value) is not None
    if f"Not{key}" in statement:
        excluded = _glob(tuple(listed(statement[f"Not{key}"])), ignore_case)
        return lambda value: excluded.fullmatch(value) is None
    return lambda value: True


def identity_decider(document: Policy | None, holds: Holds) -> Callable[[str, str], bool]:
    """allows(action, resource): explicit Deny wins, else allowed when some Allow matches.

    Conditions are decided once per statement by the oracle `holds`.
    """
    active = [
        (s["Effect"] == "Deny", _matcher(s, "Action", True), _matcher(s, "Resource", False))
        for s in statements(document)
        if "Condition" not in s or holds(s["Condition"])
    ]

    def allows(action: str, resource: str) -> bool:
        matching = [
            deny
            for deny, on_action, on_resource in active
            if on_action(action) and on_resource(resource)
        ]
        return bool(matching) and not any(matching)

    return allows


PROBE_NAMES = ("Zzzzzzzz", "Wwwwwwwwwwwwwww")  # no generated or real action name matches these


@functools.cache
def grants_wildcard(action: str, level: WildcardLevel) -> bool:
    """Semantic definition: the pattern matches any action name of its service (SERVICE), or
    it holds any wildcard at all (ANY). A colon-less pattern counts only if it matches any
    "service:name" (which "*" does and "iam*" does not)."""
    if level is WildcardLevel.ANY and ("*" in action or "?" in action):
        return True
    if ":" in action:
        name = action.split(":", 1)[1]
        return all(matches_any([name], probe, ignore_case=True) for probe in PROBE_NAMES)
    return all(matches_any([action], f"zzsvc:{probe}", ignore_case=True) for probe in PROBE_NAMES)


def has_wildcard_grant(statement: Mapping[str, Any], level: WildcardLevel) -> bool:
    if statement["Effect"] != "Allow":
        return False
    if "NotAction" in statement:
        return True
    return any(grants_wildcard(action, level) for action in listed(statement["Action"]))


def expected_identity_survivor(statement: Policy, level: WildcardLevel) -> Policy | None:
    """Reference model: what must remain of one statement (precisely the wildcards go)."""
    if statement["Effect"] == "Deny":
        return statement
    if "NotAction" in statement:
        return None
    actions = statement["Action"]
    if isinstance(actions, str):
        return None if grants_wildcard(actions, level) else statement
    kept = [action for action in actions if not grants_wildcard(action, level)]
    return {**statement, "Action": kept} if kept else None


FIXED_ACTIONS = ("s3:GetObject", "s3:PutObject", "iam:PassRole", "ec2:RunInstances", "zz:Zzzzzzzz")
FIXED_RESOURCES = ("arn:aws:s3:::bucket/key", "arn:aws:iam::111122223333:role/Ops", "other")


def instances(pattern: str) -> set[str]:
    """Concrete strings that a pattern matches, plus a case variant."""
    filled = {
        pattern.replace("*", "").replace("?", "Q"),
        pattern.replace("*", "Xy").replace("?", "Q"),
    }
    return filled | {value.swapcase() for value in filled}


def _sample(values: set[str], limit: int, salt: str) -> list[str]:
    """All values, or a deterministic subset of them (the corpus has policies of 2,000 actions)."""
    ordered = sorted(values)
    if len(ordered) <= limit:
        return ordered
    return sorted(ordered, key=lambda v: zlib.crc32(f"{salt}{v}".encode()))[:limit]


def identity_requests(document: Policy, limit: int, salt: str) -> Iterator[tuple[str, str]]:
    actions: set[str] = set(FIXED_ACTIONS)
    resources: set[str] = set(FIXED_RESOURCES)
    for statement in statements(document):
        for key, bucket in (
            ("Action", actions),
            ("NotAction", actions),
            ("Resource", resources),
            ("NotResource", resources),
        ):
            for pattern in listed(statement.get(key, [])):
                bucket |= instances(pattern)
    return itertools.product(_sample(actions, limit, salt), _sample(resources, limit // 3, salt))


def assert_identity_invariants(
    original: Policy, level: WildcardLevel, *, limit: int = 30
) -> Stripped:
    """(a) never widen, (b) no wildcard grant left, (c) Deny kept, (d) precise, (e) idempotent."""
    before = dumps(original)
    result = strip_wildcard_grants(original, level)
    assert dumps(original) == before, "the input was mutated"
    kept = statements(result.document)

    if result.changed:  # an unchanged document is compared whole below
        requests = list(identity_requests(original, limit, salt=before[:200]))
        for holds in ORACLES:
            allowed_before = identity_decider(original, holds)
            allowed_after = identity_decider(result.document, holds)
            for action, resource in requests:
                if allowed_after(action, resource):
                    assert allowed_before(action, resource), (action, resource, holds.__name__)

    assert not [s for s in kept if has_wildcard_grant(s, level)]

    assert [dumps(s) for s in statements(original) if s["Effect"] == "Deny"] == [
        dumps(s) for s in kept if s["Effect"] == "Deny"
    ]

    expected = [expected_identity_survivor(s, level) for s in statements(original)]
    assert [dumps(s) for s in kept] == [dumps(s) for s in expected if s is not None]
    wild = [s for s in statements(original) if has_wildcard_grant(s, level)]
    assert result.changed == bool(wild)
    assert len(result.removed) == sum(
        1 if "NotAction" in s else sum(grants_wildcard(a, level) for a in listed(s["Action"]))
        for s in wild
    )
    assert all(note.startswith("statement ") for note in result.removed)
    if not result.changed:
        assert result.document == original

    _assert_same_frame(original, result)
    if result.document is not None:
        again = strip_wildcard_grants(result.document, level)
        assert not again.changed
        assert again.document == result.document
        assert not strip_wildcard_grants(result.document, WildcardLevel.SERVICE).changed
    return result


def _assert_same_frame(original: Policy, result: Stripped) -> None:
    """Top-level keys, their order and the Statement shape survive; None only when nothing does."""
    if result.document is None:
        assert statements(original) and not any(s["Effect"] == "Deny" for s in statements(original))
        return
    assert list(result.document) == list(original)
    assert {k: v for k, v in result.document.items() if k != "Statement"} == {
        k: v for k, v in original.items() if k != "Statement"
    }
    assert isinstance(result.document["Statement"], dict) == isinstance(original["Statement"], dict)


# Trust policies -------------------------------------------------------------------------------

WHO_KEYS = frozenset(
    {
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceorgid",
        "aws:userid",
        "sts:externalid",
    }
)
STRANGERS = (
    ("AWS", "arn:aws:iam::999999999999:root"),
    ("AWS", "arn:aws:iam::999999999999:role/Ops"),
)
# What a stranger can put in the request. "*" is there because a caller passes any ExternalId
# it likes (and a literal "*" for the other keys pins only a caller that cannot exist).
STRANGER_VALUES: dict[str, tuple[str, ...]] = {
    "aws:principalaccount": ("999999999999", "*"),
    "aws:principalorgid": ("o-stranger", "*"),
    "aws:principalorgpaths": ("o-stranger/r-zz99/ou-zz99-99999999/", "*"),
    "aws:sourceaccount": ("999999999999", "*"),
    "aws:sourcearn": ("arn:aws:s3:::stranger-bucket", "arn:aws:sns:us-east-1:999999999999:topic"),
    "aws:sourceorgid": ("o-stranger", "*"),
    "aws:userid": ("AROASTRANGER:evil", "*"),
    "sts:externalid": ("guess", "*"),
}
Context = Mapping[str, str]  # lower-case condition key -> the request's value; absent if missing


def principal_matches(spec: Any, principal: tuple[str, str]) -> bool:
    if spec == "*":
        return True
    kind, value = principal
    return any(
        k.lower() == kind.lower() and ("*" in listed(v) or value in listed(v))
        for k, v in spec.items()
    )


def _value_matches(operator: str, request: str, wanted: str) -> bool:
    if operator == "StringEquals":
        return request == wanted
    if operator == "StringEqualsIgnoreCase":
        return request.lower() == wanted.lower()
    if operator == "StringLike":
        return matches_any([wanted], request, ignore_case=False)
    if operator in ("ArnLike", "ArnEquals"):  # both take wildcards, component by component
        pattern_parts, request_parts = wanted.split(":", 5), request.split(":", 5)
        if len(pattern_parts) == len(request_parts) == 6:
            return all(
                matches_any([p], r, ignore_case=False)
                for p, r in zip(pattern_parts, request_parts, strict=True)
            )
        return matches_any([wanted], request, ignore_case=False)
    raise AssertionError(f"the test evaluator does not know {operator} on a caller key")


def operator_holds(operator: str, key: str, policy_values: Any, context: Context) -> bool:
    """IAM condition semantics for one operator/key pair (missing keys included)."""
    key = key.lower()
    if key not in WHO_KEYS:
        return True  # transport, region, tags, time...: the caller arranges them
    set_operator, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    wanted = [str(v) for v in listed(policy_values)]
    request = context.get(key)
    if operator == "Null":
        return (request is None) == (wanted[0].lower() == "true")
    negated = "Not" in operator
    if request is None:
        if if_exists or set_operator == "ForAllValues":
            return True
        return set_operator != "ForAnyValue" and negated
    hit = any(_value_matches(operator.replace("Not", ""), request, w) for w in wanted)
    return hit != negated


def condition_holds(condition: Mapping[str, Any], context: Context) -> bool:
    return all(
        operator_holds(operator, key, values, context)
        for operator, block in condition.items()
        for key, values in block.items()
    )


def stranger_contexts(statement: Mapping[str, Any], principal_arn: str) -> Iterator[Context]:
    """Every request a stranger can make against this statement's caller keys."""
    keys = sorted(
        {key.lower() for block in statement.get("Condition", {}).values() for key in block}
        & WHO_KEYS
    )
    choices = {**STRANGER_VALUES, "aws:principalarn": (principal_arn, "*")}
    for size in range(len(keys) + 1):
        for present in itertools.combinations(keys, size):
            for values in itertools.product(*(choices[key] for key in present)):
                yield dict(zip(present, values, strict=True))


def admits_stranger(statement: Mapping[str, Any]) -> bool:
    """Whether this statement alone lets someone outside every trusted party assume the role."""
    if statement["Effect"] != "Allow":
        return False
    if "NotPrincipal" in statement:
        return True  # Allow + NotPrincipal trusts everyone not listed
    condition = statement.get("Condition", {})
    return any(
        condition_holds(condition, context)
        for stranger in STRANGERS
        if principal_matches(statement["Principal"], stranger)
        for context in stranger_contexts(statement, stranger[1])
    )


def trust_allows(
    document: Policy | None, principal: tuple[str, str], action: str, holds: Holds
) -> bool:
    allowed = False
    for statement in statements(document):
        if "Condition" in statement and not holds(statement["Condition"]):
            continue
        if not matches_any(listed(statement.get("Action", "*")), action, ignore_case=True):
            continue
        if "Principal" in statement:
            principal_ok = principal_matches(statement["Principal"], principal)
        else:
            principal_ok = not principal_matches(statement["NotPrincipal"], principal)
        if principal_ok:
            if statement["Effect"] == "Deny":
                return False
            allowed = True
    return allowed


def expected_trust_survivor(statement: Policy) -> Policy | None:
    """Reference model: an open Allow loses its "*" (or goes); everything else stays."""
    if not admits_stranger(statement):
        return statement
    if "NotPrincipal" in statement or statement["Principal"] == "*":
        return None
    principal: dict[str, Any] = {}
    for kind, value in statement["Principal"].items():
        if kind.lower() == "aws" and "*" in listed(value):
            if rest := [v for v in listed(value) if v != "*"]:
                principal[kind] = rest
        else:
            principal[kind] = value
    return {**statement, "Principal": principal} if principal else None


def assert_trust_invariants(original: Policy) -> Stripped:
    """Trusts a subset, no open grant left, Deny kept, precise, idempotent."""
    before = dumps(original)
    result = strip_open_trust(original)
    assert dumps(original) == before, "the input was mutated"
    kept = statements(result.document)
    effective = result.document if result.document is not None else DENY_ALL_TRUST

    principals = set(STRANGERS) | {("Service", "ec2.amazonaws.com")}
    actions = {"sts:AssumeRole"}
    for statement in statements(original):
        spec = statement.get("Principal", statement.get("NotPrincipal"))
        if isinstance(spec, dict):
            principals |= {(kind, v) for kind, values in spec.items() for v in listed(values)}
        actions |= {a.replace("*", "X") for a in listed(statement.get("Action", []))}
    oracles: list[Holds] = [*ORACLES]
    oracles += [functools.partial(condition_holds, context=c) for c in sampled_contexts(original)]
    for principal, action in itertools.product(sorted(principals), sorted(actions)):
        for holds in oracles:
            if trust_allows(effective, principal, action, holds):
                assert trust_allows(original, principal, action, holds), (principal, action)

    assert not [s for s in kept if admits_stranger(s)]
    assert [dumps(s) for s in statements(original) if s["Effect"] == "Deny"] == [
        dumps(s) for s in kept if s["Effect"] == "Deny"
    ]
    expected = [expected_trust_survivor(s) for s in statements(original)]
    assert [dumps(s) for s in kept] == [dumps(s) for s in expected if s is not None]
    assert result.changed == any(admits_stranger(s) for s in statements(original))
    if not result.changed:
        assert result.document == original
    _assert_same_frame(original, result)
    if result.document is not None:
        again = strip_open_trust(result.document)
        assert not again.changed
        assert again.document == result.document
    return result


def sampled_contexts(document: Policy) -> list[Context]:
    """A few whole-document requests: no caller key, all of them, all but one."""
    keys = sorted(
        {
            key.lower()
            for statement in statements(document)
            for block in statement.get("Condition", {}).values()
            for key in block
        }
        & WHO_KEYS
    )
    choices = {**STRANGER_VALUES, "aws:principalarn": (STRANGERS[1][1], "*")}
    full = [{key: choices[key][i % len(choices[key])] for key in keys} for i in range(2)]
    all_but_one = [{k: v for k, v in full[0].items() if k != gone} for gone in keys]
    return [{}, *full, *all_but_one]


# ---------------------------------------------------------------------------------------------
# Generated policy documents
# ---------------------------------------------------------------------------------------------

SPECIFIC_ACTIONS = ("s3:GetObject", "S3:getobject", "iam:PassRole", "ec2:DescribeInstances")
SERVICE_WILDCARDS = ("*", "*:*", "s3:*", "S3:*", "IAM:*", "s3:**", "ec2:?*")
PARTIAL_WILDCARDS = ("s3:Put*", "s3:*Object", "iam:?etRole", "*:Get*", "iam:Pass?ole", "s3:?")
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
    st.sampled_from(SPECIFIC_ACTIONS + SERVICE_WILDCARDS + PARTIAL_WILDCARDS + MALFORMED_ACTIONS),
    st.builds(
        "{}:{}".format,
        st.sampled_from(("s3", "iam", "ec2", "*", "s?")),
        st.text(alphabet="GetPutObjc*?", min_size=1, max_size=6),
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


PRINCIPAL_VALUES = {
    "AWS": (
        "*",
        "arn:aws:iam::111122223333:root",
        "111122223333",
        "arn:aws:iam::444455556666:role/Ops",
    ),
    "Service": ("ec2.amazonaws.com", "lambda.amazonaws.com"),
    "Federated": ("cognito-identity.amazonaws.com", "arn:aws:iam::111122223333:saml-provider/Okta"),
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
    """Up to two operator/key pairs on distinct keys (each pair then depends on its key only)."""
    condition: dict[str, dict[str, Any]] = {}
    keys = draw(
        st.lists(st.sampled_from(sorted(CONDITION_VALUES)), max_size=2, unique_by=str.lower)
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
        one_or_many(st.sampled_from(("sts:AssumeRole", "sts:TagSession", "sts:*")))
    )
    if condition := draw(trust_conditions()):
        statement["Condition"] = condition
    return draw(shuffled(statement))


identity_documents = documents(identity_statements())
trust_documents = documents(trust_statements())

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
@given(document=trust_documents)
def test_trust_stripping_trusts_a_subset_and_leaves_no_open_grant(document: Policy) -> None:
    assert_trust_invariants(document)


@PROPERTY_SETTINGS
@given(document=trust_documents)
def test_trust_json_text_and_url_encoded_text_strip_like_the_dict(document: Policy) -> None:
    text = json.dumps(document)
    assert strip_open_trust(text) == strip_open_trust(document)
    assert strip_open_trust(quote(text, safe="")) == strip_open_trust(document)


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
        ("*:Get*", False, True),
        ("s3:?", False, True),
        ("s3:GetObject", False, False),
        ("S3:GETOBJECT", False, False),
        ("iam*", False, True),
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

ADMINISTRATOR_ACCESS: Policy = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
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
    document = {
        "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "*:List*"], "Resource": "*"}]
    }
    assert not assert_identity_invariants(document, WildcardLevel.SERVICE).changed
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
        ("StringLike", "aws:userid", "AROAEXAMPLEID:*"),
        ("StringEquals", "sts:ExternalId", "12345"),
        ("StringEqualsIgnoreCase", "sts:externalid", "12345"),
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


def test_the_fixtures_are_there() -> None:
    assert len(IDENTITY_FIXTURES) >= 5
    assert len(TRUST_FIXTURES) >= 3


@pytest.mark.parametrize("name", IDENTITY_FIXTURES)
@pytest.mark.parametrize("level", LEVELS)
def test_real_identity_policies_keep_the_invariants(name: str, level: WildcardLevel) -> None:
    assert_identity_invariants(fixture(name)["PolicyDocument"], level)


@pytest.mark.parametrize("name", TRUST_FIXTURES)
def test_real_trust_policies_are_already_closed(name: str) -> None:
    text = fixture(name)["AssumeRolePolicyDocument"]
    result = strip_open_trust(text)
    assert not result.changed
    assert result.document is not None
    assert_trust_invariants(result.document)


def test_real_trust_with_principal_star_is_pinned_by_its_external_id() -> None:
    document = json.loads(
        fixture("trust-panther-backdoor-role-externalid.json")["AssumeRolePolicyDocument"]
    )
    assert document["Statement"][0]["Principal"] == "*"
    assert not strip_open_trust(document).changed
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
