"""What the demo, the benchmark and the tests know of a remediator's sample events, read from
`events/<module>/samples.toml` beside them, so that a new remediator brings its facts as data
and no tool needs a line for it.

    representative = "CreateTopic"   # the sample the bench measures; the demo seeds its state
    demo = ["CreateTopic"]           # what the demo plays (default: [representative])
    repeatable = true                # every seed puts its state back over a fix (false: only
                                     # the representative's, which the bench re-seeds)
    settings = { VAR = "value" }     # the demo's and the bench's departures from the template
    stubbed = "..."                  # the demo adds it to this function's REMEDIATED rows
    moto_limits = ["..."]            # the demo prints them at its end

    [states]                         # named lists of steps that seeds share
    topic = [{ service = "sns", operation = "create_topic", params = { Name = "billing-events" } }]

    [samples.CreateTopic]            # one table per events/<module>/<name>.json
    calls = 3                        # the fewest API calls on the resource the change needs
    why = "GetTopicAttributes + ListTagsForResource (exemptions) + SetTopicAttributes"
    status = "REMEDIATED"            # expected in enforce mode (the default)
    seed = ["topic"]                 # the state the event describes, replayed before it runs
    compliant = [...]                # a compliant state, for a function that cannot fix it
    # or, top level: quiet = "<a COMPLIANT sample>", timed instead when no state is compliant

A step is the name of a state, a boto3 call `{ service, operation, params, ok }` (`ok`: error
codes meaning "already so"; in `params`, `${ACCOUNT}`, `${REGION}` and `${<operation>.<Key>}`,
an earlier call's result, `.0` for a list's first item), or `{ replay = "<sample>" }`: the call
that CloudTrail sample records. tools/scenario.py runs the steps.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
FILE = "samples.toml"
# The statuses a sample may expect (core.outcome.Status, FAILED excepted: never a success).
STATUSES = ("REMEDIATED", "WOULD_REMEDIATE", "COMPLIANT", "SKIPPED", "EXEMPT")
_TOP = {"representative", "quiet", "demo", "repeatable", "settings", "stubbed", "moto_limits"}
_TABLES = {"states", "samples"}
_SAMPLE = {"calls", "why", "status", "seed", "compliant"}
_CALL = {"service", "operation", "params", "ok"}


class SamplesError(ValueError):
    """A samples.toml that is missing or says something the tools cannot act on."""


@dataclass(frozen=True)
class ApiCall:
    """One boto3 call of a seed: `aws(service).<operation>(**params)`."""

    service: str
    operation: str
    params: Mapping[str, Any] = field(default_factory=dict)
    ok: tuple[str, ...] = ()
    """Error codes that mean the call's effect is already there (a create of what exists)."""


@dataclass(frozen=True)
class Replay:
    """Replay the API call that CloudTrail sample event `sample` records (tools.scenario)."""

    sample: str


Step = ApiCall | Replay


@dataclass(frozen=True)
class Sample:
    """One sample event: the fewest calls its change needs, why, its status, its state."""

    name: str
    calls: int
    why: str
    status: str = "REMEDIATED"
    seed: tuple[Step, ...] = ()
    compliant: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Samples:
    """One remediator's samples.toml."""

    module: str
    representative: str
    demo: tuple[str, ...]
    samples: Mapping[str, Sample]
    repeatable: bool = True
    settings: Mapping[str, str] = field(default_factory=dict)
    stubbed: str = ""
    moto_limits: tuple[str, ...] = ()
    quiet: str = ""
    """The COMPLIANT sample the benchmark times as the quiet run of a report-only function whose
    resource no state makes compliant (a tampering call is the finding whatever the state)."""

    def __getitem__(self, name: str) -> Sample:
        if name not in self.samples:
            raise SamplesError(f"{path_of(self.module)}: no [samples.{name!r}]")
        return self.samples[name]


def path_of(module: str) -> Path:
    return EVENTS / module / FILE


@functools.cache
def samples_of(module: str) -> Samples:
    """The module's samples.toml, checked (cached: the files do not change while tools run)."""
    path = path_of(module)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SamplesError(f"no {path.relative_to(ROOT)}: see README, Add a remediator") from None
    except tomllib.TOMLDecodeError as error:
        raise SamplesError(f"{path}: {error}") from None
    try:
        return parse(module, data)
    except SamplesError as error:
        raise SamplesError(f"{path.relative_to(ROOT)}: {error}") from None


def parse(module: str, data: Mapping[str, Any]) -> Samples:
    """One samples.toml's data, checked; SamplesError says what is wrong, and where."""
    _keys(data, _TOP | _TABLES, "the top level")
    states = _table(data.get("states", {}), "[states]")
    raw = _table(data.get("samples"), "[samples]")
    events = {p.stem for p in (EVENTS / module).glob("*.json")}
    if unknown := sorted(set(raw) - events):
        raise SamplesError(f"[samples] names no events/{module}/<name>.json: {unknown}")

    def steps(value: Any, where: str) -> tuple[Step, ...]:
        found: list[Step] = []
        for step in _list(value, where):
            if isinstance(step, str):
                if step not in states:
                    raise SamplesError(f"{where}: no state {step!r} in [states]")
                found += [_step(s, f"[states] {step}", raw) for s in _list(states[step], step)]
            else:
                found.append(_step(step, where, raw))
        return tuple(found)

    samples = {}
    for name, entry in raw.items():
        where = f"[samples.{name}]"
        entry = _table(entry, where)
        _keys(entry, _SAMPLE, where)
        calls, why = entry.get("calls"), entry.get("why")
        status = entry.get("status", "REMEDIATED")
        if not isinstance(calls, int) or isinstance(calls, bool) or calls < 0:
            raise SamplesError(f"{where}: calls must be a whole number >= 0, not {calls!r}")
        if not isinstance(why, str) or not why.strip():
            raise SamplesError(f"{where}: why must say why those calls are the fewest")
        if status not in STATUSES:
            raise SamplesError(f"{where}: status {status!r} is none of {STATUSES}")
        seed = steps(entry.get("seed", []), f"{where} seed")
        compliant = steps(entry.get("compliant", []), f"{where} compliant")
        samples[name] = Sample(name, calls, why, status, seed, compliant)
    representative = data.get("representative")
    if representative not in samples:
        raise SamplesError(f"representative {representative!r} is not in [samples]")
    demo = tuple(_list(data.get("demo", [representative]), "demo"))
    if not demo or any(name not in samples for name in demo):
        raise SamplesError(f"demo {list(demo)} must name samples of [samples]")
    settings = _table(data.get("settings", {}), "settings")
    if not all(isinstance(v, str) for v in settings.values()):
        raise SamplesError("settings: every value is an environment string")
    repeatable, stubbed = data.get("repeatable", True), data.get("stubbed", "")
    limits = _list(data.get("moto_limits", []), "moto_limits")
    if not isinstance(repeatable, bool) or not isinstance(stubbed, str):
        raise SamplesError("repeatable is true or false; stubbed is a string")
    if not all(isinstance(limit, str) for limit in limits):
        raise SamplesError("moto_limits: a list of strings")
    quiet = data.get("quiet", "")
    if quiet and (quiet not in samples or samples[quiet].status != "COMPLIANT"):
        raise SamplesError(f"quiet {quiet!r} must name a COMPLIANT sample of [samples]")
    return Samples(
        module,
        str(representative),
        demo,
        samples,
        repeatable,
        settings,
        stubbed,
        tuple(limits),
        str(quiet),
    )


def _step(value: Any, where: str, samples: Mapping[str, Any]) -> Step:
    step = _table(value, where)
    if set(step) == {"replay"}:
        if step["replay"] not in samples:
            raise SamplesError(f"{where}: replay {step['replay']!r} is not in [samples]")
        return Replay(str(step["replay"]))
    _keys(step, _CALL, f"{where} step")
    service, operation = step.get("service"), step.get("operation")
    if not isinstance(service, str) or not isinstance(operation, str):
        raise SamplesError(f"{where}: a step is a state's name, {{ replay }} or {sorted(_CALL)}")
    ok = _list(step.get("ok", []), f"{where} ok")
    params = _table(step.get("params", {}), f"{where} params")
    return ApiCall(service, operation, params, tuple(str(code) for code in ok))


def _keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    if unknown := sorted(set(table) - allowed):
        raise SamplesError(f"{where}: unknown keys {unknown} (allowed: {sorted(allowed)})")


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SamplesError(f"{where} must be a table, not {value!r}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SamplesError(f"{where} must be a list, not {value!r}")
    return value
