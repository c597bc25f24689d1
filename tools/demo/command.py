"""The end of the demo: what an operator does next, with the `autoremediate` command against
the demo's own moto account (its ledger is the stack's): the history, then one undo."""

from __future__ import annotations

import contextlib
import io

from tools.demo.outcomes import Row
from tools.demo.printing import WIDTH, clip
from tools.scenario import STACK_NAME, Aws, Stack


def print_command(aws: Aws, stack: Stack, rows: list[Row], problems: list[str]) -> None:
    """`autoremediate history` and `autoremediate undo` of PutRolePolicy's fix, as printed."""
    from autoremediate_cli.context import Context
    from autoremediate_cli.main import main as autoremediate

    ctx = Context(aws, stack.table, stack=STACK_NAME, topic_arn=stack.topic_arn)  # type: ignore[arg-type]
    row = next((r for r in rows if r.event == "PutRolePolicy" and r.outcome_id), None)
    steps = [["history", "--since", "1d", "--status", "REMEDIATED", "--limit", "4"]]
    if row is not None:
        steps.append(["undo", row.outcome_id])
    for argv in steps:
        print(f"\n$ autoremediate {' '.join(argv)}")
        said = io.StringIO()
        with contextlib.redirect_stdout(said):
            code = autoremediate(argv, ctx=ctx)
        for line in said.getvalue().splitlines():  # the demo fits its screen; a terminal wraps
            print(clip(line, WIDTH))
        if code != 0:
            problems.append(f"autoremediate {' '.join(argv)} failed")
