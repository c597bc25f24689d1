"""Which function of template.yaml an event reaches: the template's own EventBridge patterns.

Shared by the demo, the benchmark and the contract tests, so that all of them route events the
way the deployed rules would instead of keeping their own copy of the patterns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
SERVERLESS_FUNCTION = "AWS::Serverless::Function"
OPERATING_HANDLERS = frozenset({"slack_notifier"})
"""Handler modules of functions that are not remediators (no EventBridge rule, no REMEDIATOR):
written by hand in tools/template/shared.yaml and checked by their own contract tests. Any other
function counts as a remediator, so that one the registry forgets still meets every check."""


class TemplateError(ValueError):
    """template.yaml does not have the shape the tools rely on (DESIGN.md, contract)."""


@dataclass(frozen=True)
class Function:
    """One remediator function: the module Lambda imports and the patterns that invoke it."""

    logical_id: str
    handler_module: str
    patterns: tuple[dict[str, Any], ...]
    environment: Mapping[str, Any] = field(default_factory=dict)
    """Globals.Function and the function's own Environment.Variables, as written (intrinsics
    such as {"Ref": "Mode"} are left unresolved)."""


def load_template(path: Path | str = TEMPLATE) -> dict[str, Any]:
    """Read a SAM template; short tags (!Ref, !Sub, !If...) become their long JSON form."""
    # samtranslator's loader is the one `sam` itself uses to read templates.
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(Path(path).read_text())
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources mapping")
    return template


def functions(template: Mapping[str, Any]) -> list[Function]:
    """Every remediator function (not the OPERATING_HANDLERS) with its handler module and
    EventBridge rule patterns."""
    return [f for f in all_functions(template) if f.handler_module not in OPERATING_HANDLERS]


def all_functions(template: Mapping[str, Any]) -> list[Function]:
    """Every AWS::Serverless::Function, the operating ones (Slack notifier) included."""
    globals_ = _mapping(_mapping(template.get("Globals")).get("Function"))
    found = []
    for logical_id, resource in _mapping(template.get("Resources")).items():
        resource = _mapping(resource)
        if resource.get("Type") != SERVERLESS_FUNCTION:
            continue
        props = _mapping(resource.get("Properties"))
        handler = props.get("Handler", globals_.get("Handler"))
        if not isinstance(handler, str) or "." not in handler:
            raise TemplateError(
                f"{logical_id}: Handler must be '<module>.handler', not {handler!r}"
            )
        patterns = []
        for name, event in _mapping(props.get("Events")).items():
            event = _mapping(event)
            if event.get("Type") != "EventBridgeRule":
                continue
            pattern = _mapping(event.get("Properties")).get("Pattern")
            if not isinstance(pattern, dict) or not pattern:
                raise TemplateError(f"{logical_id}.Events.{name}: EventBridgeRule has no Pattern")
            patterns.append(pattern)
        environment = {
            **_mapping(_mapping(globals_.get("Environment")).get("Variables")),
            **_mapping(_mapping(props.get("Environment")).get("Variables")),
        }
        found.append(
            Function(str(logical_id), handler.rsplit(".", 1)[0], tuple(patterns), environment)
        )
    return found


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge pattern matching as moto implements it (its test_event_pattern is a stub)."""
    from moto.events.models import EventPattern

    # moto types the event as its own TypedDict; any JSON object is a valid input here.
    return EventPattern.load(json.dumps(pattern)).matches_event(cast(Any, dict(event)))


def routes(
    template_or_functions: Mapping[str, Any] | Iterable[Function], event: Mapping[str, Any]
) -> list[Function]:
    """The functions whose rules `event` matches, in template order (empty: filtered out)."""
    candidates = (
        functions(template_or_functions)
        if isinstance(template_or_functions, Mapping)
        else list(template_or_functions)
    )
    return [f for f in candidates if any(matches(p, event) for p in f.patterns)]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
