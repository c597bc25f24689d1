"""Who and what is never remediated: a resource tag, break-glass principals, AWS's own roles."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache

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
    parts = _arn_parts(arn)
    for pattern in patterns:
        wanted = _arn_parts(pattern)
        if len(wanted) == len(parts) == 6 and all(
            _glob(w).fullmatch(p) for p, w in zip(parts, wanted, strict=True)
        ):
            return f"principal matches exempt pattern {pattern}"
    return ""


def tag_exemption(tags: Mapping[str, str], today: date) -> tuple[str, str]:
    """(reason, note): reason is '' when not exempt; note says why a tag did not count."""
    value = tags.get(EXEMPT_TAG)
    if value is None:
        return "", ""
    match = _UNTIL.search(value)
    reason = _UNTIL.sub("", value).strip() or "no reason given"
    if match is None:
        return f"tag {EXEMPT_TAG}: {reason}", ""
    raw = match.group(1)
    try:
        if not _ISO_DATE.fullmatch(raw):
            raise ValueError(raw)
        until = date.fromisoformat(raw)
    except ValueError:
        return "", f"tag {EXEMPT_TAG} ignored: until={raw!r} is not YYYY-MM-DD"
    if today > until:
        return "", f"tag {EXEMPT_TAG} expired on {until.isoformat()} ({reason})"
    return f"tag {EXEMPT_TAG} until {until.isoformat()}: {reason}", ""


def tags_to_dict(tags: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    """AWS's [{'Key': k, 'Value': v}] list as a dict."""
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or []}
