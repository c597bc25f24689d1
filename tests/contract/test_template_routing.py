"""template.yaml's EventBridge patterns route every sample and real event to the functions
that handle it (tools.routing, moto's EventPattern), and to no other."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contract.template_model import (
    CORPUS,
    FIXTURES,
    all_samples,
    declares,
    envelope,
    expected_for_record,
    function,
    function_ids,
    load,
    sample_triggers,
    samples,
    string_leaves,
    template_functions,
    trigger_of,
    value_at,
)
from tools.routing import matches, routes

# ----------------------------------------------------------------------------------- events


@pytest.mark.parametrize("logical_id", function_ids())
def test_every_function_has_sample_events(logical_id: str) -> None:
    assert samples(function(logical_id)), f"no events/{function(logical_id).handler_module}/*.json"


@pytest.mark.parametrize(
    ("logical_id", "path"), all_samples(), ids=[p.name for _, p in all_samples()]
)
def test_sample_event_reaches_its_function_and_only_those_that_handle_it(
    logical_id: str, path: Path
) -> None:
    """A sample reaches its own function, which names its trigger. It may also reach another
    function only when that one names the trigger too and has a sample of it (two controls on
    one resource, e.g. CreateBucket: encryption and TLS-only policy): nothing reaches a function
    by accident, through a pattern that does not list the event."""
    event = load(path)
    reached = routes(template_functions(), event)
    if "errorCode" in event.get("detail", {}):
        assert reached == [], "a failed call changed nothing and must not trigger"
        return
    assert logical_id in [f.logical_id for f in reached]
    assert declares(function(logical_id), event), f"{logical_id} does not list {path.name}"
    trigger = trigger_of(event)
    undeclared = [
        f.logical_id
        for f in reached
        if f.logical_id != logical_id
        and not (declares(f, event) and trigger in sample_triggers(f.logical_id))
    ]
    assert undeclared == [], f"{trigger} reaches functions that do not handle it"


@pytest.mark.parametrize("logical_id", function_ids())
def test_samples_cover_every_value_of_every_pattern(logical_id: str) -> None:
    f = function(logical_id)
    events = [load(path) for path in samples(f)]
    missing = []
    for pattern in f.patterns:
        reaching = [e for e in events if matches(pattern, e)]
        for path, value in string_leaves(pattern):
            found = [value_at(e, path) for e in reaching]
            if not any(v == value or (isinstance(v, list) and value in v) for v in found):
                missing.append(f"{'.'.join(path)}={value}")
        names = value_at(pattern, ("detail", "eventName")) or []
        for prefix in (n["prefix"] for n in names if isinstance(n, dict) and "prefix" in n):
            found = [value_at(e, ("detail", "eventName")) for e in reaching]
            if not any(isinstance(v, str) and v.startswith(prefix) for v in found):
                missing.append(f"detail.eventName prefix {prefix}")
    assert missing == [], f"no sample event in events/{f.handler_module}/ for {missing}"


def test_real_cloudtrail_fixtures_route_as_their_call_says() -> None:
    records = sorted(FIXTURES.glob("*/*/*.json"))
    assert records, f"no CloudTrail fixtures under {FIXTURES}"
    events = [envelope(load(path)) for path in records]
    assert any("errorCode" in e["detail"] for e in events), "no failed call among the fixtures"
    assert any(expected_for_record(e) for e in events), "no fixture is a trigger"
    wrong = [
        path.relative_to(FIXTURES).as_posix()
        for path, event in zip(records, events, strict=True)
        if routes(template_functions(), event) != expected_for_record(event)
    ]
    assert wrong == []


@pytest.mark.corpus
def test_real_corpus_cloudtrail_records_route_as_their_call_says() -> None:
    records = sorted((CORPUS / "cloudtrail").glob("*/*/*.json"))
    if not records:
        pytest.skip(f"no corpus at {CORPUS} (set AUTOREMEDIATE_CORPUS to sweep one)")
    wrong = []
    for path in records:
        event = envelope(load(path))
        if routes(template_functions(), event) != expected_for_record(event):
            wrong.append(path.relative_to(CORPUS).as_posix())
    assert wrong == []


@pytest.mark.corpus
def test_real_corpus_config_events_route_by_resource_type() -> None:
    records = sorted((CORPUS / "config" / "eventbridge").glob("*/*.json"))
    if not records:
        pytest.skip(f"no Config EventBridge events under {CORPUS} (AUTOREMEDIATE_CORPUS)")
    path_ = ("detail", "configurationItem", "resourceType")
    wrong = []
    for path in records:
        event = load(path)
        expected = [
            f
            for f in template_functions()
            if any(value_at(event, path_) in (value_at(p, path_) or []) for p in f.patterns)
        ]
        if routes(template_functions(), event) != expected:
            wrong.append(path.relative_to(CORPUS).as_posix())
    assert wrong == []
