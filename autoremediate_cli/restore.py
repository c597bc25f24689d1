"""`autoremediate undo`: undo (autoremediate_cli.undo), then who did it and a short exemption, all
in the ledger.

Order matters, so that nothing is remediated again at once and nothing is half-done:
1. autoremediate_cli.undo's checks alone (a dry run): the entry, the declared inverse calls, the
   live state (unless --force). A refusal ends here, nothing changed.
2. The exemption: first its approval in the ledger (by the caller, reason "restored by <who>",
   until today + UndoExemptionDays, at most ExemptionMaxDays), then the tag
   `autoremediate:exempt` with that exact value, so that the remediator's re-check of the
   restore's own event finds the resource exempt, and the approval function that hears the tag
   finds it approved (exemption_tag_approval keeps an undo's approval for its own tag).
3. autoremediate_cli.undo: the inverse calls, and the entry marked UNDONE with who ran it.
4. A RESTORED entry of its own (undo_of the outcome, the calls, the exemption): history shows the
   undo as it happened.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from autoremediate_cli.context import Context
from autoremediate_cli.output import CommandError
from autoremediate_cli.tagging import tag_value, tagger_of

log = logging.getLogger("autoremediate_cli")
RESTORED = "RESTORED"


@dataclass
class Result:
    """What undo did (or, with --dry-run, would do)."""

    outcome_id: str
    resource_arn: str
    dry_run: bool
    calls: list[str]
    by: str
    exemption: dict[str, Any] = field(default_factory=dict)
    """tag, value, until; or `skipped` with the reason."""
    record_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome_id": self.outcome_id,
            "resource_arn": self.resource_arn,
            "dry_run": self.dry_run,
            "calls": self.calls,
            "by": self.by,
            "exemption": self.exemption,
            "record_id": self.record_id,
        }


def undo(
    ctx: Context, outcome_id: str, dry_run: bool = False, force: bool = False, exempt: bool = True
) -> Result:
    """Undo one outcome (see the module); CommandError when refused or not found."""
    from botocore.exceptions import BotoCoreError, ClientError

    from autoremediate_cli import undo as core_undo
    from core.exemptions import EXEMPT_TAG, approval_key
    from core.ledger import Ledger, LedgerError

    ledger = Ledger(ctx.aws, ctx.table)
    try:
        report = ledger.get(outcome_id)
        planned = core_undo.undo(outcome_id, ledger, ctx.aws, dry_run=True, force=force)
        who = str(ctx.aws("sts").get_caller_identity()["Arn"])
    except (ValueError, LookupError, LedgerError) as error:
        raise CommandError(f"cannot undo: {error}") from None
    except (ClientError, BotoCoreError) as error:
        raise CommandError(f"cannot undo: {error}; nothing was run") from None
    arn = str(report.get("resource_arn", ""))
    result = Result(outcome_id, arn, dry_run, [c.cli() for c in planned], who)
    today = ctx.now().date()
    until = (today + timedelta(days=ctx.exemption_days)).isoformat()
    reason = f"restored by {who}"
    value = tag_value(f"{reason} until={until}")
    tagger, why_not = tagger_of(arn) if exempt else (None, "--no-exempt")
    if tagger is None:
        result.exemption = {"skipped": why_not}
    else:
        result.exemption = {"tag": EXEMPT_TAG, "value": value, "until": until}
    if dry_run:
        return result
    key = approval_key(arn)
    if tagger is not None:
        approval = {
            "resource_arn": arn,
            "by": who,
            "time": _now(ctx),
            "value": value,
            "reason": reason,
            "until": until,
            "approver_pattern": "",
            "note": f"autoremediate undo {outcome_id}",
            "undo": outcome_id,
        }
        try:
            ledger.put_approval(key, approval)
        except (ClientError, BotoCoreError) as error:
            raise CommandError(_refused(error, who)) from None
        try:
            tagger(ctx.aws, arn, EXEMPT_TAG, value)
        except (ClientError, BotoCoreError) as error:
            _revoke(ledger, key, arn, who, f"undo could not tag the resource: {error}")
            raise CommandError(
                f"cannot exempt {arn} ({error}); nothing was restored. Undo with --no-exempt to"
                " restore it anyway (it may then be remediated again at once)"
            ) from None
    try:
        ran = core_undo.undo(outcome_id, ledger, ctx.aws, dry_run=False, force=force)
    except ClientError as error:
        if _access_denied(error) and error.operation_name == "UpdateItem":
            raise CommandError(_refused(error, who)) from None
        kept = f"; the exemption until {until} stays" if tagger else ""
        raise CommandError(f"undo failed: {error}{kept}") from None
    except (ValueError, LookupError, RuntimeError, BotoCoreError) as error:
        kept = f"; the exemption until {until} stays" if tagger else ""
        raise CommandError(f"undo failed: {error}{kept}") from None
    result.calls = [c.cli() for c in ran]
    result.record_id = _record(ctx, ledger, report, result)
    return result


def _record(ctx: Context, ledger: Any, report: dict[str, Any], result: Result) -> str:
    """The RESTORED entry: what undo put back (each change's after -> before), by whom."""
    from autoremediate_cli.undo_guard import plan, remediator_of

    changes = plan(report, remediator_of(report)[0])
    exemption = result.exemption
    note = (
        f"exempt until {exemption['until']}"
        if "until" in exemption
        else f"not exempted: {exemption.get('skipped')}"
    )
    record_id = f"{ctx.now().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:12]}"
    ledger.record(
        {
            "outcome_id": record_id,
            "remediator": report.get("remediator", ""),
            "status": RESTORED,
            "mode": "-",
            "severity": "INFO",
            "account": report.get("account", ""),
            "region": report.get("region", ""),
            "resource_arn": result.resource_arn,
            "reason": f"undo of {result.outcome_id} by {result.by}; {note}",
            "error_code": "",
            "actor": {"arn": result.by, "type": "autoremediate undo"},
            "trigger": {"event_name": "autoremediate undo"},
            "changes": [
                {
                    "summary": f"restored: {c.summary}",
                    "resource": c.resource,
                    "before": c.after,
                    "after": c.before,
                    "call": None,
                    "undo": [],
                    "applied": True,
                }
                for c in changes
            ],
            "undo_of": result.outcome_id,
            "calls": result.calls,
            "exemption": exemption,
            "time": _now(ctx),
        }
    )
    return record_id


def _access_denied(error: Exception) -> bool:
    code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("AccessDenied", "AccessDeniedException")


def _refused(error: Exception, who: str) -> str:
    """Undo writes the ledger before it changes anything: a refused write changes nothing."""
    if not _access_denied(error):
        return f"cannot undo: the ledger could not be written ({error}); nothing was changed"
    return (
        f"cannot undo: the ledger refused {who}'s write ({error}). Only our functions and the"
        " stack parameter UndoOperatorArns may write it: ask whoever deploys the stack to add"
        " you there. Nothing was changed"
    )


def _revoke(ledger: Any, key: str, arn: str, who: str, why: str) -> None:
    """End the approval written for a tag that could not be set (the ledger says why)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        ledger.put_approval(key, {"resource_arn": arn, "by": who, "value": None, "reason": why})
    except (ClientError, BotoCoreError):  # the tag error is the one to report
        log.exception("could not revoke the approval %s", key)


def _now(ctx: Context) -> str:
    return ctx.now().isoformat(timespec="seconds")
