"""core.runner: exemptions.

A scripted remediator and recording fake AWS clients (runner_fakes.py), no moto.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.exemptions import EXEMPT_TAG
from core.outcome import Mode, Status
from core.remediator import Evaluation
from tests.unit.runner_fakes import (
    CLEAN,
    DIRTY,
    ROLE_ARN,
    SERVICE_ROLE_ARN,
    _no_metrics,  # noqa: F401  (autouse: metrics off)
    world,
)


@pytest.mark.parametrize("mode", [Mode.ENFORCE, Mode.REPORT])
def test_exempt_by_tag(mode: Mode) -> None:
    tagged = Evaluation(ROLE_ARN, DIRTY.changes, {EXEMPT_TAG: "vendor tool, SEC-42"})
    w = world([tagged], mode=mode)
    [outcome] = w.run()
    assert outcome.status is Status.EXEMPT
    assert outcome.reason == f"tag {EXEMPT_TAG}: vendor tool, SEC-42"
    assert w.remediator.attempts == []
    [report] = w.aws.published
    assert (report["status"], report["severity"]) == ("EXEMPT", "INFO")
    assert "undo" not in report
    assert report["changes"][0]["summary"] == DIRTY.changes[0].summary  # what would have changed


def test_exempt_by_pattern() -> None:
    w = world([DIRTY], exempt=("arn:aws:iam::*:role/breakglass/*", "arn:aws:iam::*:role/app-*"))
    [outcome] = w.run()
    assert outcome.status is Status.EXEMPT
    assert outcome.reason == "principal matches exempt pattern arn:aws:iam::*:role/app-*"
    assert w.remediator.attempts == []


def test_exempt_builtin() -> None:
    w = world([Evaluation(SERVICE_ROLE_ARN, DIRTY.changes)])
    [outcome] = w.run()
    assert outcome.status is Status.EXEMPT
    assert outcome.reason == "AWS-owned role (path /aws-service-role/)"
    assert w.remediator.attempts == []


def test_expired_exemption_is_remediated() -> None:
    tagged = Evaluation(ROLE_ARN, DIRTY.changes, {EXEMPT_TAG: "until=2026-11-23 migration"})
    w = world([tagged, CLEAN])
    [outcome] = w.run()
    assert outcome.status is Status.REMEDIATED
    assert len(w.remediator.attempts) == 1


def test_exemption_expiry_uses_the_runners_clock() -> None:
    # Far from the real date: only the injected clock can make this expired.
    tagged = Evaluation(ROLE_ARN, DIRTY.changes, {EXEMPT_TAG: "until=2099-01-01"})
    w = world([tagged, CLEAN], now=datetime(2099, 1, 2, tzinfo=UTC))
    assert w.run()[0].status is Status.REMEDIATED
    w = world([tagged], now=datetime(2099, 1, 1, 23, 59, tzinfo=UTC))
    assert w.run()[0].status is Status.EXEMPT


def test_compliant_resource_is_never_exempt_noise() -> None:
    w = world([Evaluation(SERVICE_ROLE_ARN, (), {EXEMPT_TAG: "x"})])
    [outcome] = w.run()
    assert outcome.status is Status.COMPLIANT and outcome.quiet
