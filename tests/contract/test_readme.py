"""The README's configuration tables say what template.yaml really does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tools.routing import all_functions, load_template

ROOT = Path(__file__).resolve().parents[2]


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def _parameter_rows() -> dict[str, list[str]]:
    rows = {}
    for line in _section("Configuration").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def _default(parameter: dict[str, Any]) -> str:
    default = parameter.get("Default", "")
    return "(empty)" if default == "" else f"`{default}`"


def test_every_template_parameter_is_documented_with_its_default() -> None:
    parameters = load_template()["Parameters"]
    rows = _parameter_rows()

    assert set(rows) == set(parameters)
    for name, parameter in parameters.items():
        assert rows[name][0] == _default(parameter), name
        for allowed in parameter.get("AllowedValues", []):
            if len(parameter["AllowedValues"]) <= 5:
                assert str(allowed) in rows[name][1], (name, allowed)


def test_every_environment_variable_is_documented() -> None:
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", _section("Configuration")))
    set_by_template = {name for f in all_functions(load_template()) for name in f.environment}

    assert set_by_template and set_by_template <= documented
