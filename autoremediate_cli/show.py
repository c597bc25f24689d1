"""`autoremediate show`: one outcome, each change's before and after as a unified diff."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from autoremediate_cli.context import Context
from autoremediate_cli.output import CommandError

FIELDS = (
    ("outcome_id", "outcome"),
    ("status", "status"),
    ("mode", "mode"),
    ("severity", "severity"),
    ("remediator", "remediator"),
    ("resource_arn", "resource"),
    ("time", "time"),
    ("reason", "reason"),
    ("undo_of", "undo of"),
    ("undone_by", "undone by"),
    ("undo", "undo"),
)


def load(ctx: Context, outcome_id: str) -> dict[str, Any]:
    """The ledger's report of `outcome_id`; CommandError when there is none."""
    from core.ledger import Ledger, LedgerError

    try:
        return Ledger(ctx.aws, ctx.table).get(outcome_id)
    except LedgerError as error:
        raise CommandError(str(error)) from None


def diffs(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each change: its summary, resource, whether it was applied, and the diff's lines."""
    found = []
    for change in report.get("changes") or []:
        before, after = pretty(change.get("before")), pretty(change.get("after"))
        lines = list(
            difflib.unified_diff(
                before.splitlines(), after.splitlines(), "before", "after", lineterm="", n=3
            )
        )
        found.append(
            {
                "summary": change.get("summary", ""),
                "resource": change.get("resource", ""),
                "applied": bool(change.get("applied")),
                "manual": change.get("call") is None,
                "diff": lines,
                "undo_cli": change.get("undo_cli") or [],
            }
        )
    return found


def pretty(value: Any) -> str:
    """Indented JSON with sorted keys, documents held as text decoded (IAM policies), so that a
    diff shows the statement that changed, not one long line."""
    if value is None:
        return "(none)"
    return json.dumps(_decoded(value), indent=2, sort_keys=True, default=str)


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            return _decoded(json.loads(value))
        except ValueError:
            return value
    if isinstance(value, Mapping):
        return {str(k): _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def text(report: Mapping[str, Any], changes: list[dict[str, Any]]) -> str:
    """The readable form: the entry's fields, who, then each change and its diff."""
    lines = []
    for key, label in FIELDS:
        if report.get(key):
            lines.append(f"{label + ':':<12}{report[key]}")
        if key == "resource_arn":
            actor = report.get("actor") or {}
            if actor.get("arn"):
                ip = f" from {actor['source_ip']}" if actor.get("source_ip") else ""
                lines.append(f"{'by:':<12}{actor['arn']}{ip}")
    for number, change in enumerate(changes, 1):
        state = (
            "manual step"
            if change["manual"]
            else ("applied" if change["applied"] else "not applied")
        )
        lines += ["", f"change {number}/{len(changes)} ({state}): {change['summary']}"]
        if change["resource"] and change["resource"] != report.get("resource_arn"):
            lines.append(f"  on {change['resource']}")
        lines += change["diff"] or ["  (before and after are the same)"]
    if not changes:
        lines += ["", "no change recorded"]
    return "\n".join(lines)
