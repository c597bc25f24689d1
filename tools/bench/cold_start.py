"""Section 1: a function's cold start (import + first event) against the floor any Python
function pays (`import boto3` + one call), so that only our own cost is held to the target."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from tools.bench.config import (
    COLD_RUNS,
    COLD_RUNS_ENCRYPTION,
    COLD_TARGET_MS,
    FLOOR_ROLE,
    IAM_MODULE,
)
from tools.bench.environment import function_env, lambda_env
from tools.bench.moto_server import Moto, fresh_account
from tools.bench.probe import PROBE_SETUP, CodeCopies, code_dir, probe
from tools.bench.report import Report, Stats, header, relative_to_root
from tools.bench.samples import expect_status, expected_status, representative_sample
from tools.routing import Function
from tools.scenario import EVENTS

if TYPE_CHECKING:
    from core.clients import Clients


def cold_start(
    moto: Moto,
    aws: Clients,
    template: Mapping[str, Any],
    fns: list[Function],
    copies: CodeCopies,
    report: Report,
) -> None:
    """Floor and cold start in fresh interpreters, alternating, after a reset and re-seed each."""
    header("1. Cold start: fresh interpreter, import + first event (enforce), vs the boto3 floor")
    print(
        "   floor = `import boto3` + one call; cold = import handler module + its first event;\n"
        f"   ms, medians of {COLD_RUNS} runs (IAM) or {COLD_RUNS_ENCRYPTION} (encryption), +1 "
        "warm-up each; differences are paired per run"
    )
    results: dict[str, Any] = {}
    for fn in fns:
        sample = representative_sample(fn)
        expected = expected_status(fn, sample)
        source = code_dir(fn)
        runs: dict[str, list[float]] = {}
        ratios: list[float] = []
        requests = 0
        variables: dict[str, str] = {}
        cold_runs = COLD_RUNS if fn.handler_module == IAM_MODULE else COLD_RUNS_ENCRYPTION
        for run in range(cold_runs + 1):
            stack, _ = fresh_account(moto, aws, fn.handler_module, sample)
            code = copies.fresh(source)
            variables = function_env(template, fn, stack)
            env = lambda_env(moto.url, fn, code, variables)
            event_path = EVENTS / fn.handler_module / f"{sample}.json"
            setup = PROBE_SETUP.format(code=str(code), event=str(event_path), name=fn.logical_id)
            jobs: dict[str, tuple[str, str]] = {
                "floor": (
                    "import boto3",
                    f"result = boto3.client('iam').get_role(RoleName={FLOOR_ROLE!r})"
                    "['Role']['RoleName']",
                ),
                "floor_sts": (
                    "import boto3",
                    "result = boto3.client('sts').get_caller_identity()['Account']",
                ),
                "cold": (
                    f"import importlib\nfn = importlib.import_module({fn.handler_module!r})",
                    "result = fn.handler(event, context)",
                ),
            }
            order = list(jobs) if run % 2 else list(reversed(jobs))
            got = {name: probe(env, setup, *jobs[name], warm_up=run == 0) for name in order}
            expect_status(got["cold"]["result"] or [], expected, fn, f"{sample} (cold)")
            if run == 0:
                continue  # warm-up: fills the bytecode cache of the dependencies
            figures = {
                f"{name}_{part}": 1000 * value[part]
                for name, value in got.items()
                for part in ("load", "call", "http", "load_cpu", "call_cpu")
            }
            for name in jobs:
                figures[name] = figures[f"{name}_load"] + figures[f"{name}_call"]
                figures[f"{name}_cpu"] = figures[f"{name}_load_cpu"] + figures[f"{name}_call_cpu"]
            figures["over_floor"] = figures["cold"] - figures["floor"]
            figures["over_floor_cpu"] = figures["cold_cpu"] - figures["floor_cpu"]
            figures["over_floor_outside_http"] = figures["over_floor"] - (
                figures["cold_http"] - figures["floor_http"]
            )
            for key, value in figures.items():
                runs.setdefault(key, []).append(value)
            ratios.append(figures["cold"] / figures["floor"])
            requests = got["cold"]["requests"]
        stats = {k: Stats.of(v) for k, v in runs.items()}
        ratio = Stats.of(ratios)
        over = stats["over_floor"]
        print(
            f"\n   {fn.logical_id}: {fn.handler_module}, event {sample} ({expected}), code "
            f"{relative_to_root(source)}"
        )
        print("   env: " + " ".join(f"{k}={v}" for k, v in sorted(variables.items())))
        rows = (
            ("floor: import boto3", "floor_load"),
            ("floor: + iam.get_role (client + 1 request)", "floor_call"),
            ("floor: total", "floor"),
            ("(floor with sts.get_caller_identity instead)", "floor_sts"),
            ("cold: import handler module", "cold_load"),
            (f"cold: first event ({requests} requests)", "cold_call"),
            ("cold: total (import + first event)", "cold"),
            ("cold - floor", "over_floor"),
            ("cold - floor, outside HTTP round trips", "over_floor_outside_http"),
            (f"HTTP round trips to moto, cold ({requests})", "cold_http"),
            ("HTTP round trips to moto, floor (1)", "floor_http"),
            ("CPU time: floor", "floor_cpu"),
            ("CPU time: cold (import + first event)", "cold_cpu"),
            ("CPU time: cold - floor", "over_floor_cpu"),
        )
        for label, key in rows:
            print(f"   {label:<48}{stats[key]}")
        print(
            f"   {'ratio cold / floor':<48}{ratio.median:7.2f}  "
            f"[IQR {ratio.q1:.2f}-{ratio.q3:.2f}, min {ratio.low:.2f}, max {ratio.high:.2f}]"
        )
        report.target(
            f"cold start {fn.logical_id} <= {COLD_TARGET_MS:.0f} ms over the floor",
            over.median <= COLD_TARGET_MS,
            f"+{over.median:.0f} ms (cold {stats['cold'].median:.0f} ms, floor "
            f"{stats['floor'].median:.0f} ms, x{ratio.median:.2f}; outside HTTP "
            f"+{stats['over_floor_outside_http'].median:.0f} ms; CPU time "
            f"+{stats['over_floor_cpu'].median:.0f} ms)",
        )
        results[fn.logical_id] = {
            "event": sample,
            "status": expected,
            "code": relative_to_root(source),
            "env": variables,
            "http_requests": requests,
            **{f"{k}_ms": asdict(v) for k, v in stats.items()},
            "ratio": asdict(ratio),
            "target_ms": COLD_TARGET_MS,
        }
    report.data["cold_start"] = results
