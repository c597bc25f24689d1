"""How the demo prints: each mode's tables and notifications, the undo, the live before/after.

All layout lives here, so that the output fits one screen width (WIDTH) whatever it shows.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Mapping
from typing import Any

from tools.demo.outcomes import ModeRun, Row, manual_steps
from tools.scenario import Aws, Stack

WIDTH = 120
COLUMNS = (("event", 25), ("resource", 26), ("actor", 12), ("status", 15))
ENCRYPTION_COLUMNS = (("event", 30), ("function", 32), ("resource", 26), ("status", 15))
REPORT_ONLY_NOTE = "(listed in enforce mode)"


def print_mode(run: ModeRun) -> None:
    """One mode: its IAM table, its encryption table, their notifications and outcome counts."""
    title = {"report": "REPORT mode: what would change", "enforce": "ENFORCE mode: what changed"}
    print(f"\n=== {title[run.mode]} " + "=" * (WIDTH - len(title[run.mode]) - 5))
    print(" ".join(f"{name:<{w}}" for name, w in COLUMNS) + " - and each change, or why not")
    for row in run.rows:
        _print_row((row.event, row.resource, row.actor, row.status), COLUMNS, row, run.mode)
    # Every function but IAM's: the encryption family, the tampering reporter, those to come.
    print(f"\nothers: {run.settings}, all else as the template")
    print(" ".join(f"{name:<{w}}" for name, w in ENCRYPTION_COLUMNS).rstrip())
    for row in run.encryption:
        function = row.function.removesuffix("Function") or "-"
        cells = (row.event, function, row.resource, row.status)
        _print_row(cells, ENCRYPTION_COLUMNS, row, run.mode)
    print()
    _print_notes([row.note for row in run.rows if row.note])
    _print_notes([row.note for row in run.encryption if row.note], " (others)")
    counts = Counter(row.status for row in run.rows)
    encrypted = Counter(row.status for row in run.encryption)
    print(
        "outcomes: IAM "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        + "\n          others "
        + ", ".join(f"{n} {s}" for s, n in sorted(encrypted.items()))
    )


def _print_row(
    cells: tuple[str, ...], columns: tuple[tuple[str, int], ...], row: Row, mode: str
) -> None:
    lead = " ".join(clip(c, w).ljust(w) for c, (_, w) in zip(cells, columns, strict=True))
    print(lead.rstrip())
    for detail in row.details:
        steps = manual_steps([detail])
        if not steps:
            print(textwrap.fill(detail, WIDTH, initial_indent="  - ", subsequent_indent="    "))
            continue
        # A manual change (report-only function): its numbered steps, one per line in enforce
        # mode; report mode gives their count (the same steps follow in enforce mode).
        lead_in = detail.split(" 1. ", 1)[0]
        if mode != "enforce":
            lead_in += f" {len(steps)} manual steps {REPORT_ONLY_NOTE}"
        print(textwrap.fill(lead_in, WIDTH, initial_indent="  - ", subsequent_indent="    "))
        if mode == "enforce":
            for step in steps:
                print(
                    textwrap.fill(
                        step,
                        WIDTH,
                        initial_indent="    ",
                        subsequent_indent="       ",
                        break_on_hyphens=False,  # keep CLI options whole
                    )
                )


def _print_notes(notes: list[Mapping[str, Any]], whose: str = "") -> None:
    """Each SNS notification: its subject and the message attributes subscribers filter on
    (the remediator attribute is the name in the subject)."""
    if not notes:
        print(f"no SNS notification published{whose}")
        return
    names = ("remediator", "mode", "status", "severity")
    first = notes[0]["attributes"]
    same = [k for k in names if all(n["attributes"].get(k) == first.get(k) for n in notes)]
    shared = " ".join(f"{k}={first.get(k)}" for k in same)
    # Attributes the subject shows ("[status] remediator: ...") are not repeated on its line.
    in_subject = [k for k in ("remediator", "status") if k not in same]
    if in_subject:
        shared += f" {', '.join(in_subject)}: see subject"
    print(f"{len(notes)} SNS notifications{whose}, attributes: {shared}")
    lines = []
    for note in notes:
        own = " ".join(
            f"{k}={note['attributes'].get(k)}" for k in names if k not in same + in_subject
        )
        lines.append(f"  {note['subject']}  {own}".rstrip())
    # Identical notifications in a row (one resource, several events) are printed once.
    i = 0
    while i < len(lines):
        repeat = 1
        while i + repeat < len(lines) and lines[i + repeat] == lines[i]:
            repeat += 1
        print(clip(lines[i] + (f"  (x{repeat})" if repeat > 1 else ""), WIDTH))
        i += repeat


def print_undo(aws: Aws, stack: Stack, rows: list[Row]) -> None:
    """How to take one fix back, as the ledger entry of PutRolePolicy's outcome records it."""
    from core.ledger import Ledger

    row = next((r for r in rows if r.event == "PutRolePolicy" and r.outcome_id), None)
    if row is None:
        print("\nno ledger entry for PutRolePolicy")
        return
    entry = Ledger(aws, stack.table).get(row.outcome_id)
    print(f"\nledger entry {row.outcome_id} ({entry['status']}) of PutRolePolicy; undo it with")
    print(clip(f"  {entry.get('undo', '(no undo command recorded)')}", WIDTH))
    for change in entry.get("changes", []):
        for cli in change.get("undo_cli", []):
            print(clip(f"  = {cli}", WIDTH))


def print_state(runs: list[ModeRun]) -> None:
    """The same documents read live after report mode (as alice left them) and after enforce."""
    print("\n=== the fix is real: live state in moto after report mode vs after enforce mode ===")
    before, after = runs[0].state, runs[-1].state
    for key in before:
        old, new = before[key] or ["(deleted)"], after.get(key) or ["(deleted)"]
        if len(old) == len(new) == 1 and len(key) + len(old[0]) + len(new[0]) < WIDTH - 20:
            print(f"{key}: before {old[0]}, after {new[0]}")
            continue
        print(key)
        for label, lines in (("before", old), ("after", new)):
            for i, line in enumerate(lines):
                print(clip(f"  {label if i == 0 else '':<7}{line}", WIDTH))


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 2] + ".."
