"""What the bench prints and writes: statistics of timings, targets met or missed, breakage,
and build/bench.json, so that every section reports the same way."""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.bench.config import OUT, ROOT, WIDTH


class BenchError(RuntimeError):
    """Something broke: the figures would be meaningless."""


@dataclass(frozen=True)
class Stats:
    """Median and spread of timings, in milliseconds."""

    n: int
    median: float
    q1: float
    q3: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if len(values) < 2:
            raise BenchError(f"need at least 2 values for statistics, got {len(values)}")
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(len(values), median, q1, q3, min(values), max(values))

    def __str__(self) -> str:
        return (
            f"{self.median:7.1f}  [IQR {self.q1:.1f}-{self.q3:.1f}, "
            f"min {self.low:.1f}, max {self.high:.1f}, n={self.n}]"
        )


@dataclass
class Target:
    """One figure held to its target: PASS or MISS in the Targets section."""

    name: str
    passed: bool
    figure: str


@dataclass
class Report:
    """What the sections found: figures for build/bench.json, targets and breakage."""

    data: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Breakage that leaves the other figures valid: reported at the end, exit status 1."""

    def target(self, name: str, passed: bool, figure: str) -> None:
        self.targets.append(Target(name, passed, figure))


def relative_to_root(path: Path) -> str:
    """Paths as the reader types them, from the repository root."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def header(title: str) -> None:
    """A section title, flushed so that progress shows while the section runs."""
    print(f"\n{title}\n{'-' * min(len(title), WIDTH)}", flush=True)


def summarise(report: Report, seconds: float) -> None:
    """The Targets section, then every figure to build/bench.json."""
    header("Targets")
    for target in report.targets:
        print(f"   {'PASS' if target.passed else 'MISS'}  {target.name}: {target.figure}")
    for problem in report.problems:
        print(f"   BROKEN  {problem}")
    report.data["targets"] = [asdict(t) for t in report.targets]
    report.data["problems"] = report.problems
    report.data["seconds"] = seconds
    report.data["load_after"] = note = load_note()
    print(f"   ({note})")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(report.data, indent=2, default=str) + "\n")
    print(
        f"\n{len(report.targets)} targets, {sum(not t.passed for t in report.targets)} missed; "
        f"{seconds:.0f} s; figures in {relative_to_root(OUT)}"
    )


def load_note() -> str:
    """How busy the machine is: wall times stretch when other jobs share the CPUs."""
    one_minute = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    note = f"load average {one_minute:.1f} on {cpus} CPUs"
    if one_minute > cpus + 1:  # the bench itself keeps about one CPU busy
        note += ": busy, wall times are inflated; CPU-time figures are the steadier ones"
    return note
