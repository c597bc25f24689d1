"""The demo's record of what happened: one row per outcome, and each mode's rows and state.

A row is built from what the handler returned plus its own SNS notification, because the
notification is what a subscriber sees: the demo shows the changes as they are published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FILTERED = "(filtered)"
ENFORCE_ONLY = "(enforce-only)"
"""The echo of our own fix, in report mode: report mode makes no fix, so none echoes back."""


@dataclass
class Row:
    """One outcome of one event (or one filtered event), as the table shows it."""

    event: str
    resource: str
    actor: str
    status: str
    details: list[str]
    note: dict[str, Any] | None = None
    """The SNS notification this outcome published (None: quiet or filtered)."""
    function: str = ""
    """The logical id of the function that produced the outcome ("" when filtered)."""

    @property
    def outcome_id(self) -> str:
        return str(self.note["body"]["outcome_id"]) if self.note else ""


@dataclass
class ModeRun:
    mode: str
    rows: list[Row] = field(default_factory=list)
    encryption: list[Row] = field(default_factory=list)
    state: dict[str, list[str]] = field(default_factory=dict)
    settings: str = ""
    """The demo's settings and the template defaults they replace, for the encryption table's
    title."""
    encryption_events: int = 0
    """How many sample events the encryption table played (one may reach several functions)."""


def outcome_row(
    name: str, resource: str, actor: str, outcome: Mapping[str, Any], notes: list[dict[str, Any]]
) -> Row:
    """The outcome the handler returned, with its changes read from its own notification."""
    status, arn = str(outcome["status"]), str(outcome["resource"])
    note = next(
        (n for n in notes if n["body"]["status"] == status and n["body"]["resource_arn"] == arn),
        None,
    )
    resource = _short_arn(arn) or resource
    if note is None:  # a quiet outcome: logged, never published
        reason = str(outcome["reason"])
        return Row(name, resource, actor, status, [] if reason == "compliant" else [reason])
    notes.remove(note)
    body = note["body"]
    details = [str(c["summary"]) for c in body["changes"]]
    if status not in ("WOULD_REMEDIATE", "REMEDIATED") or not details:
        details.append(str(body["reason"]))
    if body["actor"].get("arn"):
        actor = _short_actor(str(body["actor"]["arn"]))
    return Row(name, resource, actor, status, details, note)


def manual_steps(details: list[str]) -> list[str]:
    """The numbered manual steps ("...: 1. ...; 2. ...") a detail holds, if any."""
    for detail in details:
        if ": 1. " in detail:
            return re.split(r"; (?=\d+\. )", "1. " + detail.split(": 1. ", 1)[1])
    return []


def event_resource(event: Mapping[str, Any]) -> str:
    """The resource an event names, for rows without an outcome ARN (filtered, quiet skips)."""
    detail = event["detail"]
    item = detail.get("configurationItem")
    if isinstance(item, Mapping):
        return _short_arn(str(item.get("ARN", "")))
    request = detail.get("requestParameters") or {}
    for key, kind in (("roleName", "role/"), ("userName", "user/"), ("groupName", "group/"),
                      ("bucketName", ""), ("tableName", "table/"), ("queueName", ""),
                      ("dBInstanceIdentifier", "db:")):  # fmt: skip
        if key in request:
            return f"{kind}{request[key]}"
    if "policyArn" in request:
        return _short_arn(str(request["policyArn"]))
    return f"policy/{request['policyName']}" if "policyName" in request else "-"


def event_actor(event: Mapping[str, Any]) -> str:
    identity = event["detail"].get("userIdentity")
    return _short_actor(str(identity.get("arn", ""))) if identity else "(AWS Config)"


def _short_arn(arn: str) -> str:
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn


def _short_actor(arn: str) -> str:
    return arn.rsplit("/", 1)[-1] or "-"
