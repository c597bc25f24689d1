"""core.runner: failures, retries and resources that are gone.

A scripted remediator and recording fake AWS clients (runner_fakes.py), no moto.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from core.outcome import Call, Change, Mode, Status
from core.remediator import Evaluation
from core.runner import TransientError
from core.transient import TRANSIENT_ERRORS
from tests.unit.runner_fakes import (
    BEFORE,
    DIRTY,
    ROLE_ARN,
    GoneIsNotFound,
    _no_metrics,  # noqa: F401  (autouse: metrics off)
    change,
    client_error,
    put_policy,
    undo_hint,
    world,
)

# --- AWS errors -------------------------------------------------------------------------------


def test_apply_access_denied_is_failed_not_transient() -> None:
    w = world(
        [DIRTY], apply_errors={0: client_error("AccessDenied", "not authorized", "PutRolePolicy")}
    )
    [outcome] = w.run()  # no exception
    assert outcome.status is Status.FAILED
    assert (outcome.error_code, outcome.transient) == ("AccessDenied", False)
    assert outcome.reason == (
        "AccessDenied while applying 'inline policy deploy-wildcard: removed Sid Admin': "
        "not authorized; 0 of 1 change(s) applied"
    )
    assert outcome.changes == ()
    assert w.remediator.evaluated == ["app-deploy-role"]  # no verification after a failure
    [report] = w.aws.published
    assert (report["status"], report["error_code"]) == ("FAILED", "AccessDenied")
    assert report["changes"] == [] and "undo" not in report  # nothing was changed
    assert w.aws.ledger_records[-1] == report
    [settle] = w.aws.made("dynamodb", "update_item")
    assert settle["Key"] == {"outcome_id": {"S": outcome.outcome_id}}


def test_partial_apply_keeps_what_was_done() -> None:
    two = Evaluation(ROLE_ARN, (change("a", "p1"), change("b", "p2")))
    w = world([two], apply_errors={1: client_error("LimitExceeded", "too many")})
    [outcome] = w.run()
    assert outcome.status is Status.FAILED
    assert outcome.reason == "LimitExceeded while applying 'b': too many; 1 of 2 change(s) applied"
    assert [c.summary for c in outcome.changes] == ["a"]
    [report] = w.aws.published
    assert [c["summary"] for c in report["changes"]] == ["a"]
    assert report["changes"][0]["undo"] == [put_policy(BEFORE, "p1").to_dict()]
    assert report["undo"].startswith(undo_hint(outcome.outcome_id))


def test_apply_throttled_is_transient_and_raises_after_publishing() -> None:
    w = world([DIRTY], apply_errors={0: client_error("Throttling", "Rate exceeded")})
    with pytest.raises(TransientError, match="1 transient failure"):
        w.run()
    [report] = w.aws.published
    assert report["status"] == "FAILED"
    assert report["error_code"] == "Throttling"
    assert report["reason"].startswith("Throttling while applying")
    assert "(will retry)" in report["reason"]
    assert w.order[-2:] == ["dynamodb.update_item", "sns.publish"]


@pytest.mark.parametrize("code", sorted(TRANSIENT_ERRORS))
def test_every_transient_code_raises(code: str) -> None:
    w = world([client_error(code)])
    with pytest.raises(TransientError):
        w.run()
    assert w.aws.published[0]["error_code"] == code


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://iam.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://iam.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://iam.amazonaws.com"),
        ConnectionClosedError(endpoint_url="https://iam.amazonaws.com"),
        HTTPClientError(error="connection reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_network_errors_are_transient(error: Exception) -> None:
    w = world([DIRTY], apply_errors={0: error})
    name = type(error).__name__
    with pytest.raises(TransientError, match=name):
        w.run()
    [report] = w.aws.published
    assert (report["status"], report["error_code"]) == ("FAILED", name)
    assert "(will retry)" in report["reason"]


@pytest.mark.parametrize(
    "error",
    [
        ParamValidationError(report="Invalid type for parameter PolicyDocument"),
        NoCredentialsError(),
        client_error("ValidationError", "bad input"),
        client_error("MalformedPolicyDocument", "bad policy"),
        client_error("LimitExceeded", "too many versions"),
    ],
    ids=["ParamValidationError", "NoCredentialsError", "ValidationError", "Malformed", "Limit"],
)
def test_errors_no_retry_can_fix_are_not_transient(error: Exception) -> None:
    w = world([DIRTY], apply_errors={0: error})
    [outcome] = w.run()  # no TransientError: a retry would fail the same way
    assert outcome.status is Status.FAILED
    assert not outcome.transient
    assert "(will retry)" not in outcome.reason


def test_evaluate_access_denied_is_failed_with_the_target_as_resource() -> None:
    w = world([client_error("AccessDenied", "no iam:GetRolePolicy")])
    [outcome] = w.run()
    assert outcome.status is Status.FAILED
    assert outcome.reason == "AccessDenied while reading the resource: no iam:GetRolePolicy"
    assert outcome.resource_arn == "app-deploy-role"
    assert w.applied == []


def test_evaluate_no_such_entity_is_skipped() -> None:
    w = world([client_error("NoSuchEntity", "The role cannot be found")])
    [outcome] = w.run()
    assert outcome.status is Status.SKIPPED
    assert outcome.error_code == "NoSuchEntity"
    assert outcome.reason == "resource no longer exists (NoSuchEntity) while reading the resource"
    assert not outcome.transient and not outcome.quiet
    assert w.applied == []
    assert w.aws.published[0]["severity"] == "LOW"


def test_verification_failure_is_failed() -> None:
    w = world([DIRTY, client_error("AccessDenied", "denied")])
    [outcome] = w.run()
    assert outcome.status is Status.FAILED
    assert "while verifying the change" in outcome.reason
    assert len(outcome.changes) == 1 and outcome.outcome_id


# --- the resource is gone ---------------------------------------------------------------------


def test_resource_gone_after_we_deleted_it_is_remediated() -> None:
    deleting = Change(
        "inline policy p1: nothing left, policy deleted",
        ROLE_ARN,
        BEFORE,
        None,
        Call("iam", "delete_role_policy", {"RoleName": "app-deploy-role", "PolicyName": "p1"}),
        (put_policy(BEFORE, "p1"),),
    )
    w = world([Evaluation(ROLE_ARN, (deleting,)), client_error("NoSuchEntity")])
    [outcome] = w.run()
    assert (outcome.status, outcome.reason) == (Status.REMEDIATED, "verified: removed")
    assert outcome.changes[0].call == deleting.call
    [report] = w.aws.published
    assert report["undo"].startswith(undo_hint(outcome.outcome_id))


def test_resource_gone_after_we_deleted_it_carries_no_error_code() -> None:
    deleting = change()._replace(
        call=Call("iam", "delete_role_policy", {"RoleName": "r", "PolicyName": "p1"})
    )
    w = world([Evaluation(ROLE_ARN, (deleting,)), client_error("NoSuchEntity")])
    [outcome] = w.run()
    assert outcome.status is Status.REMEDIATED
    assert outcome.error_code == ""


def test_resource_gone_after_a_put_is_failed_and_keeps_its_undo() -> None:
    w = world([DIRTY, client_error("NoSuchEntity", "role deleted")])
    [outcome] = w.run()
    # Not SKIPPED: a change was made, and autoremediate_cli.undo refuses SKIPPED entries.
    assert outcome.status is Status.FAILED
    assert outcome.reason == "resource no longer exists (NoSuchEntity) while verifying the change"
    assert (outcome.error_code, outcome.transient) == ("NoSuchEntity", False)
    assert [c.summary for c in outcome.changes] == [c.summary for c in DIRTY.changes]
    assert outcome.outcome_id
    [report] = w.aws.published
    assert (report["status"], report["severity"]) == ("FAILED", "HIGH")
    assert report["undo"].startswith(undo_hint(outcome.outcome_id))
    [settle] = w.aws.made("dynamodb", "update_item")
    assert settle["ExpressionAttributeValues"][":s"] == {"S": "FAILED"}


def test_resource_gone_before_any_change_is_skipped_without_undo() -> None:
    gone = client_error("NoSuchEntity", "role deleted")
    w = world([DIRTY], apply_errors={0: gone})
    [outcome] = w.run()
    assert outcome.status is Status.SKIPPED
    assert outcome.reason == (
        "resource no longer exists (NoSuchEntity) while applying "
        "'inline policy deploy-wildcard: removed Sid Admin'; 0 of 1 change(s) applied"
    )
    assert outcome.changes == ()
    [report] = w.aws.published
    assert (report["status"], report["severity"]) == ("SKIPPED", "LOW")
    assert report["changes"] == [] and "undo" not in report
    # The write-ahead entry is settled, not left APPLYING.
    [settle] = w.aws.made("dynamodb", "update_item")
    assert settle["Key"] == {"outcome_id": {"S": outcome.outcome_id}}
    assert settle["ExpressionAttributeValues"][":s"] == {"S": "SKIPPED"}


def test_gone_code_of_the_remediator_still_skips_when_reading() -> None:
    # The same code from the remediator's own read still means the resource is gone.
    w = world([client_error("ResourceNotFoundException", "gone")], remediator=GoneIsNotFound)
    assert w.run()[0].status is Status.SKIPPED


@pytest.mark.parametrize("where", ["second-apply", "verification"])
def test_gone_after_a_change_still_offers_undo(where: str) -> None:
    two = Evaluation(ROLE_ARN, (change("a", "p1"), change("b", "p2")))
    gone = client_error("NoSuchEntity", "policy p2 not found")
    if where == "second-apply":
        w = world([two], apply_errors={1: gone})
        doing = "applying 'b'; 1 of 2 change(s) applied"
    else:
        w = world([Evaluation(ROLE_ARN, (change("a", "p1"),)), gone])
        doing = "verifying the change"
    [outcome] = w.run()
    assert outcome.status is Status.FAILED
    assert outcome.reason == f"resource no longer exists (NoSuchEntity) while {doing}"
    assert [c.summary for c in outcome.changes] == ["a"]
    [report] = w.aws.published
    assert report["status"] == "FAILED"
    assert [c["summary"] for c in report["changes"]] == ["a"]
    assert report["undo"].startswith(undo_hint(outcome.outcome_id))
    assert w.aws.ledger_records[-1] == report


# --- retries ----------------------------------------------------------------------------------


def test_several_targets_are_all_reported_before_the_transient_error() -> None:
    w = world([client_error("ThrottlingException"), DIRTY], mode=Mode.REPORT, targets=["a", "b"])
    first = r"^1 transient failure\(s\), first: ThrottlingException"
    with pytest.raises(TransientError, match=first):
        w.run()
    assert [r["status"] for r in w.aws.published] == ["FAILED", "WOULD_REMEDIATE"]
    assert w.remediator.evaluated == ["a", "b"]


def test_parameter_validation_error_is_not_transient() -> None:
    error = ParamValidationError(report="Invalid type for parameter PolicyDocument")
    w = world([DIRTY], apply_errors={0: error})
    [outcome] = w.run()
    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.error_code == "ParamValidationError"


# botocore's standard retry mode treats these as throttling/transient; after its own retries the
# runner sees them, and should retry the event too. (botocore's list also has quota-like codes,
# LimitExceededException, BandwidthLimitExceeded, TransactionInProgressException, left out here.)
_BOTOCORE_RETRYABLE = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
}


def test_botocore_retryable_codes_are_transient() -> None:
    assert sorted(_BOTOCORE_RETRYABLE - TRANSIENT_ERRORS) == []


@pytest.mark.parametrize("code", sorted(_BOTOCORE_RETRYABLE))
def test_botocore_retryable_code_from_apply_raises(code: str) -> None:
    w = world([DIRTY], apply_errors={0: client_error(code)})
    with pytest.raises(TransientError, match=code):
        w.run()
