"""A small IAM evaluator for identity policies, independent of iam_grants, and the invariants
that iam_grants.strip_wildcard_grants must keep.

Action/resource globbing with explicit Deny; conditions decided by an oracle. The trust-policy
half is in iam_trust_model.py, the generated documents in iam_strategies.py.
test_iam_grants_corpus.py runs the same invariants over real policies.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from hypothesis import settings

from iam_escalation import ESCALATION_ACTIONS
from iam_grants import (
    Stripped,
    WildcardLevel,
    strip_wildcard_grants,
)

LEVELS = tuple(WildcardLevel)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

Policy = dict[str, Any]

# AdministratorAccess as AWS publishes it (the corpus leaves the GPL-licensed copy out).
ADMINISTRATOR_ACCESS: Policy = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
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
# The list is data (test_iam_grants_corpus.py checks it against the corpus); matching is ours.
ESCALATION = tuple(ESCALATION_ACTIONS)


@functools.cache
def grants_wildcard(action: str, level: WildcardLevel) -> bool:
    """Semantic definition: the pattern holds any wildcard at all (ANY); or (SERVICE) it matches
    any action name of its service, or it holds a wildcard and that wildcard reaches beyond one
    service (its part before ":" has one; a colon-less pattern is all service part) or matches
    one of the privilege-escalation actions (as IAM matches: case-insensitively)."""
    wild = "*" in action or "?" in action
    if level is WildcardLevel.ANY and wild:
        return True
    if ":" in action:
        service, name = action.split(":", 1)
        if all(matches_any([name], probe, ignore_case=True) for probe in PROBE_NAMES):
            return True
    else:
        service = action
    if not wild:
        return False
    return (
        "*" in service
        or "?" in service
        or any(matches_any([action], escalation, ignore_case=True) for escalation in ESCALATION)
    )


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


FIXED_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "iam:PassRole",
    "iam:PutRolePolicy",
    "sts:AssumeRole",
    "ec2:RunInstances",
    "zz:Zzzzzzzz",
)
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
