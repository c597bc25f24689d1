"""`make template`: write template.yaml; `--check`: fail when it is stale (CI, tests)."""

from __future__ import annotations

import argparse
import difflib
import sys

from tools.template import TEMPLATE, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    rendered = render()
    current = TEMPLATE.read_text(encoding="utf-8") if TEMPLATE.exists() else ""
    if args.check:
        if current == rendered:
            print("template.yaml is up to date")
            return 0
        diff = difflib.unified_diff(
            current.splitlines(), rendered.splitlines(), "template.yaml", "rendered", lineterm=""
        )
        print("\n".join(diff))
        print("template.yaml is stale: run `make template` and commit it", file=sys.stderr)
        return 1
    TEMPLATE.write_text(rendered, encoding="utf-8")
    print(f"wrote {TEMPLATE.name} ({len(rendered.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
