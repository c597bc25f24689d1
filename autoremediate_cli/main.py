"""`autoremediate`: the stack's outcomes from the ledger, and undo, from an operator's shell.

Exit codes: 0 done; 1 refused, not found, or an AWS error (the message says which; nothing was
changed unless it says so); 2 usage (argparse). Tables and JSON (--output json) go to stdout,
everything else (logs, messages) to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

from autoremediate_cli import history as history_cmd
from autoremediate_cli import restore, show, status
from autoremediate_cli.context import Context, aws_context
from autoremediate_cli.output import CommandError, emit_json, table
from core.outcome import Status

log = logging.getLogger("autoremediate_cli")
# The outcome statuses, and those the ledger adds: written before a change, undone, an undo.
STATUSES = (*(s.value for s in Status), "APPLYING", "UNDONE", restore.RESTORED)
Command = Callable[[Context, argparse.Namespace], Any]
"""A subcommand: returns what --output json prints; prints its table itself (stdout)."""


def _common(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """The options every subcommand takes, before or after its name. After it, an option not
    given must not replace what was given before it (argparse.SUPPRESS)."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    where = parser.add_argument_group("where")
    where.add_argument(
        "--profile", default=default(None), help="AWS profile (default: the current credentials)"
    )
    where.add_argument("--region", default=default(None), help="AWS region of the stack")
    where.add_argument(
        "--stack",
        default=default(None),
        help="the stack whose outputs name the"
        " ledger (default: samconfig.toml's stack_name, else autoremediate)",
    )
    where.add_argument(
        "--table",
        default=default(None),
        help="the ledger table itself (the stack is then found from its tags)",
    )
    where.add_argument(
        "--local",
        action="store_true",
        default=default(False),
        help="the embedded moto account of `make demo`, after its enforce"
        " story (from a checkout, with moto)",
    )
    where.add_argument(
        "--output",
        choices=("table", "json"),
        default=default("table"),
        help="table (default) or json: only JSON on stdout",
    )
    where.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="log what is done (stderr)",
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="autoremediate",
        description="Look at and undo what autoremediate did, from the stack's ledger.",
        epilog="Exit codes: 0 done, 1 refused or not found (or an AWS error), 2 usage.",
    )
    _common(top, defaults=True)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, run: Command) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        _common(sub, defaults=False)
        sub.set_defaults(run=run)
        return sub

    history = command("history", "outcomes from the ledger, newest first", _history)
    history.add_argument(
        "--resource",
        default="",
        help="only this resource: its ARN, or a part of it (role/app-deploy-role)",
    )
    history.add_argument(
        "--since",
        default="7d",
        type=history_cmd.since_spec,
        help="how far back: 7d (default), 12h, 30m, or a date YYYY-MM-DD",
    )
    history.add_argument(
        "--status",
        action="append",
        default=[],
        type=_statuses,
        help="only these statuses (repeat or comma-separate): " + ", ".join(STATUSES),
    )
    history.add_argument(
        "--remediator",
        action="append",
        default=[],
        type=_remediators,
        help="only these remediators (repeat or comma-separate)",
    )
    history.add_argument(
        "--limit", type=int, default=50, help="at most this many (default 50; 0: all)"
    )

    one = command("show", "one outcome, with its before and after as a diff", _show)
    one.add_argument("outcome_id")

    undo = command(
        "undo",
        "put back what one outcome changed (autoremediate_cli.undo), record who did it, and exempt"
        " the resource for UndoExemptionDays so that it is not remediated again at once",
        _undo,
    )
    undo.add_argument("outcome_id")
    undo.add_argument(
        "--dry-run",
        action="store_true",
        help="check and print the calls and the exemption; change nothing",
    )
    undo.add_argument(
        "--force",
        action="store_true",
        help="restore even where the live state is no longer what the"
        " remediation left (a later edit is overwritten)",
    )
    undo.add_argument(
        "--no-exempt",
        action="store_true",
        help="do not tag and approve the exemption (the resource may be remediated again at once)",
    )

    command("status", "the kill switch, and each function of the stack with its mode", _status)
    command("pause", "kill switch on: every function only reports, within 60 s, no deploy", _pause)
    command("resume", "kill switch off: back to the deployed Mode within 60 s", _resume)
    return top


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _statuses(value: str) -> list[str]:
    found = [v.upper() for v in _split(value)]
    unknown = [v for v in found if v not in STATUSES]
    if unknown or not found:
        raise argparse.ArgumentTypeError(f"unknown status {', '.join(unknown) or value!r}")
    return found


def _remediators(value: str) -> list[str]:
    import registry

    found = _split(value)
    unknown = [v for v in found if v not in registry.REMEDIATORS]
    if unknown or not found:
        raise argparse.ArgumentTypeError(
            f"unknown remediator {', '.join(unknown) or value!r}; one of:"
            f" {', '.join(registry.REMEDIATORS)}"
        )
    return found


def _history(ctx: Context, args: argparse.Namespace) -> Any:
    rows = history_cmd.history(
        ctx,
        since=args.since,
        resource=args.resource,
        statuses=[s for group in args.status for s in group],
        remediators=[r for group in args.remediator for r in group],
        limit=args.limit,
    )
    if args.output == "table":
        print(table(rows, history_cmd.COLUMNS) or f"no outcome since {args.since}")
    return rows


def _show(ctx: Context, args: argparse.Namespace) -> Any:
    report = show.load(ctx, args.outcome_id)
    changes = show.diffs(report)
    if args.output == "table":
        print(show.text(report, changes))
    return {"outcome": report, "changes": changes}


def _undo(ctx: Context, args: argparse.Namespace) -> Any:
    done = restore.undo(ctx, args.outcome_id, args.dry_run, args.force, not args.no_exempt)
    if args.output == "table":
        verb = "would run" if done.dry_run else "ran"
        print(f"{done.outcome_id}: {done.resource_arn}")
        print(f"{verb} {len(done.calls)} call(s) as {done.by}:")
        print("\n".join(f"  {call}" for call in done.calls))
        exemption = done.exemption
        if "until" in exemption:
            what = "would tag" if done.dry_run else "tagged"
            print(f"{what} {exemption['tag']} = {exemption['value']}, approved in the ledger")
        else:
            print(f"not exempted: {exemption.get('skipped')}; it may be remediated again")
        if not done.dry_run:
            print(f"marked UNDONE by {done.by}; recorded as {done.record_id}")
    return done.to_dict()


def _status(ctx: Context, args: argparse.Namespace) -> Any:
    switch = status.kill_switch(ctx)
    rows = status.function_modes(ctx)
    if args.output == "table":
        print(f"stack {ctx.stack or '-'}, ledger {ctx.table}")
        print(status.describe(switch))
        print(table(rows, status.COLUMNS) or "no function found")
    return {"stack": ctx.stack, "ledger_table": ctx.table, "kill_switch": switch, "functions": rows}


def _pause(ctx: Context, args: argparse.Namespace) -> Any:
    return _switch(ctx, args, engage=True)


def _resume(ctx: Context, args: argparse.Namespace) -> Any:
    return _switch(ctx, args, engage=False)


def _switch(ctx: Context, args: argparse.Namespace, engage: bool) -> Any:
    switch = status.set_kill_switch(ctx, engage)
    if args.output == "table":
        print(status.describe(switch))
    return {"stack": ctx.stack, "kill_switch": switch}


@contextlib.contextmanager
def _context(args: argparse.Namespace) -> Iterator[Context]:
    if args.local:
        from autoremediate_cli.local import embedded_account

        with embedded_account() as ctx:
            yield ctx
        return
    yield aws_context(args.profile, args.region, args.stack, args.table)


def main(argv: list[str] | None = None, ctx: Context | None = None) -> int:
    """Run one subcommand; `ctx` (tests) replaces the account the options name."""
    args = parser().parse_args(argv)
    _logging(args.verbose)
    stdout = sys.stdout
    try:
        # Whatever the code we import prints goes to stderr; only our result to stdout.
        with (
            contextlib.redirect_stdout(sys.stderr),
            contextlib.nullcontext(ctx) if ctx else _context(args) as where,
        ):
            result = _run(args, where, stdout)
    except CommandError as error:
        print(f"autoremediate {args.command}: {error}", file=sys.stderr)
        return 1
    if args.output == "json":
        emit_json(result, stdout)
    return 0


def _run(args: argparse.Namespace, ctx: Context, stdout: Any) -> Any:
    """The subcommand, its tables printed to the real stdout; AWS errors as CommandError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        with contextlib.redirect_stdout(stdout):
            return args.run(ctx, args)
    except (ClientError, BotoCoreError) as error:
        raise CommandError(str(error)) from None


def _logging(verbose: bool) -> None:
    """Our messages and autoremediate_cli.undo's (which would otherwise reach Powertools'
    handler, stdout) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("autoremediate_cli", "autoremediate.undo"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO if verbose else logging.WARNING)
