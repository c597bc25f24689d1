"""What a wildcard grant in an IAM policy document is, and how to strip it precisely.

Pure functions, no AWS call: a remediator reads a document, asks for the stripped version and
writes that back. Each function only removes grants (whole Allow statements, single actions,
single principals) and never touches a Deny, so the result never allows more than the input.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Container, Iterator
from enum import StrEnum
from typing import Any, Final, NamedTuple
from urllib.parse import unquote

from iam_escalation import reaches_escalation

#: What the caller writes when no trust statement remains: IAM needs some trust policy, and one
#: that trusts nobody is the only one that cannot widen anything. Copy it before changing it.
DENY_ALL_TRUST: Final[dict[str, Any]] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AutoremediateNoOpenTrust",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sts:AssumeRole",
        }
    ],
}

_WILDCARDS: Final = frozenset("*?")

# Condition keys that say who is calling: a trust statement open to "*" is closed only by one
# of these. Keys are compared lower-cased because IAM condition keys are case-insensitive.
# Not sts:ExternalId (the caller chooses it: it is no secret) nor aws:userid (its patterns,
# "AROA*" or "*:*", match callers of every account).
_WHO_KEYS: Final = frozenset(
    {
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceorgid",
    }
)
_ARN_KEYS: Final = frozenset({"aws:principalarn", "aws:sourcearn"})
_OWNER_ID_KEYS: Final = frozenset(
    {"aws:principalorgid", "aws:principalaccount", "aws:sourceaccount", "aws:sourceorgid"}
)
_ORG_PATH_KEYS: Final = frozenset({"aws:principalorgpaths"})

# Web identities. Every GitHub repository gets tokens from one issuer with one audience, so only
# `<issuer>:sub` tells them apart; a Cognito identity pool needs its pool (aud) and amr pinned.
_OIDC_PROVIDER: Final = "oidc-provider/"
_GITHUB: Final = "token.actions.githubusercontent.com"
_COGNITO: Final = "cognito-identity.amazonaws.com"
# A GitHub subject names its owner first ("repo:octo-org/app:ref:refs/heads/main"): a pattern
# whose text before the first wildcard holds "repo:<owner>/" pins that owner.
_GITHUB_OWNER: Final = re.compile(r"repo:[^/]+/")

# Only these operators can pin a caller (see _pairs).
_EXACT_OPERATORS: Final = frozenset({"stringequals", "stringequalsignorecase"})
# ArnEquals takes wildcards exactly like ArnLike does.
_PATTERN_OPERATORS: Final = frozenset({"stringlike", "arnlike", "arnequals"})


class PolicyDocumentError(ValueError):
    """The document does not have the shape of an IAM policy, so nothing can be stripped safely."""


class WildcardLevel(StrEnum):
    """How broad an action must be to count as a wildcard grant."""

    # the action part is only wildcards ("*", "*:*", "s3:*"), or a partial wildcard spans
    # services ("*:Get*", "s?:GetObject") or reaches an escalation action ("iam:P*")
    SERVICE = "service"
    ANY = "any"  # also every other partial wildcard: "s3:Put*", "s3:*Object", "iam:?etRole"


class Stripped(NamedTuple):
    """A stripped document and what was removed, phrased for the notification. A NamedTuple:
    cheaper at cold start than a frozen dataclass (see core.outcome)."""

    document: dict[str, Any] | None  # None: no statement remains (delete or detach instead)
    removed: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """Whether anything was removed (otherwise the document equals the input)."""
        return bool(self.removed)


def is_wildcard_action(action: str, level: WildcardLevel = WildcardLevel.SERVICE) -> bool:
    """Whether an action pattern is a wildcard grant at this level.

    SERVICE: the action part is only wildcards ("s3:?*" matches every s3 action), or the pattern
    holds a wildcard and either its service part does too ("*:Get*"; a colon-less pattern, which
    IAM rejects, is all service part) or it matches an escalation action ("iam:P*", case-
    insensitively like IAM). ANY: every pattern that holds "*" or "?".
    """
    service, colon, name = action.partition(":")
    name = name if colon else action
    if name and set(name) <= _WILDCARDS and "*" in name:
        return True
    if _WILDCARDS.isdisjoint(action):
        return False
    if level == WildcardLevel.ANY or not _WILDCARDS.isdisjoint(service):
        return True
    return reaches_escalation(action)


def strip_wildcard_grants(
    document: dict[str, Any] | str, level: WildcardLevel = WildcardLevel.SERVICE
) -> Stripped:
    """Remove wildcard actions and NotAction grants from the Allow statements of a policy.

    Specific actions, Resource, Condition, Sid and statement order stay; a statement goes only
    when no action remains in it.
    """

    def strip(statement: dict[str, Any], label: str) -> tuple[dict[str, Any] | None, list[str]]:
        if "NotAction" in statement:
            return None, [f"{label}: removed NotAction statement"]
        actions = statement["Action"]
        listed: list[str] = [actions] if isinstance(actions, str) else actions
        wild = [action for action in listed if is_wildcard_action(action, level)]
        if not wild:
            return statement, []
        notes = [f"{label}: removed Action {action!r}" for action in wild]
        remaining = [action for action in listed if not is_wildcard_action(action, level)]
        return ({**statement, "Action": remaining} if remaining else None), notes

    return _strip_allows(document, _check_identity_statement, strip)


def strip_open_trust(document: dict[str, Any] | str) -> Stripped:
    """Remove what lets anyone assume a role from its Allow statements: NotPrincipal, "*"
    principals, and web identity providers whose subject nobody pinned.

    A statement stays whole when a condition pins the caller (organisation, account, ARN,
    source); an OIDC provider stays when its `sub` is pinned, a Cognito identity pool when its
    `aud` and `amr` are; the other principals of the statement were trusted already and stay.
    """
    return _strip_allows(document, _check_trust_statement, _close_trust)


def _close_trust(statement: dict[str, Any], label: str) -> tuple[dict[str, Any] | None, list[str]]:
    """Strip one Allow trust statement."""
    if "NotPrincipal" in statement:
        return None, [f"{label}: removed NotPrincipal statement"]
    principal = statement["Principal"]
    condition = statement.get("Condition")
    if _pins(condition, _WHO_KEYS):
        return statement, []
    if principal == "*":
        return None, [f"{label}: removed statement with Principal '*'"]
    kept: dict[str, Any] = {}
    notes: list[str] = []
    for kind, value in principal.items():
        listed = [value] if isinstance(value, str) else value
        gone = [entry for entry in listed if _is_open(kind, entry, condition)]
        if not gone:
            kept[kind] = value
            continue
        notes += [f"{label}: removed Principal {kind} {entry!r}" for entry in dict.fromkeys(gone)]
        if others := [entry for entry in listed if entry not in gone]:
            kept[kind] = others
    if not notes:
        return statement, []
    return ({**statement, "Principal": kept} if kept else None), notes


def _is_open(kind: str, entry: str, condition: Any) -> bool:
    """Whether one principal of a statement whose condition pins no AWS caller admits anyone."""
    if kind.lower() == "aws":
        return entry == "*"
    if kind.lower() != "federated":
        return False  # services, and canonical users of S3
    if entry.lower() == _COGNITO:
        return not (_pins(condition, {f"{_COGNITO}:aud"}) and _pins(condition, {f"{_COGNITO}:amr"}))
    issuer = _oidc_issuer(entry)
    return issuer is not None and not _pins(condition, {f"{issuer}:sub"})


def _oidc_issuer(entry: str) -> str | None:
    """The issuer (host and path, lower-case) of an OIDC provider principal: the ARN of an IAM
    OIDC provider, or GitHub's host as such. None for SAML and the other web identities."""
    parts = entry.split(":", 5)
    if len(parts) == 6 and parts[5].startswith(_OIDC_PROVIDER):
        return parts[5].removeprefix(_OIDC_PROVIDER).lower()
    return _GITHUB if entry.lower() == _GITHUB else None


def _pins(condition: Any, keys: Container[str]) -> bool:
    """Whether a condition pins one of these (lower-case) keys: conditions AND, so one pair
    whose every value pins is enough (values OR)."""
    return any(
        key in keys and all(_value_pins(key, value, pattern) for value in values)
        for key, values, pattern in _pairs(condition)
    )


def _pairs(condition: Any) -> Iterator[tuple[str, list[Any], bool]]:
    """(lower-case key, values, whether the operator takes wildcards) of each pair that can pin.

    Only positive string and ARN operators can. Negations (a stranger is "not equal"),
    ...IfExists and ForAllValues: (true when the key is missing), Null, Bool... limit nobody.
    """
    if not isinstance(condition, dict):
        return
    for operator, block in condition.items():
        lowered = operator.lower()
        if lowered.startswith("forallvalues:"):
            continue
        lowered = lowered.removeprefix("foranyvalue:")
        if lowered not in _EXACT_OPERATORS | _PATTERN_OPERATORS:
            continue
        for key, values in block.items():
            listed = values if isinstance(values, list) else [values]
            if listed:
                yield key.lower(), listed, lowered in _PATTERN_OPERATORS


def _value_pins(key: str, value: Any, pattern: bool) -> bool:
    """Whether one condition value narrows the caller (values OR, so each one must)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return False
    text = str(value)
    if not text or set(text) <= _WILDCARDS:
        return False
    if not pattern:
        return True
    if key in _ARN_KEYS:
        parts = text.split(":", 5)
        return _is_literal((parts[4] or parts[5]) if len(parts) == 6 else text)
    if key in _OWNER_ID_KEYS:
        return _is_literal(text)
    if key in _ORG_PATH_KEYS:
        return _is_literal(text.split("/", 1)[0])
    if key.endswith(":sub") and key.removesuffix(":sub").split("/")[0] == _GITHUB:
        return _is_literal(text) or bool(_GITHUB_OWNER.match(re.split(r"[*?]", text)[0]))
    if key.endswith((":sub", ":aud")):
        return _is_literal(text)
    return True  # e.g. a Cognito amr: any value that is not only wildcards


def _is_literal(owner: str) -> bool:
    """Whether an account, organisation or resource name is fixed (a stranger cannot match it)."""
    return bool(owner) and _WILDCARDS.isdisjoint(owner)


def _strip_allows(
    document: dict[str, Any] | str,
    check: Callable[[dict[str, Any], str], None],
    strip: Callable[[dict[str, Any], str], tuple[dict[str, Any] | None, list[str]]],
) -> Stripped:
    """Validate every statement, strip the Allow ones, keep the Statement shape and other keys."""
    policy = _load(document)
    raw = policy["Statement"]
    single = isinstance(raw, dict)
    statements: list[Any] = [raw] if single else raw
    kept: list[dict[str, Any]] = []
    removed: list[str] = []
    for index, statement in enumerate(statements, start=1):
        label = _label(statement, index)
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyDocumentError(f"{label}: Effect must be 'Allow' or 'Deny', got {effect!r}")
        check(statement, label)
        if effect == "Deny":
            kept.append(statement)
            continue
        survivor, notes = strip(statement, label)
        removed.extend(notes)
        if survivor is not None:
            kept.append(survivor)
    if not removed:
        return Stripped(policy, ())
    if not kept:
        return Stripped(None, tuple(removed))
    policy["Statement"] = kept[0] if single else kept
    return Stripped(policy, tuple(removed))


def _load(document: dict[str, Any] | str) -> dict[str, Any]:
    """A private copy of the document: a dict, JSON text, or URL-encoded JSON as IAM returns it."""
    if isinstance(document, str):
        text = document.strip()
        if text[:3].upper() == "%7B":
            text = unquote(text)
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            raise PolicyDocumentError(f"policy document is not valid JSON: {error}") from error
    else:
        parsed = copy.deepcopy(document)
    if not isinstance(parsed, dict):
        raise PolicyDocumentError(f"policy document must be an object, got {type(parsed).__name__}")
    if "Statement" not in parsed:
        raise PolicyDocumentError("policy document has no Statement")
    statements = parsed["Statement"]
    listed = [statements] if isinstance(statements, dict) else statements
    if not isinstance(listed, list) or not all(isinstance(s, dict) for s in listed):
        raise PolicyDocumentError("Statement must be an object or a list of objects")
    return parsed


def _label(statement: dict[str, Any], index: int) -> str:
    """How a statement is named in notifications: its Sid, or its 1-based position."""
    sid = statement.get("Sid")
    return f"statement {sid!r}" if isinstance(sid, str) and sid else f"statement #{index}"


def _check_identity_statement(statement: dict[str, Any], label: str) -> None:
    """Raise unless the statement has exactly one of Action/NotAction, as strings."""
    if ("Action" in statement) == ("NotAction" in statement):
        raise PolicyDocumentError(f"{label}: needs exactly one of Action or NotAction")
    key = "Action" if "Action" in statement else "NotAction"
    _check_strings(statement[key], f"{label}: {key}")


def _check_trust_statement(statement: dict[str, Any], label: str) -> None:
    """Raise unless the statement has exactly one well-formed Principal/NotPrincipal."""
    if ("Principal" in statement) == ("NotPrincipal" in statement):
        raise PolicyDocumentError(f"{label}: needs exactly one of Principal or NotPrincipal")
    key = "Principal" if "Principal" in statement else "NotPrincipal"
    principal = statement[key]
    if principal != "*":
        if not isinstance(principal, dict) or not principal:
            raise PolicyDocumentError(f"{label}: {key} must be '*' or a non-empty object")
        for kind, value in principal.items():
            _check_strings(value, f"{label}: {key} {kind}")
    condition = statement.get("Condition", {})
    if not isinstance(condition, dict) or not all(isinstance(b, dict) for b in condition.values()):
        raise PolicyDocumentError(f"{label}: Condition must map operators to objects")


def _check_strings(value: Any, what: str) -> None:
    """Raise unless the value is a string or a non-empty list of strings."""
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise PolicyDocumentError(f"{what} must be a string or a non-empty list of strings")
