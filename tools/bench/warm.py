"""Section 2: warm events in the bench's own process, the violation re-seeded before each, with
HTTP round trips timed apart so that moto's latency is not taken for ours."""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from dataclasses import asdict
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from tools.bench.config import CODE, IAM_MODULE, WARM_RUNS, WARM_RUNS_ENCRYPTION, WARM_TARGET_MS
from tools.bench.environment import (
    function_env,
    lambda_env,
    stdout_to_devnull,
    temporary_environ,
)
from tools.bench.moto_server import Moto, fresh_account
from tools.bench.report import Report, Stats, header
from tools.bench.samples import expect_status, expected_status, representative_sample
from tools.routing import Function
from tools.scenario import prepare, prepare_quiet

if TYPE_CHECKING:
    from core.clients import Clients


def warm(
    moto: Moto, aws: Clients, template: Mapping[str, Any], fns: list[Function], report: Report
) -> None:
    """The module's own handler in this process: a first call, then re-seeded remediations."""
    header("2. Warm event: same process, after a first call; moto over HTTP")
    print(
        f"   remediation: the violation is re-seeded (untimed) before each of {WARM_RUNS} (IAM) or"
        f" {WARM_RUNS_ENCRYPTION}\n   (encryption) events; compliant: the same event again,"
        " nothing to do (report-only RDS:\n   the instance re-created encrypted first, untimed);"
        " ms"
    )
    results: dict[str, Any] = {}
    http = _HttpTimer()
    for fn in fns:
        sample = representative_sample(fn)
        expected = expected_status(fn, sample)
        warm_runs = WARM_RUNS if fn.handler_module == IAM_MODULE else WARM_RUNS_ENCRYPTION
        stack, event = fresh_account(moto, aws, fn.handler_module, sample)
        env = lambda_env(moto.url, fn, CODE, function_env(template, fn, stack))
        env.pop("PYTHONPYCACHEPREFIX")
        timings: dict[str, list[float]] = {}
        requests: dict[str, int] = {}
        with temporary_environ(env), stdout_to_devnull(), http:
            handler = importlib.import_module(fn.handler_module).handler
            context = SimpleNamespace(aws_request_id="bench", function_name=fn.logical_id)
            started = time.perf_counter()
            expect_status(handler(event, context), expected, fn, sample)
            first = 1000 * (time.perf_counter() - started)
            for kind, status in (("remediation", expected), ("compliant", "COMPLIANT")):
                if kind == "compliant":
                    event = prepare_quiet(aws, fn.handler_module, event)
                for _ in range(warm_runs):
                    if kind == "remediation":  # the violation back (samples.toml's seed)
                        prepare(aws, sample, fn.handler_module)
                    http.reset()
                    started, cpu = time.perf_counter(), time.process_time()
                    outcomes = handler(event, context)
                    elapsed = 1000 * (time.perf_counter() - started)
                    timings.setdefault(f"{kind}_cpu", []).append(1000 * (time.process_time() - cpu))
                    expect_status(outcomes, status, fn, sample)
                    timings.setdefault(kind, []).append(elapsed)
                    timings.setdefault(f"{kind}_http", []).append(1000 * http.seconds)
                    timings.setdefault(f"{kind}_outside_http", []).append(
                        elapsed - 1000 * http.seconds
                    )
                    requests[kind] = http.requests
        stats = {k: Stats.of(v) for k, v in timings.items()}
        print(f"\n   {fn.logical_id}: event {sample}")
        for kind, status in (("remediation", expected), ("compliant", "COMPLIANT, quiet")):
            print(f"   {f'{kind} ({status})':<48}{stats[kind]}")
            print(f"   {f'  HTTP round trips ({requests[kind]})':<48}{stats[f'{kind}_http']}")
            print(f"   {'  outside HTTP (our code + botocore)':<48}{stats[f'{kind}_outside_http']}")
            print(f"   {'  CPU time of this process':<48}{stats[f'{kind}_cpu']}")
        median = stats["remediation"].median
        report.target(
            f"warm remediation {fn.logical_id} <= {WARM_TARGET_MS:.0f} ms",
            median <= WARM_TARGET_MS,
            f"{median:.0f} ms, of which {stats['remediation_http'].median:.0f} ms in "
            f"{requests['remediation']} HTTP round trips (compliant "
            f"{stats['compliant'].median:.0f} ms)",
        )
        results[fn.logical_id] = {
            "event": sample,
            "status": expected,
            "first_call_in_bench_process_ms": first,
            "requests": requests,
            "target_ms": WARM_TARGET_MS,
            **{f"{k}_ms": asdict(v) for k, v in stats.items()},
        }
    report.data["warm"] = results


class _HttpTimer:
    """Time spent in HTTP round trips in this process (botocore's URLLib3Session.send)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.requests = 0
        self._original: Any = None

    def reset(self) -> None:
        self.seconds, self.requests = 0.0, 0

    def __enter__(self) -> _HttpTimer:
        from botocore.httpsession import URLLib3Session

        self._original = original = URLLib3Session.send

        def send(session: Any, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(session, request)
            finally:
                self.seconds += time.perf_counter() - started
                self.requests += 1

        URLLib3Session.send = send  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *_: object) -> None:
        from botocore.httpsession import URLLib3Session

        URLLib3Session.send = self._original  # type: ignore[method-assign]
