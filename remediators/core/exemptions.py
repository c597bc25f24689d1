"""Who and what is never remediated: a resource tag, break-glass principals, AWS's own roles."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from fnmatch import fnmatchcase

EXEMPT_TAG = "autoremediate:exempt"
_UNTIL = re.compile(r"\buntil=(\S+)")
# Roles that AWS owns: service-linked roles and IAM Identity Center (SSO) roles.
_AWS_OWNED_PATHS = (":role/aws-service-role/", ":role/aws-reserved/")


def builtin_exemption(arn: str) -> str:
    """Why AWS owns this resource, or '' when it does not."""
    for path in _AWS_OWNED_PATHS:
        if path in arn:
            return f"AWS-owned role (path {path.split(':role')[1]})"
    return ""


def principal_exemption(arn: str, patterns: tuple[str, ...]) -> str:
    """The ExemptPrincipalArns pattern that matches `arn`, as a reason, or ''."""
    for pattern in patterns:
        if fnmatchcase(arn, pattern):
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
    try:
        until = date.fromisoformat(match.group(1))
    except ValueError:
        return "", f"tag {EXEMPT_TAG} ignored: until={match.group(1)} is not YYYY-MM-DD"
    if today > until:
        return "", f"tag {EXEMPT_TAG} expired on {until.isoformat()} ({reason})"
    return f"tag {EXEMPT_TAG} until {until.isoformat()}: {reason}", ""


def tags_to_dict(tags: list[Mapping[str, str]] | None) -> dict[str, str]:
    """AWS's [{'Key': k, 'Value': v}] list as a dict."""
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or []}
