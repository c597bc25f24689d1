"""core.runner: the report and enforce flow.

A scripted remediator and recording fake AWS clients (runner_fakes.py), no moto.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.outcome import Call, Change, Mode, Outcome, Status
from core.remediator import Evaluation, Remediator
from core.runner import summarise
from tests.unit.runner_fakes import (
    AFTER,
    BEFORE,
    CLEAN,
    DIRTY,
    ROLE_ARN,
    Scripted,
    _no_metrics,  # noqa: F401  (autouse: metrics off)
    change,
    put_policy,
    undo_hint,
    world,
)

# --- report mode ------------------------------------------------------------------------------


def test_report_mode_would_remediate_and_never_applies() -> None:
    w = world([DIRTY], mode=Mode.REPORT)
    [outcome] = w.run()
    assert outcome.status is Status.WOULD_REMEDIATE
    assert outcome.reason == "report mode"
    assert outcome.changes == DIRTY.changes
    assert w.applied == [] and w.remediator.attempts == []
    assert w.order == ["targets", "evaluate", "dynamodb.put_item", "sns.publish"]
    assert {s for s, _, _ in w.aws.calls} == {"dynamodb", "sns"}
    [report] = w.aws.published
    assert (report["status"], report["mode"], report["severity"]) == (
        "WOULD_REMEDIATE",
        "report",
        "HIGH",
    )
    assert "undo" not in report  # nothing was changed
    assert report["outcome_id"] == outcome.outcome_id


# --- enforce mode -----------------------------------------------------------------------------


def test_enforce_writes_the_ledger_before_the_first_change() -> None:
    w = world([DIRTY, CLEAN])
    [outcome] = w.run()
    assert w.order == [
        "targets",
        "evaluate",
        "dynamodb.put_item",
        "apply:p1",
        "evaluate",
        "dynamodb.update_item",
        "sns.publish",
    ]
    [put] = w.aws.made("dynamodb", "put_item")
    assert put["ConditionExpression"] == "attribute_not_exists(outcome_id)"
    assert put["Item"]["status"] == {"S": "APPLYING"}
    ahead = json.loads(put["Item"]["record"]["S"])
    assert ahead["changes"][0]["before"] == BEFORE  # the full previous document, before the write
    assert ahead["changes"][0]["undo"] == [put_policy(BEFORE, "p1").to_dict()]
    [settle] = w.aws.made("dynamodb", "update_item")
    assert settle["Key"] == {"outcome_id": put["Item"]["outcome_id"]}
    assert put["Item"]["outcome_id"] == {"S": outcome.outcome_id}
    assert settle["ExpressionAttributeValues"][":s"] == {"S": "REMEDIATED"}


def test_enforce_remediated_only_when_verified() -> None:
    w = world([DIRTY, CLEAN])
    [outcome] = w.run()
    assert (outcome.status, outcome.reason) == (Status.REMEDIATED, "verified")
    assert [c.summary for c in outcome.changes] == [c.summary for c in DIRTY.changes]
    assert w.remediator.evaluated == ["app-deploy-role", "app-deploy-role"]
    [report] = w.aws.published
    assert report["undo"].startswith(undo_hint(outcome.outcome_id))


def test_enforce_still_non_compliant_after_apply_is_failed() -> None:
    left = Evaluation(ROLE_ARN, (change("inline policy deploy-wildcard: removed Sid Admin2"),))
    w = world([DIRTY, left, left, left])
    [outcome] = w.run()
    assert outcome.status is Status.FAILED
    assert w.slept == [1.0, 2.0]  # looked three times before failing (eventual consistency)
    assert len(w.remediator.evaluated) == 4
    assert (
        outcome.reason == "still non-compliant: inline policy deploy-wildcard: removed Sid Admin2"
    )
    assert not outcome.transient
    assert len(outcome.changes) == 1  # what was applied, for undo
    [report] = w.aws.published
    assert report["status"] == "FAILED" and "undo" in report


def test_a_stale_read_after_the_write_is_looked_at_again() -> None:
    """IAM is eventually consistent: the first re-read may still show the old document."""
    stale = Evaluation(ROLE_ARN, DIRTY.changes)
    w = world([DIRTY, stale, CLEAN])
    [outcome] = w.run()
    assert (outcome.status, outcome.reason) == (Status.REMEDIATED, "verified")
    assert w.slept == [1.0]
    assert w.applied == ["apply:p1"]  # looked again, did not write again


def test_enforce_applies_every_change_in_order() -> None:
    two = Evaluation(ROLE_ARN, (change("a", "p1"), change("b", "p2")))
    w = world([two, CLEAN])
    [outcome] = w.run()
    assert w.applied == ["apply:p1", "apply:p2"]
    assert w.order.index("dynamodb.put_item") < w.order.index("apply:p1")
    assert [c.summary for c in outcome.changes] == ["a", "b"]


# --- remediators that refine the default flow -------------------------------------------------


def test_undo_after_refines_the_inverse() -> None:
    refined = Call("iam", "delete_policy_version", {"PolicyArn": "arn:p", "VersionId": "v3"})

    class Refining(Scripted):
        def undo_after(self, change: Change, response: Mapping[str, Any]) -> tuple[Call, ...]:
            assert response == {"ResponseMetadata": {"HTTPStatusCode": 200}}
            return (*change.undo, refined)

    w = world([DIRTY, CLEAN], remediator=Refining)
    [outcome] = w.run()
    assert outcome.changes[0].undo == (*DIRTY.changes[0].undo, refined)
    assert w.aws.published[0]["changes"][0]["undo"][-1] == refined.to_dict()


def test_default_apply_makes_the_planned_call_through_aws() -> None:
    class Plain(Scripted):
        apply = Remediator.apply

    w = world([DIRTY, CLEAN], remediator=Plain)
    [outcome] = w.run()
    assert outcome.status is Status.REMEDIATED
    assert w.aws.made("iam", "put_role_policy") == [dict(put_policy(AFTER, "p1").params)]
    assert w.order.index("dynamodb.put_item") < w.order.index("iam.put_role_policy")


# --- outcomes ---------------------------------------------------------------------------------


def test_outcome_ids_are_unique() -> None:
    w = world([DIRTY, DIRTY, DIRTY], mode=Mode.REPORT, targets=["a", "b", "c"])
    ids = {o.outcome_id for o in w.run()}
    assert len(ids) == 3


def test_summarise() -> None:
    outcomes = [
        Outcome(Status.REMEDIATED, "r", ROLE_ARN, "verified"),
        Outcome(Status.SKIPPED, "r", "", "malformed event: x"),
    ]
    outcomes[0] = Outcome(Status.REMEDIATED, "r", ROLE_ARN, "verified", outcome_id="id-1")
    assert summarise(outcomes) == [
        {"status": "REMEDIATED", "resource": ROLE_ARN, "reason": "verified", "outcome_id": "id-1"},
        {"status": "SKIPPED", "resource": "", "reason": "malformed event: x", "outcome_id": ""},
    ]
