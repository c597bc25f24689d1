"""What each mode must show, checked after it ran: any departure makes `make demo` fail.

The demo is also a smoke test of the product's promises (report mode changes nothing, enforce
mode leaves nothing to report), so it checks them rather than trusting the reader to notice.
"""

from __future__ import annotations

import json

from tools.demo.live_state import (
    ATTACHED_POLICIES,
    ENFORCED,
    INLINE_POLICY,
    SEEDED,
    TRUST_POLICY,
)
from tools.demo.outcomes import ENFORCE_ONLY, FILTERED, ModeRun, manual_steps
from tools.demo.story import REMEDIATOR, expected_status
from tools.routing import Function


def check_run(
    run: ModeRun, remediators: list[Function], report_only: set[str], problems: list[str]
) -> None:
    """Report mode changes nothing; enforce mode leaves nothing to report (but report-only
    functions, whose outcome is WOULD_REMEDIATE with manual steps in both modes); nothing fails;
    every encryption function shows the outcome its samples.toml expects, and the live state
    agrees."""
    from iam_grants import strip_open_trust, strip_wildcard_grants

    forbidden = {"report": "REMEDIATED", "enforce": "WOULD_REMEDIATE"}[run.mode]
    for row in run.rows:
        if row.status in (forbidden, "FAILED"):
            problems.append(f"{run.mode}: {row.event} ended {row.status}: {'; '.join(row.details)}")
    modules = {f.logical_id: f.handler_module for f in remediators}
    for row in run.encryption:
        if row.status in (FILTERED, ENFORCE_ONLY):
            continue  # judged as it was played: only a failed call may be filtered
        module = modules.get(row.function)
        expected = expected_status(module, row.event, run.mode) if module else ""
        if not expected:
            problems.append(f"{run.mode}: {row.event} reaches {row.function}, not its sample")
        elif row.status != expected:
            problems.append(
                f"{run.mode}: {row.event} -> {row.function} ended {row.status}, expected "
                f"{expected}: {'; '.join(row.details)}"
            )
        elif (
            row.status == "WOULD_REMEDIATE"
            and row.function in report_only
            and not manual_steps(row.details)
        ):
            problems.append(f"{run.mode}: {row.event} -> {row.function}: no manual steps")
    shown = {row.function for row in run.encryption}
    for function in remediators:
        if function.handler_module != REMEDIATOR and function.logical_id not in shown:
            problems.append(
                f"{run.mode}: no demo sample (samples.toml) reaches {function.logical_id}"
            )
    wanted = SEEDED if run.mode == "report" else ENFORCED
    for key, value in wanted.items():
        if not (run.state.get(key) or [""])[0].startswith(value):
            problems.append(f"{run.mode}: {key} is {run.state.get(key)}, expected {value!r}")
    if run.mode == "enforce":
        policy = [json.loads(s) for s in run.state[INLINE_POLICY]]
        trust = [json.loads(s) for s in run.state[TRUST_POLICY]]
        doc = {"Version": "2012-10-17"}
        if policy and strip_wildcard_grants({**doc, "Statement": policy}).changed:
            problems.append(f"enforce: {INLINE_POLICY} still grants a wildcard")
        if strip_open_trust({**doc, "Statement": trust}).changed:
            problems.append(f"enforce: {TRUST_POLICY} is still open")
        if run.state[ATTACHED_POLICIES] != ["(none)"]:
            problems.append(
                f"enforce: {ATTACHED_POLICIES} still holds {run.state[ATTACHED_POLICIES]}"
            )
