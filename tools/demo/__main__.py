"""`python -m tools.demo` (`make demo`): both modes, the live before/after, then the limits."""

from __future__ import annotations

import sys
import textwrap
import time

from tools.demo.lambda_env import isolated_environment
from tools.demo.play import run_modes
from tools.demo.printing import WIDTH, print_state
from tools.demo.story import STORY, moto_limits
from tools.routing import functions, load_template
from tools.samples import SamplesError


def main() -> int:
    """Run and print both modes; 1 when anything unexpected happened."""
    started = time.perf_counter()
    problems: list[str] = []
    with isolated_environment():
        try:
            runs = run_modes(problems)
        except SamplesError as error:  # a remediator's events/<module>/samples.toml
            print(f"UNEXPECTED: {error}", file=sys.stderr)
            return 1
    print_state(runs)
    print()
    for limit in moto_limits(functions(load_template())):
        print(textwrap.fill(limit, WIDTH, subsequent_indent="  "))
    took = time.perf_counter() - started
    print(
        f"\n{len(STORY)} IAM and {runs[0].encryption_events} encryption sample events per mode; "
        f"both modes ran in {took:.1f} s"
    )
    for problem in problems:
        print(f"UNEXPECTED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
