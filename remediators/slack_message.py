"""Render what the notification topic carries as a Slack Block Kit message: pure functions.

An outcome report (core/notify.py) becomes a header with the status at a glance, who changed
what and where, each change as before → after, the mode and the exact undo command; FAILED
outcomes, conflicts and manual steps get a section of their own at the top. CloudWatch alarms
and any other message on the topic are rendered too: nothing that reaches Slack is dropped.

Every text is escaped for mrkdwn (a policy or a reason could otherwise mention @channel or forge
a link) and cut to Slack's limits: 50 blocks, 3000 characters per section text, 2000 per field,
150 per header.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from core.notify import subject as report_subject

MAX_BLOCKS = 50
SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
MAX_FIELDS = 10
FALLBACK_TEXT = 3000  # the notification text; Slack allows far more, phones show far less
CHANGES_TEXT = 12000  # what all changes together may take: a longer diff is unread anyway
MIN_CHANGE_TEXT = 600
CUT = "…"

# status -> (emoji, attachment colour)
STYLES = {
    "REMEDIATED": (":white_check_mark:", "#2eb67d"),
    "WOULD_REMEDIATE": (":warning:", "#ecb22e"),
    "FAILED": (":rotating_light:", "#e01e5a"),
    "SKIPPED": (":fast_forward:", "#868686"),
    "EXEMPT": (":shield:", "#36c5f0"),
    "COMPLIANT": (":large_green_circle:", "#2eb67d"),
    "CONFLICT": (":crossed_swords:", "#e01e5a"),
    "ALARM": (":rotating_light:", "#e01e5a"),
    "OK": (":large_green_circle:", "#2eb67d"),
}
UNKNOWN_STYLE = (":grey_question:", "#868686")
_CONFLICT = re.compile(r"\bconflict", re.IGNORECASE)


def render(message: str, subject: str = "") -> dict[str, Any]:
    """The Slack payload for one SNS message: an outcome report, an alarm, or any text."""
    try:
        data = json.loads(message)
    except ValueError:
        data = None
    if isinstance(data, Mapping) and "status" in data and "remediator" in data:
        return render_report(data)
    if isinstance(data, Mapping) and "AlarmName" in data and "NewStateValue" in data:
        return render_alarm(data)
    return render_text(subject, message)


# ------------------------------------------------------------------------------ outcomes


def is_conflict(report: Mapping[str, Any]) -> bool:
    """A pipeline fighting us (circuit breaker): the status or the reason says so."""
    status = str(report.get("status", ""))
    return "CONFLICT" in status.upper() or bool(_CONFLICT.search(str(report.get("reason", ""))))


def manual_changes(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in _changes(report) if c.get("manual")]


def render_report(report: Mapping[str, Any]) -> dict[str, Any]:
    status = str(report.get("status") or "UNKNOWN")
    conflict = is_conflict(report)
    emoji, colour = STYLES.get("CONFLICT" if conflict else status, UNKNOWN_STYLE)
    resource = str(report.get("resource_arn") or "(no resource)")
    title = f"{emoji} {status.replace('_', ' ')} · {report.get('remediator', '')}"
    blocks: list[dict[str, Any]] = [header(title)]
    blocks += _standouts(report, status, conflict)
    blocks.append(_facts(report, resource))
    reason = str(report.get("reason") or "")
    if reason and not (status == "FAILED" or conflict):
        blocks.append(section(f"*Reason*\n{escape(reason)}", raw=True))
    undo = str(report.get("undo") or "")
    tail = [section(f"*Undo* (exact command)\n{code(undo)}", raw=True)] if undo else []
    room = MAX_BLOCKS - len(blocks) - len(tail)
    blocks += _change_blocks(report, room)
    blocks += tail
    footer = _footer(report)
    return {
        "text": clip(report_subject(_subject_fields(report)), FALLBACK_TEXT),
        "blocks": blocks[:MAX_BLOCKS],
        "attachments": [{"color": colour, "blocks": [footer]}],
    }


def _subject_fields(report: Mapping[str, Any]) -> dict[str, Any]:
    """core.notify.subject needs `status` and `remediator`; a hand-made report may lack them."""
    return {
        **report,
        "status": report.get("status", "UNKNOWN"),
        "remediator": report.get("remediator", ""),
    }


def _standouts(report: Mapping[str, Any], status: str, conflict: bool) -> list[dict[str, Any]]:
    """FAILED, conflicts and manual steps first, where nobody scrolls past them."""
    out = []
    reason = escape(str(report.get("reason") or "(no reason given)"))
    if conflict:
        out.append(section(f":crossed_swords: *Conflict*: {reason}", raw=True))
    if status == "FAILED":
        error = str(report.get("error_code") or "")
        code_part = f" `{escape(error)}`" if error else ""
        out.append(section(f":rotating_light: *FAILED*{code_part}: {reason}", raw=True))
    manual = manual_changes(report)
    if manual:
        steps = "\n".join(f"• {escape(str(c.get('summary') or ''))}" for c in manual)
        out.append(section(f":raised_hand: *Manual steps needed*\n{steps}", raw=True))
    return out


def _facts(report: Mapping[str, Any], resource: str) -> dict[str, Any]:
    actor, trigger = _mapping(report.get("actor")), _mapping(report.get("trigger"))
    where = " / ".join(str(report.get(k) or "?") for k in ("account", "region"))
    who = str(actor.get("arn") or actor.get("invoked_by") or "unknown")
    facts = [
        ("Resource", resource),
        ("Account / region", where),
        ("By", who),
        ("Source IP", str(actor.get("source_ip") or "unknown")),
        ("Mode", str(report.get("mode") or "?")),
        ("Severity", str(report.get("severity") or "?")),
    ]
    if trigger.get("event_name"):
        facts.append(("Trigger", f"{trigger.get('event_name')} at {trigger.get('event_time')}"))
    fields = [field(f"*{name}*\n{escape(value)}", raw=True) for name, value in facts]
    return {"type": "section", "fields": fields[:MAX_FIELDS]}


def _footer(report: Mapping[str, Any]) -> dict[str, Any]:
    parts = [f"outcome {report.get('outcome_id') or '(none)'}"]
    if report.get("time"):
        parts.append(str(report["time"]))
    text = escape(" · ".join(parts))
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, SECTION_TEXT)}]}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _changes(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    changes = report.get("changes")
    if not isinstance(changes, Sequence) or isinstance(changes, str):
        return []
    return [c for c in changes if isinstance(c, Mapping)]


def _change_blocks(report: Mapping[str, Any], room: int) -> list[dict[str, Any]]:
    """One section per change; when they do not fit, the last block says how many more."""
    changes = _changes(report)
    if not changes or room <= 0:
        return []
    shown = changes if len(changes) <= room else changes[: room - 1]
    budget = max(MIN_CHANGE_TEXT, min(SECTION_TEXT, CHANGES_TEXT // len(shown)))
    blocks = [
        section(_change_text(c, i, len(changes), budget), raw=True, limit=budget)
        for i, c in enumerate(shown, 1)
    ]
    if len(shown) < len(changes):
        more = len(changes) - len(shown)
        where = f"outcome {report.get('outcome_id') or '(none)'} in the ledger"
        blocks.append(section(f"…and {more} more changes ({escape(where)})", raw=True))
    return blocks


def _change_text(change: Mapping[str, Any], number: int, total: int, budget: int) -> str:
    label = f"*Change {number}/{total}*" if total > 1 else "*Change*"
    if change.get("manual"):
        label += " (manual)"
    elif change.get("applied") is False:
        label += " (not applied)"
    summary = escape(str(change.get("summary") or ""))
    resource = str(change.get("resource") or "")
    head = f"{label}: {summary}" + (f"\n_{escape(resource)}_" if resource else "")
    room = budget - len(head) - 1
    return head + "\n" + difference(change.get("before"), change.get("after"), room)


def difference(before: Any, after: Any, limit: int) -> str:
    """before → after, readable: short values inline, documents as a unified diff of their
    pretty JSON (only what changed, with context), cut to `limit` characters (escaped)."""
    if limit <= len(CUT) + 8:
        return CUT
    old, new = _pretty(before), _pretty(after)
    if "\n" not in old + new and len(old) + len(new) < 200:
        inline = f"`{escape(old)}` → `{escape(new)}`"
        if len(inline) <= limit:
            return inline
    diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), n=2, lineterm=""))
    body = "\n".join(diff[2:]) if diff else "(no difference)"
    return code(body, limit)


def _pretty(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str)


# ------------------------------------------------------------------ alarms and other text


def render_alarm(alarm: Mapping[str, Any]) -> dict[str, Any]:
    state = str(alarm.get("NewStateValue") or "UNKNOWN")
    emoji, colour = STYLES.get(state, UNKNOWN_STYLE)
    name = str(alarm.get("AlarmName") or "")
    where = " / ".join(str(alarm.get(k) or "?") for k in ("AWSAccountId", "Region"))
    blocks = [
        header(f"{emoji} {state} · {name}"),
        section(f"*{escape(str(alarm.get('AlarmDescription') or name))}*", raw=True),
        section(f"*Why*\n{escape(str(alarm.get('NewStateReason') or ''))}", raw=True),
        {"type": "section", "fields": [field(f"*Account / region*\n{escape(where)}", raw=True)]},
    ]
    text = clip(f"[{state}] {name}", FALLBACK_TEXT)
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(str(state))}]}
    return {"text": text, "blocks": blocks, "attachments": [{"color": colour, "blocks": [context]}]}


def render_text(subject: str, message: str) -> dict[str, Any]:
    """Anything else published to the topic, as it is (cut)."""
    title = subject or "autoremediate notification"
    blocks = [header(f":speech_balloon: {title}"), section(code(message, SECTION_TEXT), raw=True)]
    return {"text": clip(title, FALLBACK_TEXT), "blocks": blocks}


# ------------------------------------------------------------------------------- blocks


def header(text: str) -> dict[str, Any]:
    plain = " ".join(text.split()) or "autoremediate"
    return {"type": "header", "text": {"type": "plain_text", "text": clip(plain, HEADER_TEXT)}}


def section(text: str, raw: bool = False, limit: int = SECTION_TEXT) -> dict[str, Any]:
    """A mrkdwn section; `raw`: the text is already escaped (else it is escaped here)."""
    body = text if raw else escape(text)
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(body, limit)}}


def field(text: str, raw: bool = False) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(text if raw else escape(text), FIELD_TEXT)}


def escape(text: str) -> str:
    """Slack's three control characters: no mention, channel ping or link can be injected."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str, limit: int = SECTION_TEXT) -> str:
    """A code block of `text` (escaped, fences inside neutralised) within `limit` characters."""
    fence = "```"
    room = max(0, limit - 2 * len(fence) - 2)
    body = escape(text.replace(fence, "'''"))
    if len(body) > room:
        body = _cut_escaped(body, room)
    return f"{fence}\n{body}\n{fence}"


def clip(text: str, limit: int) -> str:
    """`text` (already escaped) within `limit` characters, never cutting an entity in half."""
    return text if len(text) <= limit else _cut_escaped(text, limit)


def _cut_escaped(text: str, limit: int) -> str:
    if limit <= len(CUT):
        return CUT[:limit]
    cut = text[: limit - len(CUT)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]  # a half entity (&am) would show as garbage
    if cut.count("```") % 2:  # an unclosed fence would swallow the rest of the message
        cut = cut.replace("```", "'''")
    return cut + CUT
