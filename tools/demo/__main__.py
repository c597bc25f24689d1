"""`python -m tools.demo` (`make demo`): both modes, the live before/after, then the limits."""

from __future__ import annotations

import sys
import textwrap
import time

from tools.demo.lambda_env import isolated_environment
from tools.demo.play import run_modes
from tools.demo.printing import WIDTH, print_state
from tools.demo.story import ENCRYPTION_STORY, MOTO_LIMITS, STORY


def main() -> int:
    """Run and print both modes; 1 when anything unexpected happened."""
    started = time.perf_counter()
    problems: list[str] = []
    with isolated_environment():
        runs = run_modes(problems)
    print_state(runs)
    print()
    for limit in MOTO_LIMITS:
        print(textwrap.fill(limit, WIDTH, subsequent_indent="  "))
    took = time.perf_counter() - started
    print(
        f"\n{len(STORY)} IAM and {len(ENCRYPTION_STORY)} encryption sample events per mode; "
        f"both modes ran in {took:.1f} s"
    )
    for problem in problems:
        print(f"UNEXPECTED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
