"""Who and what is never remediated: an approved resource tag, break-glass principals, AWS's
own roles."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import cache
from typing import Any, NamedTuple

EXEMPT_TAG = "autoremediate:exempt"
# Lenient on purpose: a mistyped expiry must never turn into a permanent exemption.
_UNTIL = re.compile(r"\buntil\s*=\s*(\S*)", re.IGNORECASE)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Roles that AWS owns: service-linked roles and IAM Identity Center (SSO) roles.
_AWS_OWNED_PATHS = ("role/aws-service-role/", "role/aws-reserved/")


def _arn_parts(arn: str) -> list[str]:
    """arn:partition:service:region:account:resource, the resource part kept whole."""
    return arn.split(":", 5)


def builtin_exemption(arn: str) -> str:
    """Why AWS owns this resource, or '' when it does not."""
    parts = _arn_parts(arn)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
        return ""
    for path in _AWS_OWNED_PATHS:
        if parts[5].startswith(path):
            return f"AWS-owned role (path /{path.split('/', 1)[1]})"
    return ""


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    """`*` and `?` stay within one path segment (never a '/'); `**` spans segments. Nothing
    else is special (IAM's ARN patterns have no character classes)."""
    pieces = re.split(r"(\*\*|\*|\?)", pattern)
    wild = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wild.get(piece) or re.escape(piece) for piece in pieces))


def principal_exemption(arn: str, patterns: Sequence[str]) -> str:
    """The ExemptPrincipalArns pattern that matches `arn`, as a reason, or ''.

    Matched part by part, as IAM's ArnLike does: a wildcard never spans the colons of an ARN.
    Stricter than ArnLike inside the resource part: `*` does not cross a '/', so that
    `role/breakglass/*` exempts `role/breakglass/admin` but not a role that someone creates
    under a deeper path they chose (`role/breakglass/x/...`); write `**` to span paths.
    """
    pattern = matching_pattern(arn, patterns)
    return f"principal matches exempt pattern {pattern}" if pattern else ""


def matching_pattern(arn: str, patterns: Sequence[str]) -> str:
    """The first of `patterns` that matches `arn` (see principal_exemption), or ''."""
    parts = _arn_parts(arn)
    for pattern in patterns:
        wanted = _arn_parts(pattern)
        if len(wanted) == len(parts) == 6 and all(
            _glob(w).fullmatch(p) for p, w in zip(parts, wanted, strict=True)
        ):
            return pattern
    return ""


def approval_key(arn: str) -> str:
    """The ledger key of a resource's exemption approval. IAM names are unique per account and
    kind whatever the path, and TagRole or TagUser names a role or user without its path: the
    key leaves the path out, so that the tagging event and the remediator's ARN agree."""
    parts = _arn_parts(arn)
    if len(parts) == 6 and parts[2] == "iam" and "/" in parts[5]:
        kind, _, rest = parts[5].partition("/")
        return "approval#" + ":".join(parts[:5]) + f":{kind}/{rest.rsplit('/', 1)[-1]}"
    return f"approval#{arn}"


class Terms(NamedTuple):
    """What an exemption tag's value asks for: a reason and an end date (capped)."""

    reason: str
    until: date | None
    problem: str = ""
    """Why the tag cannot be approved at all ('' when it can)."""
    note: str = ""
    """What was adjusted (an end date beyond the maximum lifetime)."""


def tag_terms(value: str, today: date, max_days: int) -> Terms:
    """Read `<reason> [until=YYYY-MM-DD]`. A reason is required; without `until` the exemption
    ends after `max_days`, and never later than that."""
    match = _UNTIL.search(value)
    reason = _UNTIL.sub("", value).strip()
    latest = today + timedelta(days=max_days)
    if not reason:
        return Terms("", None, "no reason given: write one before until=")
    if match is None:
        return Terms(reason, latest, note=f"no until=: ends after {max_days} days")
    raw = match.group(1)
    if not _ISO_DATE.fullmatch(raw):
        return Terms(reason, None, f"until={raw!r} is not YYYY-MM-DD")
    try:
        until = date.fromisoformat(raw)
    except ValueError:
        return Terms(reason, None, f"until={raw!r} is not YYYY-MM-DD")
    if until < today:
        return Terms(reason, None, f"until={raw} has passed")
    if until > latest:
        note = f"until={raw} is beyond the {max_days}-day maximum: ends {latest.isoformat()}"
        return Terms(reason, latest, note=note)
    return Terms(reason, until)


def tag_exemption(
    tags: Mapping[str, str], today: date, approval: Mapping[str, Any] | None
) -> tuple[str, str]:
    """(reason, note): reason is '' when not exempt; note says why a tag did not count.

    The tag counts only as an approver set it: `approval` is the ledger's record of that
    (exemption_tag_approval), for exactly this value, until its end date."""
    value = tags.get(EXEMPT_TAG)
    if value is None:
        return "", ""
    if not approval:
        return "", f"tag {EXEMPT_TAG} not honoured: no approval (set by no ExemptionApprover)"
    by = approval.get("by", "?")
    if approval.get("value") is None:
        why = approval.get("reason", "")
        return "", f"tag {EXEMPT_TAG} not honoured: approval ended ({why}, by {by})"
    if approval.get("value") != value:
        return "", f"tag {EXEMPT_TAG} not honoured: its value changed since {by} approved it"
    until = str(approval.get("until", ""))
    try:
        ended = not _ISO_DATE.fullmatch(until) or today > date.fromisoformat(until)
    except ValueError:
        ended = True
    if ended:
        return "", f"tag {EXEMPT_TAG} not honoured: the approval expired on {until}"
    reason = approval.get("reason", "")
    return f"tag {EXEMPT_TAG} approved by {approval.get('by')} until {until}: {reason}", ""


def tags_to_dict(tags: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    """AWS's [{'Key': k, 'Value': v}] list as a dict."""
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or []}
