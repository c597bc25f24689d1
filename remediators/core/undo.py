"""Undo one outcome from its ledger entry: `python -m core.undo <outcome_id>` (in remediators/).

Replays each change's inverse calls, last change first, with the caller's own credentials (an
administrator's: our functions are not allowed to re-grant what they removed). The entry is then
marked UNDONE so that the record says who undid what.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.clients import Clients
from core.ledger import Ledger
from core.outcome import Call

log = logging.getLogger("autoremediate.undo")


def undo_calls(report: Mapping[str, Any]) -> list[Call]:
    """The inverse calls of an outcome, in the order they must run (reverse of the changes)."""
    return [Call.from_dict(c) for change in reversed(report["changes"]) for c in change["undo"]]


def undo(outcome_id: str, ledger: Ledger, aws: Clients, dry_run: bool = False) -> list[Call]:
    report = ledger.get(outcome_id)
    calls = undo_calls(report)
    if not calls or report["status"] == "UNDONE":
        raise ValueError(f"outcome {outcome_id} is {report['status']}: nothing to undo")
    for call in calls:
        log.info("%s %s", "would run" if dry_run else "running", call.cli())
        if not dry_run:
            getattr(aws(call.service), call.operation)(**call.params)
    if not dry_run:
        who = aws("sts").get_caller_identity()["Arn"]
        ledger.settle({**report, "status": "UNDONE", "undone_by": who,
                       "time": datetime.now(UTC).isoformat(timespec="seconds")})  # fmt: skip
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outcome_id")
    parser.add_argument("--table", default=os.environ.get("LEDGER_TABLE", ""),
                        help="ledger table name (default: $LEDGER_TABLE)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="print the calls, change nothing")
    args = parser.parse_args(argv)
    if not args.table:
        parser.error("--table or LEDGER_TABLE is required (see the stack's outputs)")
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    aws = Clients()
    try:
        calls = undo(args.outcome_id, Ledger(aws, args.table), aws, args.dry_run)
    except (ValueError, LookupError, RuntimeError) as error:
        log.error("cannot undo: %s", error)
        return 1
    log.info(
        json.dumps({"outcome_id": args.outcome_id, "calls": len(calls), "dry_run": args.dry_run})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
