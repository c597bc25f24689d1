"""core.runner: changes made with our own role's session are re-checked, never trusted.

Our genuine fix echoes back through CloudTrail and evaluates compliant: quiet. Anything else our
role changed is not ours to fix with that same role (two copies of us could fight), nor to
excuse: a HIGH WOULD_REMEDIATE in every mode, never applied, never exempt, naming the role.
A scripted remediator and recording fake AWS clients (runner_fakes.py), no moto.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.exemptions import EXEMPT_TAG
from core.outcome import Change, Mode, Status
from core.remediator import Evaluation
from tests.unit.runner_fakes import (
    CLEAN,
    DIRTY,
    OWN_ROLE_ARN,
    ROLE_ARN,
    SERVICE_ROLE_ARN,
    Scripted,
    _no_metrics,  # noqa: F401  (autouse: metrics off)
    event,
    world,
)

OWN_EVENT = "PutRolePolicy-own-action"


def _own_role_reason(reason: str) -> None:
    assert reason.startswith(f"changed with autoremediate's own role {OWN_ROLE_ARN}")
    assert "investigate who used the role" in reason


def test_the_echo_of_our_fix_is_re_checked_and_quiet() -> None:
    w = world([CLEAN])
    [outcome] = w.run(event(OWN_EVENT))
    assert (outcome.status, outcome.quiet) == (Status.COMPLIANT, True)
    assert outcome.resource_arn == ROLE_ARN
    assert "our own change" in outcome.reason and "compliant" in outcome.reason
    assert w.remediator.evaluated == ["app-deploy-role"]  # re-read, not trusted
    assert w.order == ["targets", "evaluate"]
    assert w.aws.calls == []  # neither ledgered nor published


@pytest.mark.parametrize("mode", [Mode.ENFORCE, Mode.REPORT])
def test_a_violation_made_with_our_own_role_is_reported_high_and_never_applied(
    mode: Mode,
) -> None:
    w = world([DIRTY, CLEAN], mode=mode)
    [outcome] = w.run(event(OWN_EVENT))
    assert (outcome.status, outcome.quiet) == (Status.WOULD_REMEDIATE, False)
    _own_role_reason(outcome.reason)
    assert "no fix of ours leaves this" in outcome.reason
    assert outcome.changes == DIRTY.changes  # what is wrong, for the person who must look
    assert w.applied == [] and w.remediator.attempts == []
    assert w.remediator.evaluated == ["app-deploy-role"]  # no fix, so nothing to verify
    # One ledger entry records the finding (no write-ahead APPLYING entry: nothing is applied).
    assert w.order == ["targets", "evaluate", "dynamodb.put_item", "sns.publish"]
    [record] = w.aws.ledger_records
    assert record["status"] == "WOULD_REMEDIATE"
    assert "undo" not in record and not any(c["applied"] for c in record["changes"])
    [report] = w.aws.published
    assert (report["status"], report["mode"], report["severity"]) == (
        "WOULD_REMEDIATE",
        mode.value,
        "HIGH",
    )
    assert report["reason"] == outcome.reason
    assert report["actor"]["session_issuer_arn"] == OWN_ROLE_ARN


class Low(Scripted):
    severity = "LOW"


@pytest.mark.parametrize("mode", [Mode.ENFORCE, Mode.REPORT])
def test_the_notification_is_high_whatever_the_remediator_severity(mode: Mode) -> None:
    w = world([DIRTY], mode=mode, remediator=Low)
    w.run(event(OWN_EVENT))
    [report] = w.aws.published
    assert report["severity"] == "HIGH"
    # The same violation by anyone else keeps the remediator's own severity.
    w = world([DIRTY], mode=Mode.REPORT, remediator=Low)
    w.run()
    assert w.aws.published[0]["severity"] == "LOW"


@pytest.mark.parametrize(
    ("found", "exempt"),
    [
        (Evaluation(ROLE_ARN, DIRTY.changes, {EXEMPT_TAG: "vendor tool, SEC-42"}), ()),
        (DIRTY, ("arn:aws:iam::*:role/app-*",)),
        (Evaluation(SERVICE_ROLE_ARN, DIRTY.changes), ()),
    ],
    ids=["tag", "pattern", "aws-owned"],
)
def test_exemptions_do_not_silence_our_own_role(found: Evaluation, exempt: tuple[str]) -> None:
    w = world([found], exempt=exempt)
    [outcome] = w.run(event(OWN_EVENT))
    assert outcome.status is Status.WOULD_REMEDIATE
    _own_role_reason(outcome.reason)
    assert w.remediator.attempts == []
    assert w.aws.published[0]["severity"] == "HIGH"


@pytest.mark.parametrize("exempt", [(), ("arn:aws:iam::*:role/app-*",)])
def test_only_manual_steps_left_may_be_our_partial_fix_and_are_still_reported_high(
    exempt: tuple[str, ...],
) -> None:
    """A fix that could only do part (SQS: the TLS statement added, the key left to the team)
    leaves manual steps: its echo is reported, without saying that no fix of ours did this."""
    manual = Change("encrypt it by hand: 1. snapshot; 2. copy", ROLE_ARN, {}, {}, None)
    w = world([Evaluation(ROLE_ARN, (manual,))], exempt=exempt)
    [outcome] = w.run(event(OWN_EVENT))
    assert outcome.status is Status.WOULD_REMEDIATE
    _own_role_reason(outcome.reason)
    assert "only manual steps are left, as after a partial fix of ours" in outcome.reason
    assert "no fix of ours" not in outcome.reason
    assert w.aws.published[0]["severity"] == "HIGH"


def test_a_report_only_function_makes_no_fix_to_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its findings are all manual (RDS, stack tampering): whatever its role did, it was no fix."""
    monkeypatch.setattr(Scripted, "write_actions", ())
    manual = Change("restore the rule: 1. enable it", ROLE_ARN, {}, {}, None)
    w = world([Evaluation(ROLE_ARN, (manual,))])
    [outcome] = w.run(event(OWN_EVENT))
    assert outcome.status is Status.WOULD_REMEDIATE
    _own_role_reason(outcome.reason)
    assert "no fix of ours leaves this" in outcome.reason


def test_every_target_of_our_own_event_is_re_checked() -> None:
    w = world([CLEAN, DIRTY], targets=["app-deploy-role", "other-role"])
    first, second = w.run(event(OWN_EVENT))
    assert (first.status, first.quiet) == (Status.COMPLIANT, True)
    assert second.status is Status.WOULD_REMEDIATE
    assert w.remediator.attempts == []


def test_our_own_failed_call_stays_a_quiet_skip() -> None:
    failed = event("PutRolePolicy-failed-call")
    identity = event(OWN_EVENT)["detail"]["userIdentity"]
    failed["detail"]["userIdentity"] = identity
    w = world([DIRTY])
    [outcome] = w.run(failed)
    assert (outcome.status, outcome.quiet) == (Status.SKIPPED, True)
    assert outcome.reason == "the call failed (AccessDenied) and changed nothing"
    assert w.order == []


def test_a_read_error_on_our_own_event_fails_as_any_other() -> None:
    from tests.unit.runner_fakes import client_error

    w = world([client_error("AccessDenied")])
    [outcome] = w.run(event(OWN_EVENT))
    assert outcome.status is Status.FAILED
    assert outcome.reason.startswith("AccessDenied while reading the resource")


def _issued_by(issuer_arn: str) -> dict[str, Any]:
    incoming = event()
    incoming["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = issuer_arn
    return incoming


def test_only_the_session_issuer_makes_a_change_ours() -> None:
    # The same violation, made by alice's DeveloperRole: fixed as usual.
    w = world([DIRTY, CLEAN])
    assert w.run(_issued_by("arn:aws:iam::123456789012:role/DeveloperRole"))[0].status is (
        Status.REMEDIATED
    )
    w = world([DIRTY, CLEAN])
    assert w.run(_issued_by(OWN_ROLE_ARN))[0].status is Status.WOULD_REMEDIATE
