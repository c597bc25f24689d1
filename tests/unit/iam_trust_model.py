"""A small IAM evaluator for trust policies, independent of iam_grants, and the invariants
that iam_grants.strip_open_trust must keep.

Principal and condition matching, and strangers who control every request value that is theirs
to choose: someone in account 999999999999, and, for each web identity provider a statement
trusts, someone holding a token of that issuer who is not the subject the policy names.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from iam_grants import (
    DENY_ALL_TRUST,
    Stripped,
    strip_open_trust,
)
from tests.unit.iam_model import (
    ORACLES,
    Holds,
    Policy,
    _assert_same_frame,
    dumps,
    listed,
    matches_any,
    statements,
)

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
    }
)  # not aws:userid nor sts:ExternalId: a stranger arranges them (see STRANGER_VALUES)
STRANGERS = (
    ("AWS", "arn:aws:iam::999999999999:root"),
    ("AWS", "arn:aws:iam::999999999999:role/Ops"),
)
# What a stranger can put in the request ("*" is there because a literal "*" pins only a
# caller that cannot exist). sts:ExternalId is theirs to choose, and aws:userid patterns match
# some caller in their account: both are left out of WHO_KEYS, so they always hold.
STRANGER_VALUES: dict[str, tuple[str, ...]] = {
    "aws:principalaccount": ("999999999999", "*"),
    "aws:principalorgid": ("o-stranger", "*"),
    "aws:principalorgpaths": ("o-stranger/r-zz99/ou-zz99-99999999/", "*"),
    "aws:sourceaccount": ("999999999999", "*"),
    "aws:sourcearn": ("arn:aws:s3:::stranger-bucket", "arn:aws:sns:us-east-1:999999999999:topic"),
    "aws:sourceorgid": ("o-stranger", "*"),
}
Context = Mapping[str, str]  # lower-case condition key -> the request's value; absent if missing

# Web identities ------------------------------------------------------------------------------

GITHUB = "token.actions.githubusercontent.com"
COGNITO = "cognito-identity.amazonaws.com"
STRANGER_CLAIMS = {
    "sub": ("*", "repo:stranger-org/app:ref:refs/heads/main", "system:serviceaccount:evil:x"),
    "aud": ("*", "us-east-1:99999999-stranger-pool"),
    "amr": ("*",),  # the rule asks for an amr check: a stranger is one whose amr nobody checks
}
FILLINGS = ("stranger-org/evil", "X")  # what a stranger puts where a pattern has a wildcard


def claims_of(federated: str) -> tuple[str, ...]:
    """The claims (lower-case condition keys) that tell apart the callers of a web identity
    provider; () for SAML and other federation, which these rules leave alone."""
    lowered = federated.lower()
    if lowered == COGNITO:
        return (f"{COGNITO}:aud", f"{COGNITO}:amr")
    if ":oidc-provider/" in lowered:
        return (lowered.split(":oidc-provider/", 1)[1] + ":sub",)
    return (f"{GITHUB}:sub",) if lowered == GITHUB else ()


def _github_owner(subject: str) -> str | None:
    """The owner that a GitHub subject (or the text before a pattern's first wildcard) names."""
    found = re.match(r"repo:([^/]+)/", re.split(r"[*?]", subject)[0])
    return found.group(1) if found else None


def claim_values(key: str, condition: Mapping[str, Any]) -> list[str]:
    """What a stranger with a token of this issuer presents for a claim: a few values of their
    own and every pattern of the condition filled in, but never a subject the policy names (a
    value without wildcards; for GitHub, any subject of an owner it names)."""
    written = [
        (operator, str(value))
        for operator, block in condition.items()
        for k, values in block.items()
        if k.lower() == key
        for value in listed(values)
    ]
    claim = key.rsplit(":", 1)[1]
    candidates = set(STRANGER_CLAIMS[claim])
    if claim != "amr":
        candidates |= {
            re.sub(r"[*?]", filling, value) for _, value in written for filling in FILLINGS
        }
    named = [value for operator, value in written if "Not" not in operator and operator != "Null"]
    trusted = {value for value in named if "*" not in value and "?" not in value}
    owners = {_github_owner(value) for value in named} - {None}
    github = key.removesuffix(":sub").split("/")[0] == GITHUB and claim == "sub"
    return sorted(
        value
        for value in candidates
        if value not in trusted and not (github and _github_owner(value) in owners)
    )


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


def operator_holds(
    operator: str,
    key: str,
    policy_values: Any,
    context: Context,
    controlled: Collection[str] = WHO_KEYS,
) -> bool:
    """IAM condition semantics for one operator/key pair (missing keys included)."""
    key = key.lower()
    if key not in controlled:
        return True  # transport, region, tags, time, other issuers' claims: the caller arranges
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


def condition_holds(
    condition: Mapping[str, Any], context: Context, controlled: Collection[str] = WHO_KEYS
) -> bool:
    return all(
        operator_holds(operator, key, values, context, controlled)
        for operator, block in condition.items()
        for key, values in block.items()
    )


def stranger_contexts(
    statement: Mapping[str, Any], principal_arn: str, claims: Collection[str] = ()
) -> Iterator[Context]:
    """Every request a stranger can make against this statement's caller keys (and claims)."""
    condition = statement.get("Condition", {})
    keys = sorted(
        {key.lower() for block in condition.values() for key in block} & (WHO_KEYS | set(claims))
    )
    choices: dict[str, Collection[str]] = {
        **STRANGER_VALUES,
        "aws:principalarn": (principal_arn, "*"),
        **{claim: claim_values(claim, condition) for claim in claims},
    }
    for size in range(len(keys) + 1):
        for present in itertools.combinations(keys, size):
            for values in itertools.product(*(choices[key] for key in present)):
                yield dict(zip(present, values, strict=True))


def strangers(statement: Mapping[str, Any]) -> Iterator[tuple[tuple[str, str], tuple[str, ...]]]:
    """(stranger, the claims they control besides WHO_KEYS): the accounts' strangers, and for
    each web identity provider that the statement names, one per claim that must be checked
    (a Cognito pool: a user of another pool, and an identity of this one whose amr nobody
    checks); the other claims they arrange."""
    for stranger in STRANGERS:
        yield stranger, ()
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        for kind, values in principal.items():
            for value in listed(values) if kind.lower() == "federated" else []:
                for claim in claims_of(value):
                    yield (kind, value), (claim,)


def admitted(statement: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The strangers that this Allow statement (with a Principal) alone lets assume the role."""
    condition = statement.get("Condition", {})
    return [
        stranger
        for stranger, claims in strangers(statement)
        if principal_matches(statement["Principal"], stranger)
        and any(
            condition_holds(condition, context, WHO_KEYS | set(claims))
            for context in stranger_contexts(statement, STRANGERS[1][1], claims)
        )
    ]


def admits_stranger(statement: Mapping[str, Any]) -> bool:
    """Whether this statement alone lets someone outside every trusted party assume the role."""
    if statement["Effect"] != "Allow":
        return False
    if "NotPrincipal" in statement:
        return True  # Allow + NotPrincipal trusts everyone not listed
    return bool(admitted(statement))


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
    """Reference model: an open Allow loses its "*" and the providers that let strangers in (or
    goes); everything else stays."""
    if not admits_stranger(statement):
        return statement
    if "NotPrincipal" in statement or statement["Principal"] == "*":
        return None
    let_in = admitted(statement)
    principal: dict[str, Any] = {}
    for kind, value in statement["Principal"].items():
        if kind.lower() == "aws" and "*" in listed(value) and set(STRANGERS) & set(let_in):
            if rest := [v for v in listed(value) if v != "*"]:
                principal[kind] = rest
        elif kind.lower() == "federated" and any((kind, v) in let_in for v in listed(value)):
            if rest := [v for v in listed(value) if (kind, v) not in let_in]:
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
