"""Undo one outcome from its ledger entry: `python -m autoremediate_cli.undo <outcome_id>`.

Part of the command, not of the Lambda artifact: no function imports it (nor its guard).

Replays each applied change's inverse calls, last change first, with the caller's own
credentials (an administrator's: our functions are not allowed to re-grant what they removed).
Before any call runs:
- autoremediate_cli.undo_guard checks the entry: only the inverse operations its remediator
  declares, on the entry's own resource, with nothing that widens, for changes recorded as applied;
- the remediator reads the live state of each change (read-only) and undo refuses when it is no
  longer the change's recorded `after`: a later edit (a trust tightened, a key of the team's
  own) is not overwritten unless `--force` says so.
The entry records who started the undo before any call runs (a caller the ledger refuses
changes nothing), then is marked UNDONE so that the record says who undid what.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from autoremediate_cli.undo_guard import (
    UndoRefusedError,
    check_regions,
    check_resolvable,
    plan,
    remediator_of,
    resolved,
)
from core.clients import Clients
from core.ledger import Ledger
from core.outcome import Call, Change
from core.remediator import Remediator

log = logging.getLogger("autoremediate.undo")


def undo(
    outcome_id: str, ledger: Ledger, aws: Clients, dry_run: bool = False, force: bool = False
) -> list[Call]:
    """Run (or with `dry_run`, list) the inverse calls; raise UndoRefusedError, having run
    nothing, when the entry or the live state forbids it. `force` overrides only a live state
    that differs from (or cannot be compared with) what the remediation left."""
    report = ledger.get(outcome_id)
    declaration, remediator = remediator_of(report)
    changes = plan(report, declaration)
    check_regions(changes, report, aws)
    check_resolvable(changes, remediator)
    if force:
        log.warning("--force: not comparing the live state with what the remediation left")
    else:
        differences = live_differences(changes, remediator, aws)
        if differences:
            raise UndoRefusedError(
                "; ".join(differences) + "; nothing was run (to overwrite the current state"
                " anyway, undo again with --force)"
            )
    calls = [call for change in changes for call in change.undo]
    if dry_run:
        for call in calls:
            log.info("would run %s", call.cli())
        return calls
    who = aws("sts").get_caller_identity()["Arn"]
    # Ledger first, as for a remediation: a caller the ledger refuses (not one of
    # UndoOperatorArns) changes nothing, and a half-done undo leaves its trace.
    started = {**report, "undo_started_by": who, "undo_started_at": _now()}
    ledger.settle(started)
    arn = str(report.get("resource_arn", ""))
    try:
        for call in calls:
            log.info("running %s", call.cli())
            real = resolved(call, remediator, aws, arn)  # a patch, against the live resource
            getattr(aws(real.service), real.operation)(**real.params)
    except (ClientError, BotoCoreError) as error:
        ledger.settle({**started, "undo_error": f"{call.cli()}: {error}"})
        raise
    ledger.settle({**started, "status": "UNDONE", "undone_by": who, "time": _now()})
    return calls


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def live_differences(changes: list[Change], remediator: Remediator[Any], aws: Clients) -> list[str]:
    """Each change whose resource is no longer what the change left (or cannot be read)."""
    found = []
    for change in changes:
        try:
            live = remediator.current_state(change, aws)
        except (NotImplementedError, ClientError, BotoCoreError) as error:
            found.append(f"{change.resource}: its live state cannot be compared ({error})")
            continue
        if _plain(live) != _plain(change.after):
            found.append(
                f"{change.resource} has changed since the remediation: it is now {_short(live)},"
                f" the remediation left {_short(change.after)}"
            )
    return found


def _plain(value: Any) -> Any:
    """As the ledger stores it (JSON), so that a tuple and a list, or a date, compare alike."""
    return json.loads(json.dumps(value, default=str))


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outcome_id")
    parser.add_argument("--table", default=os.environ.get("LEDGER_TABLE", ""),
                        help="ledger table name (default: $LEDGER_TABLE)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="print the calls, change nothing")
    parser.add_argument("--force", action="store_true",
                        help="restore even where the live state is no longer what the"
                        " remediation left (a later edit is overwritten)")  # fmt: skip
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("--table or LEDGER_TABLE is required (see the stack's outputs)")
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    aws = Clients()
    try:
        calls = undo(args.outcome_id, Ledger(aws, args.table), aws, args.dry_run, args.force)
    except (ValueError, LookupError, RuntimeError) as error:
        log.error("cannot undo: %s", error)
        return 1
    log.info(
        json.dumps({"outcome_id": args.outcome_id, "calls": len(calls), "dry_run": args.dry_run})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
