"""What the command prints: readable tables for people, JSON for scripts (stdout only)."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO


class CommandError(RuntimeError):
    """Refused or not found: the message says why; the command exits 1 having changed nothing
    (unless the message says otherwise)."""


def emit_json(value: Any, out: TextIO | None = None) -> None:
    """One JSON document on stdout, nothing else."""
    stream = out or sys.stdout
    stream.write(json.dumps(value, indent=2, default=str) + "\n")


def table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], width: int = 0
) -> str:
    """`columns`: (key, heading). Columns are as wide as their widest cell; the last one is cut
    to the terminal's width (`width`, 0: the terminal's) so that a row stays one line."""
    if not rows:
        return ""
    width = width or shutil.get_terminal_size((160, 24)).columns
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    headings = [heading for _, heading in columns]
    sizes = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headings)]
    room = max(width - sum(sizes[:-1]) - 2 * (len(sizes) - 1), len(headings[-1]))
    sizes[-1] = min(sizes[-1], room)
    lines = [_line(headings, sizes), _line(["-" * s for s in sizes], sizes)]
    lines += [_line(c, sizes) for c in cells]
    return "\n".join(lines)


def _line(cells: Sequence[str], sizes: Sequence[int]) -> str:
    parts = [_clip(c, s).ljust(s) for c, s in zip(cells, sizes, strict=True)]
    return "  ".join(parts).rstrip()


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: max(size - 2, 0)] + ".."


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return " ".join(str(value).split())  # one line per row
