"""core.runner: the ledger and the notifications.

A scripted remediator and recording fake AWS clients (runner_fakes.py), no moto.
"""

from __future__ import annotations

import shlex

import pytest
from botocore.exceptions import (
    EndpointConnectionError,
)

from core.outcome import Mode, Status
from core.runner import TransientError
from tests.unit.runner_fakes import (
    ACCOUNT,
    AFTER,
    BEFORE,
    CLEAN,
    DIRTY,
    ROLE_ARN,
    GoneIsNotFound,
    _no_metrics,  # noqa: F401  (autouse: metrics off)
    client_error,
    put_policy,
    undo_hint,
    world,
)

# --- the ledger -------------------------------------------------------------------------------


def test_ledger_failure_means_no_change() -> None:
    w = world([DIRTY])
    w.aws.fail(
        "dynamodb",
        "put_item",
        client_error("AccessDeniedException", "no PutItem"),
        client_error("AccessDeniedException", "no PutItem"),
    )
    [outcome] = w.run()
    assert outcome.status is Status.FAILED
    assert outcome.error_code == "AccessDeniedException"
    assert outcome.reason == (
        "AccessDeniedException while recording the ledger entry; nothing was changed: no PutItem"
    )
    assert outcome.changes == ()
    assert w.applied == [] and w.remediator.attempts == []
    [report] = w.aws.published  # still told
    assert report["changes"] == [] and "undo" not in report


def test_transient_ledger_failure_retries_without_a_change() -> None:
    w = world([DIRTY])
    w.aws.fail("dynamodb", "put_item", client_error("ProvisionedThroughputExceededException"))
    with pytest.raises(TransientError):
        w.run()
    assert w.remediator.attempts == []
    [report] = w.aws.published
    assert (report["status"], report["error_code"]) == (
        "FAILED",
        "ProvisionedThroughputExceededException",
    )


def test_ledger_settle_failure_still_publishes() -> None:
    w = world([DIRTY, CLEAN])
    w.aws.fail("dynamodb", "update_item", client_error("InternalServerError"))
    [outcome] = w.run()
    assert outcome.status is Status.REMEDIATED
    assert w.aws.published[0]["status"] == "REMEDIATED"


def test_ledger_table_missing_is_failed_even_if_the_code_means_gone_for_the_remediator() -> None:
    w = world([DIRTY], remediator=GoneIsNotFound)
    missing = client_error("ResourceNotFoundException", "Requested resource not found")
    w.aws.fail("dynamodb", "put_item", missing, missing)
    [outcome] = w.run()
    assert w.remediator.attempts == []
    assert outcome.status is Status.FAILED
    assert outcome.error_code == "ResourceNotFoundException"
    assert "no longer exists" not in outcome.reason
    assert outcome.changes == ()
    [report] = w.aws.published
    assert (report["status"], report["severity"]) == ("FAILED", "HIGH")
    assert "undo" not in report


def test_ledger_failure_report_offers_no_undo() -> None:
    w = world([DIRTY])
    # The write-ahead entry fails; the second write (the FAILED report itself) succeeds.
    w.aws.fail("dynamodb", "put_item", client_error("InternalServerError"))
    with pytest.raises(TransientError):
        w.run()
    assert w.remediator.attempts == []
    [report] = w.aws.published
    assert report["status"] == "FAILED"
    assert "undo" not in report
    assert report["changes"] == []
    assert w.aws.ledger_records[-1] == report


def test_write_ahead_entry_names_the_event_and_actor() -> None:
    w = world([DIRTY, CLEAN])
    w.run()
    ahead = w.aws.ledger_records[0]
    assert ahead["status"] == "APPLYING"
    assert (ahead["account"], ahead["region"]) == (ACCOUNT, "us-east-1")
    assert ahead["trigger"]["event_name"] == "PutRolePolicy"
    assert ahead["trigger"]["event_id"] == "117b86a0-c2d2-446a-b2a9-20ac45a37935"
    assert ahead["actor"]["arn"].endswith("/alice")
    assert ahead["undo"].startswith(undo_hint(ahead["outcome_id"]))
    # The settled entry tells the same story.
    settled = w.aws.ledger_records[-1]
    assert settled["outcome_id"] == ahead["outcome_id"]
    assert (settled["trigger"], settled["actor"]) == (ahead["trigger"], ahead["actor"])


# --- notifications ----------------------------------------------------------------------------


def test_publish_failure_still_returns_the_outcome() -> None:
    w = world([DIRTY, CLEAN])
    w.aws.fail("sns", "publish", client_error("AuthorizationError", "no sns:Publish"))
    [outcome] = w.run()  # no exception
    assert outcome.status is Status.REMEDIATED
    assert outcome.outcome_id
    assert len(w.aws.made("sns", "publish")) == 1


def test_publish_failure_on_malformed_event() -> None:
    w = world([])
    w.aws.fail("sns", "publish", EndpointConnectionError(endpoint_url="https://sns"))
    [outcome] = w.runner.run({"nope": 1})
    assert outcome.status is Status.SKIPPED


# --- the report -------------------------------------------------------------------------------


def test_report_body() -> None:
    w = world([DIRTY, CLEAN])
    [outcome] = w.run()
    [report] = w.aws.published
    assert set(report) >= {
        "outcome_id",
        "remediator",
        "status",
        "mode",
        "severity",
        "account",
        "region",
        "resource_arn",
        "reason",
        "error_code",
        "actor",
        "trigger",
        "changes",
        "time",
        "undo",
    }
    assert report["outcome_id"] == outcome.outcome_id
    assert report["outcome_id"].startswith("20261124T120000Z-")
    assert (report["remediator"], report["status"], report["mode"], report["severity"]) == (
        "scripted_remediator",
        "REMEDIATED",
        "enforce",
        "HIGH",
    )
    assert (report["account"], report["region"]) == (ACCOUNT, "us-east-1")
    assert report["resource_arn"] == ROLE_ARN
    assert report["time"] == "2026-11-24T12:00:00+00:00"
    actor = report["actor"]
    assert actor["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/DeveloperRole/alice"
    assert actor["source_ip"] == "203.0.113.10"
    assert actor["user_agent"].startswith("aws-cli/2.15.0")
    assert actor["session_issuer_arn"] == f"arn:aws:iam::{ACCOUNT}:role/DeveloperRole"
    trigger = report["trigger"]
    assert trigger["event_name"] == "PutRolePolicy"
    assert trigger["event_id"] == "117b86a0-c2d2-446a-b2a9-20ac45a37935"
    assert trigger["event_time"] == "2025-03-14T09:12:03Z"
    assert trigger["source"] == "cloudtrail"
    [c] = report["changes"]
    assert (c["before"], c["after"]) == (BEFORE, AFTER)
    assert c["call"] == put_policy(AFTER, "p1").to_dict()
    assert c["undo"] == [put_policy(BEFORE, "p1").to_dict()]
    assert shlex.split(c["undo_cli"][0])[:5] == [
        "aws",
        "iam",
        "put-role-policy",
        "--role-name",
        "app-deploy-role",
    ]
    assert report["undo"].startswith(undo_hint(outcome.outcome_id))
    # The ledger holds the same document that subscribers receive.
    assert w.aws.ledger_records[-1] == report


def test_message_attributes_of_the_published_report() -> None:
    w = world([DIRTY], mode=Mode.REPORT)
    w.run()
    [publish] = w.aws.made("sns", "publish")
    assert publish["MessageAttributes"]["mode"] == {"DataType": "String", "StringValue": "report"}
    assert publish["Subject"] == (
        "[WOULD_REMEDIATE] scripted_remediator: role/app-deploy-role (by alice)"
    )
