"""Render template.yaml from the shared part and each remediator's declaration.

    make template                 # write template.yaml
    python -m tools.template --check   # exit 1 when template.yaml is not what this renders

The shared part (tools/template/shared.yaml) is plain SAM YAML with four marker comments where
the remediators' parameters, conditions, resources and outputs go. The result is checked by
parsing it back: what the parser reads must be exactly the shared part plus the declared data.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CODE_ROOT = ROOT / "remediators"
if str(CODE_ROOT) not in sys.path:  # the remediators' import root, as Lambda and pytest have it
    sys.path.insert(0, str(CODE_ROOT))

from core.declaration import Declaration  # noqa: E402
from registry import REMEDIATORS  # noqa: E402
from tools.template import functions, stack  # noqa: E402
from tools.template.yaml_text import entry, strip_comments  # noqa: E402

SHARED = Path(__file__).with_name("shared.yaml")
TEMPLATE = ROOT / "template.yaml"
MARKERS = {
    "parameters": "  #@ remediator parameters",
    "conditions": "  #@ remediator conditions",
    "resources": "#@ remediator resources",
    "outputs": "  #@ remediator outputs",
}


class RenderError(RuntimeError):
    """The shared part or a declaration cannot be rendered as they are."""


def declarations(names: tuple[str, ...] = REMEDIATORS) -> list[Declaration]:
    """The DECLARATION of each registered remediator module, in registry order."""
    found = []
    for name in names:
        declaration = getattr(importlib.import_module(name), "DECLARATION", None)
        if not isinstance(declaration, Declaration) or declaration.name != name:
            raise RenderError(f"module {name} has no DECLARATION named {name!r}")
        found.append(declaration)
    return found


Made = list[tuple[Declaration, dict[str, Any]]]
"""Each declaration with its function's resources (made once, then placed and checked)."""


def sections(made: Made) -> dict[str, dict[str, Any]]:
    """The rendered data, by marker: what the declarations add to each template section."""
    declared = [declaration for declaration, _ in made]
    added: dict[str, dict[str, Any]] = {name: {} for name in MARKERS}
    added["resources"].update(stack.resources(declared))
    for declaration, resources in made:
        for name, part in (
            ("parameters", functions.parameters(declaration)),
            ("conditions", functions.conditions(declaration)),
            ("resources", resources),
            ("outputs", functions.outputs(declaration)),
        ):
            clash = set(part) & set(added[name])
            if clash:
                raise RenderError(f"{declaration.name}: {name} {sorted(clash)} declared twice")
            added[name].update(part)
    return added


def render(shared: str | None = None, declared: list[Declaration] | None = None) -> str:
    """The text of template.yaml: the shared part with each marker line replaced by what the
    declarations add there (resources: one block per function, under its banner)."""
    text = SHARED.read_text(encoding="utf-8") if shared is None else shared
    declared = declarations() if declared is None else declared
    made = [(d, functions.resources(d, declared)) for d in declared]
    added = sections(made)
    blocks = {name: _entries(data) for name, data in added.items()}
    stack_block = stack.BANNER + "\n" + _entries(stack.resources(declared))
    function_blocks = (_function_block(d, resources) for d, resources in made)
    blocks["resources"] = "\n\n".join([stack_block, *function_blocks])
    lines = text.splitlines()
    out = []
    for marker in MARKERS.values():
        if lines.count(marker) != 1:
            raise RenderError(f"{SHARED.name} must hold the line {marker!r} exactly once")
    by_marker = {marker: blocks[name] for name, marker in MARKERS.items()}
    for line in lines:
        if line not in by_marker:
            out.append(line)
        elif by_marker[line]:
            out.append(by_marker[line])
    rendered = "\n".join(out) + "\n"
    _check_round_trip(text, rendered, added)
    return rendered


def _entries(data: dict[str, Any], indent: int = 2) -> str:
    return "\n".join(line for key, value in data.items() for line in entry(key, value, indent))


def _function_block(declaration: Declaration, resources: dict[str, Any]) -> str:
    """A banner, then the function's resources separated by blank lines."""
    parts = [_entries({key: value}) for key, value in resources.items()]
    return functions.banner(declaration) + "\n" + "\n\n".join(parts)


def _check_round_trip(shared: str, rendered: str, added: dict[str, dict[str, Any]]) -> None:
    """What YAML reads back from the rendered text is the shared part plus the declared data."""
    from samtranslator.yaml_helper import yaml_parse

    expected = yaml_parse(shared)
    for section, data in added.items():
        name = section.capitalize()
        expected.setdefault(name, {}).update(strip_comments(data))
    got = yaml_parse(rendered)
    if got != expected:
        wrong = [k for k in expected if got.get(k) != expected[k]]
        raise RenderError(f"the rendered YAML does not read back as the data: {wrong}")
