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
    APPROVER,
    CLEAN,
    DIRTY,
    ROLE_ARN,
    SERVICE_ROLE_ARN,
    _no_metrics,  # noqa: F401  (autouse: metrics off)
    approve,
    client_error,
    world,
)


@pytest.mark.parametrize("mode", [Mode.ENFORCE, Mode.REPORT])
def test_exempt_by_approved_tag(mode: Mode) -> None:
    tagged = Evaluation(ROLE_ARN, DIRTY.changes, {EXEMPT_TAG: "vendor tool, SEC-42"})
    w = world([tagged], mode=mode)
    approve(w, "vendor tool, SEC-42")
    [outcome] = w.run()
    assert outcome.status is Status.EXEMPT
    assert outcome.reason == (
        f"tag {EXEMPT_TAG} approved by {APPROVER} until 2099-12-31: vendor tool, SEC-42"
    )
    [lookup] = w.aws.made("dynamodb", "get_item")  # keyed without the role's path
    assert lookup["Key"] == {"outcome_id": {"S": f"approval#{ROLE_ARN}"}}
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


@pytest.mark.parametrize("mode", [Mode.ENFORCE, Mode.REPORT])
def test_a_tag_nobody_approved_is_not_honoured(mode: Mode) -> None:
    # The bypass: a role created with the tag (any value, even empty) stayed EXEMPT.
    for value in ("vendor tool, SEC-42", ""):
        tagged = Evaluation(ROLE_ARN, DIRTY.changes, {EXEMPT_TAG: value})
        w = world([tagged, CLEAN], mode=mode)
        [outcome] = w.run()
        expected = Status.REMEDIATED if mode is Mode.ENFORCE else Status.WOULD_REMEDIATE
        assert outcome.status is expected
        assert len(w.aws.made("dynamodb", "get_item")) == 1


def test_a_tag_whose_value_changed_since_its_approval_is_not_honoured() -> None:
    tagged = Evaluation(ROLE_ARN, DIRTY.changes, {EXEMPT_TAG: "vendor tool, SEC-42 forever"})
    w = world([tagged, CLEAN])
    approve(w, "vendor tool, SEC-42")
    assert w.run()[0].status is Status.REMEDIATED


def test_an_unreadable_approval_does_not_exempt() -> None:
    tagged = Evaluation(ROLE_ARN, DIRTY.changes, {EXEMPT_TAG: "vendor tool, SEC-42"})
    w = world([tagged, CLEAN])
    approve(w, "vendor tool, SEC-42")
    w.aws.fail("dynamodb", "get_item", client_error("AccessDeniedException"))
    assert w.run()[0].status is Status.REMEDIATED


def test_a_revoked_approval_does_not_exempt() -> None:
    tagged = Evaluation(ROLE_ARN, DIRTY.changes, {EXEMPT_TAG: "vendor tool, SEC-42"})
    w = world([tagged, CLEAN])
    w.aws.responses[("dynamodb", "get_item")] = {
        "Item": {"record": {"S": '{"value": null, "by": "x", "reason": "tag removed"}'}}
    }
    assert w.run()[0].status is Status.REMEDIATED


def test_expired_exemption_is_remediated() -> None:
    tagged = Evaluation(ROLE_ARN, DIRTY.changes, {EXEMPT_TAG: "migration"})
    w = world([tagged, CLEAN])
    approve(w, "migration", until="2026-11-23")
    [outcome] = w.run()
    assert outcome.status is Status.REMEDIATED
    assert len(w.remediator.attempts) == 1


def test_exemption_expiry_uses_the_runners_clock() -> None:
    # Far from the real date: only the injected clock can make this expired.
    tagged = Evaluation(ROLE_ARN, DIRTY.changes, {EXEMPT_TAG: "x"})
    w = world([tagged, CLEAN], now=datetime(2099, 1, 2, tzinfo=UTC))
    approve(w, "x", until="2099-01-01")
    assert w.run()[0].status is Status.REMEDIATED
    w = world([tagged], now=datetime(2099, 1, 1, 23, 59, tzinfo=UTC))
    approve(w, "x", until="2099-01-01")
    assert w.run()[0].status is Status.EXEMPT


def test_compliant_resource_is_never_exempt_noise() -> None:
    w = world([Evaluation(SERVICE_ROLE_ARN, (), {EXEMPT_TAG: "x"})])
    [outcome] = w.run()
    assert outcome.status is Status.COMPLIANT and outcome.quiet
