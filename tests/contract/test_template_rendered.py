"""template.yaml is exactly what tools/template renders from the declarations, and the renderer
writes YAML that reads back as the data it was given."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from samtranslator.yaml_helper import yaml_parse

from core.declaration import Declaration
from registry import REMEDIATORS
from tests.contract.template_model import ROOT
from tools.template import MARKERS, SHARED, TEMPLATE, RenderError, declarations, render
from tools.template.yaml_text import Commented, entry, strip_comments


def test_checked_in_template_is_what_the_declarations_render() -> None:
    assert TEMPLATE.read_text(encoding="utf-8") == render(), (
        "template.yaml is stale: run `make template` and commit the result"
    )


def test_every_remediator_module_is_registered() -> None:
    """A module with a handler and a DECLARATION that the registry forgets would never deploy."""
    modules = [m.name for m in pkgutil.iter_modules([str(ROOT / "remediators")])]
    declared = [
        name
        for name in modules
        if isinstance(getattr(importlib.import_module(name), "DECLARATION", None), Declaration)
    ]
    assert sorted(declared) == sorted(REMEDIATORS)


def test_declarations_are_what_the_remediators_use() -> None:
    for declaration in declarations():
        remediator = importlib.import_module(declaration.name).REMEDIATOR
        assert remediator.declaration is declaration
        assert remediator.name == declaration.name
        assert remediator.read_actions == declaration.read_actions
        assert remediator.write_actions == declaration.write_actions


def test_lambda_import_path_holds_no_renderer() -> None:
    """Declarations are plain data: importing a handler loads no YAML library or template code."""
    code = (
        "import sys; sys.path.insert(0, 'remediators')\n"
        + "".join(f"import {name}\n" for name in REMEDIATORS)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('yaml', 'samtranslator', 'tools', 'registry', 'ruamel'))\n"
        "assert not bad, bad\n"
    )
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_a_missing_marker_is_refused() -> None:
    shared = SHARED.read_text(encoding="utf-8").replace(MARKERS["outputs"] + "\n", "")
    with pytest.raises(RenderError, match="remediator outputs"):
        render(shared)


def test_a_name_declared_twice_is_refused() -> None:
    twice = declarations()[:1] * 2
    with pytest.raises(RenderError, match="declared twice"):
        render(declared=twice)


# ------------------------------------------------------------------------------- YAML writer

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=150)
WORDS = st.from_regex(r"[A-Za-z0-9().,:;'*/#!?&|>%@`\"-]{1,14}", fullmatch=True)
HYPHENATED = st.from_regex(r"[a-z]{1,8}-[a-z]{1,8}", fullmatch=True)  # least-privilege
PROSE = st.lists(WORDS | HYPHENATED, min_size=8, max_size=40).map(" ".join)  # long: folded
SCALARS = st.one_of(TEXT, PROSE, st.integers(-(10**6), 10**6), st.booleans())
INTRINSICS = st.one_of(
    st.builds(lambda n: {"Ref": n}, st.from_regex(r"[A-Za-z][A-Za-z0-9:]{0,20}", fullmatch=True)),
    st.builds(lambda t: {"Fn::Sub": t}, TEXT),
)
KEYS = st.from_regex(r"[A-Za-z][A-Za-z0-9:_-]{0,15}", fullmatch=True)


def nested(children: Any) -> Any:
    return st.one_of(
        st.lists(children, min_size=1, max_size=4),
        st.dictionaries(KEYS, children, min_size=1, max_size=4),
    )


DATA = st.recursive(st.one_of(SCALARS, INTRINSICS), nested, max_leaves=12)


@given(st.dictionaries(KEYS, DATA, min_size=1, max_size=4), TEXT)
def test_written_yaml_reads_back_as_the_data(data: dict[str, Any], comment: str) -> None:
    """Whatever the strings hold (quotes, colons, '#', leading '*', numbers, long prose)."""
    commented = {key: Commented(value, comment) for key, value in data.items()}
    lines = [line for key, value in commented.items() for line in entry(key, value, 0)]
    assert yaml_parse("\n".join(lines)) == strip_comments(commented)


def test_prefixed_event_names_render_as_eventbridge_prefix_matches() -> None:
    from core.declaration import CloudTrail, Declaration
    from tools.template.functions import resources

    declared = Declaration(
        name="lambda_sample",
        title="Lambda sample",
        description="A sample",
        permissions=(),
        cloudtrail=(CloudTrail("lambda.amazonaws.com", ("GetPolicy",), prefixes=("Update",)),),
    )
    made = resources(declared, [declared])
    pattern = made["LambdaSampleFunction"]["Properties"]["Events"]["CloudTrail"]["Properties"]
    names = strip_comments(pattern["Pattern"]["detail"]["eventName"])
    assert names == ["GetPolicy", {"prefix": "Update"}]
    text = "\n".join(entry("Names", names, 0))
    assert yaml_parse(text) == {"Names": names}


def test_function_names_fit_lambda_with_the_stack_names_the_readme_allows() -> None:
    """Functions are named `<stack>-<remediator>`; Lambda allows 64 characters."""
    import re
    import tomllib

    longest = max(len(name) + 1 for name in REMEDIATORS)
    stated = re.search(r"at most \*\*(\d+) characters\*\*", readme())
    assert stated, "README's Deploy section states the longest stack name"
    allowed = int(stated.group(1))
    assert allowed == 64 - longest
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    stack = config["default"]["deploy"]["parameters"]["stack_name"]
    assert len(stack) <= allowed


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")
