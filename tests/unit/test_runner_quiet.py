"""core.runner: quiet outcomes and malformed events.

A scripted remediator and recording fake AWS clients (runner_fakes.py), no moto.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.event import EventError
from core.outcome import Status
from tests.unit.runner_fakes import (
    ACCOUNT,
    CLEAN,
    DIRTY,
    OWN_ROLE_ARN,
    OWN_ROLE_NAME,
    ROLE_ARN,
    _no_metrics,  # noqa: F401  (autouse: metrics off)
    event,
    world,
)

# --- quiet outcomes ---------------------------------------------------------------------------


def test_compliant_is_quiet() -> None:
    w = world([CLEAN])
    [outcome] = w.run()
    assert (outcome.status, outcome.quiet, outcome.reason) == (Status.COMPLIANT, True, "compliant")
    assert outcome.resource_arn == ROLE_ARN
    assert outcome.outcome_id == ""
    assert w.aws.calls == []  # no ledger, no notification
    assert w.order == ["targets", "evaluate"]


def test_failed_call_event_is_a_quiet_skip() -> None:
    w = world([DIRTY])
    [outcome] = w.run(event("PutRolePolicy-failed-call"))
    assert (outcome.status, outcome.quiet) == (Status.SKIPPED, True)
    assert outcome.reason == "the call failed (AccessDenied) and changed nothing"
    assert w.order == []  # neither targets nor evaluate, no AWS call


# Our own changes are re-checked, not skipped: test_runner_own_role.py. Below, which calls
# count as ours: a violation made by one of them is reported and never applied (our role), any
# other is fixed.
_OURS = "changed with autoremediate's own role"


def _issued_by(issuer_arn: str) -> dict[str, Any]:
    incoming = event()
    incoming["detail"]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = issuer_arn
    return incoming


_OWN_PATH = f"arn:aws:iam::{ACCOUNT}:role/autoremediate/"
_OWN_NAME = OWN_ROLE_NAME


@pytest.mark.parametrize(
    "issuer",
    [
        f"{_OWN_PATH}autoremediate-OtherTeamRole-1A2B3C4D5E6F",  # our path, another name
        f"{_OWN_PATH}{_OWN_NAME}-copy",  # our ARN as a prefix
        f"arn:aws:iam::210987654321:role/autoremediate/{_OWN_NAME}",  # our name, another account
        f"arn:aws:iam::{ACCOUNT}:role/{_OWN_NAME}",  # our name, another path
        f"arn:aws:iam::{ACCOUNT}:role/team/autoremediate/{_OWN_NAME}",  # our path nested elsewhere
        f"arn:aws-us-gov:iam::{ACCOUNT}:role/autoremediate/{_OWN_NAME}",  # another partition
        "",  # no session issuer (an IAM user, the root user, an AWS service)
    ],
    ids=[
        "same-path-other-name",
        "prefix",
        "other-account",
        "other-path",
        "nested-path",
        "other-partition",
        "no-issuer",
    ],
)
def test_loop_guard_matches_only_the_exact_role_arn(issuer: str) -> None:
    w = world([DIRTY, CLEAN])
    [outcome] = w.run(_issued_by(issuer))
    assert outcome.status is Status.REMEDIATED
    assert w.remediator.evaluated == ["app-deploy-role", "app-deploy-role"]


def test_loop_guard_reads_the_session_issuer_not_the_sts_arn() -> None:
    incoming = event()
    identity = incoming["detail"]["userIdentity"]
    identity["arn"] = OWN_ROLE_ARN  # only the session issuer says who the role is
    identity["principalId"] = f"AROAEXAMPLE:{_OWN_NAME}"
    w = world([DIRTY, CLEAN])
    [outcome] = w.run(incoming)
    assert outcome.status is Status.REMEDIATED


def test_loop_guard_follows_the_configured_arns() -> None:
    other = f"arn:aws:iam::{ACCOUNT}:role/ops/ar/autoremediate-OtherFn-1"
    incoming = _issued_by(other)
    w = world([DIRTY], own=(OWN_ROLE_ARN, other))
    [outcome] = w.run(incoming)
    assert outcome.status is Status.WOULD_REMEDIATE and _OURS in outcome.reason
    assert other in outcome.reason and w.applied == []
    # With only the default role configured the same event is not ours.
    w = world([DIRTY, CLEAN])
    assert w.run(incoming)[0].status is Status.REMEDIATED


def test_no_own_roles_configured_means_no_loop_guard() -> None:
    w = world([DIRTY, CLEAN], own=())
    [outcome] = w.run(event("PutRolePolicy-own-action"))
    assert outcome.status is Status.REMEDIATED
    assert w.remediator.evaluated == ["app-deploy-role", "app-deploy-role"]


@pytest.mark.parametrize(
    "pattern",
    [f"arn:aws:iam::{ACCOUNT}:role/autoremediate/*", "arn:aws:iam::*:role/autoremediate/*", "*"],
)
def test_loop_guard_takes_no_wildcards(pattern: str) -> None:
    w = world([DIRTY, CLEAN], own=(pattern,))
    [outcome] = w.run(event("PutRolePolicy-own-action"))
    assert outcome.status is Status.REMEDIATED


def test_config_resource_deleted_is_a_quiet_skip() -> None:
    w = world([DIRTY])
    [outcome] = w.run(event("Config-Role-deleted"))
    assert (outcome.status, outcome.quiet) == (Status.SKIPPED, True)
    assert outcome.reason == "AWS Config reports the resource deleted"
    assert w.order == []


def test_config_item_change_is_evaluated() -> None:
    w = world([CLEAN])
    assert w.run(event("Config-Role"))[0].status is Status.COMPLIANT
    assert w.order == ["targets", "evaluate"]


def test_no_targets_no_outcome() -> None:
    w = world([], targets=[])
    assert w.run() == []
    assert w.aws.calls == []


# --- malformed events -------------------------------------------------------------------------


@pytest.mark.parametrize("incoming", [{"hello": "world"}, [], "PutRolePolicy", None])
def test_malformed_event_is_skipped_and_published(incoming: Any) -> None:
    w = world([DIRTY])
    [outcome] = w.runner.run(incoming)
    assert (outcome.status, outcome.quiet) == (Status.SKIPPED, False)
    assert outcome.reason.startswith("malformed event: ")
    assert outcome.outcome_id
    assert "targets" not in w.order
    [report] = w.aws.published
    assert (report["status"], report["severity"]) == ("SKIPPED", "LOW")
    assert report["reason"] == outcome.reason
    assert report["trigger"] == {} and report["actor"] == {}
    [subject] = [p["Subject"] for p in w.aws.made("sns", "publish")]
    assert subject.startswith("[SKIPPED] scripted_remediator: unknown resource")
    assert len(w.aws.made("dynamodb", "put_item")) == 1


def test_event_the_remediator_cannot_read_is_skipped() -> None:
    w = world([DIRTY], targets=EventError("requestParameters lack roleName"))
    [outcome] = w.run()
    assert outcome.status is Status.SKIPPED
    assert outcome.reason == "malformed event: requestParameters lack roleName"
    assert w.remediator.evaluated == []
    [report] = w.aws.published
    assert report["trigger"]["event_name"] == "PutRolePolicy"
