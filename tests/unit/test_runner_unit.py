"""core.runner with a scripted remediator and recording fake AWS clients (no moto).

Every fake call is appended to one `order` list, so that tests can assert what happened before
what: the ledger write before the first change, the notification before a TransientError.
"""

from __future__ import annotations

import copy
import json
import shlex
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from core.event import EventError, Trigger
from core.exemptions import EXEMPT_TAG
from core.outcome import Call, Change, Mode, Outcome, Status
from core.remediator import Aws, Evaluation, Remediator
from core.runner import TRANSIENT_ERRORS, Runner, TransientError, summarise
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events/iam_policy_least_privilege"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app-deploy-role"
# The sessionIssuer of events/iam_policy_least_privilege/PutRolePolicy-own-action.json.
OWN_ROLE_NAME = "autoremediate-IamPolicyLeastPrivilegeRole-1A2B3C4D5E6F"
OWN_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/autoremediate/{OWN_ROLE_NAME}"
SERVICE_ROLE_ARN = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport"
)
BEFORE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    ],
}
AFTER = {"Version": "2012-10-17", "Statement": [BEFORE["Statement"][1]]}


def event(name: str = "PutRolePolicy") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


def client_error(code: str, message: str = "it went wrong", op: str = "Op") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, op)


def put_policy(document: dict[str, Any], name: str = "deploy-wildcard") -> Call:
    params = {"RoleName": "app-deploy-role", "PolicyName": name, "PolicyDocument": ""}
    params["PolicyDocument"] = json.dumps(document)
    return Call("iam", "put_role_policy", params)


def change(
    summary: str = "inline policy deploy-wildcard: removed Sid Admin", name: str = "p1"
) -> Change:
    return Change(
        summary, ROLE_ARN, BEFORE, AFTER, put_policy(AFTER, name), (put_policy(BEFORE, name),)
    )


def undo_hint(outcome_id: str) -> str:
    return f"python -m core.undo {outcome_id} --table autoremediate-Ledger"


DIRTY = Evaluation(ROLE_ARN, (change(),))
CLEAN = Evaluation(ROLE_ARN)


# --- fakes ------------------------------------------------------------------------------------


class FakeClient:
    def __init__(self, aws: FakeAws, service: str):
        self._aws = aws
        self._service = service

    def __getattr__(self, operation: str) -> Callable[..., dict[str, Any]]:
        if operation.startswith("_"):
            raise AttributeError(operation)

        def call(**params: Any) -> dict[str, Any]:
            key = (self._service, operation)
            self._aws.order.append(f"{self._service}.{operation}")
            self._aws.calls.append((self._service, operation, params))
            failures = self._aws.failures.get(key)
            if failures:
                raise failures.pop(0)
            return copy.deepcopy(self._aws.responses.get(key, {}))

        return call


class FakeAws:
    """`aws("dynamodb")` -> a client recording every call; failures are scripted per call."""

    def __init__(self, order: list[str]):
        self.order = order
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.failures: dict[tuple[str, str], list[Exception]] = {}
        self.responses: dict[tuple[str, str], dict[str, Any]] = {
            ("sns", "publish"): {"MessageId": "msg-1"},
        }

    def __call__(self, service: str) -> Any:
        return FakeClient(self, service)

    def fail(self, service: str, operation: str, *errors: Exception) -> None:
        """The next calls of service.operation raise these errors, one each, then succeed."""
        self.failures[(service, operation)] = list(errors)

    def made(self, service: str, operation: str) -> list[dict[str, Any]]:
        return [p for s, o, p in self.calls if (s, o) == (service, operation)]

    @property
    def published(self) -> list[dict[str, Any]]:
        return [json.loads(p["Message"]) for p in self.made("sns", "publish")]

    @property
    def ledger_records(self) -> list[dict[str, Any]]:
        """Every report written to the ledger, new entries and settled ones, in order."""
        found = []
        for s, o, p in self.calls:
            if (s, o) == ("dynamodb", "put_item"):
                found.append(json.loads(p["Item"]["record"]["S"]))
            elif (s, o) == ("dynamodb", "update_item"):
                found.append(json.loads(p["ExpressionAttributeValues"][":r"]["S"]))
        return found


Script = Evaluation | Exception


class Scripted(Remediator[str]):
    """Returns the scripted evaluations in order (or raises them); records each apply."""

    name = "scripted_remediator"
    severity = "HIGH"
    read_actions = ("iam:GetRolePolicy",)
    write_actions = ("iam:PutRolePolicy",)
    gone_errors = ("NoSuchEntity",)

    def __init__(
        self,
        order: list[str],
        evaluations: list[Script],
        targets: list[str] | Exception | None = None,
        apply_errors: Mapping[int, Exception] | None = None,
    ):
        self.order = order
        self.evaluations = list(evaluations)
        self._targets = ["app-deploy-role"] if targets is None else targets
        self.apply_errors = dict(apply_errors or {})
        self.evaluated: list[str] = []
        self.attempts: list[Change] = []

    def targets(self, trigger: Trigger) -> list[str]:
        self.order.append("targets")
        if isinstance(self._targets, Exception):
            raise self._targets
        return list(self._targets)

    def evaluate(self, target: str, aws: Aws) -> Evaluation:
        self.order.append("evaluate")
        self.evaluated.append(target)
        result = self.evaluations.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    def apply(self, change: Change, aws: Aws) -> dict[str, Any]:
        assert change.call is not None  # the runner never applies a manual change
        self.order.append(f"apply:{change.call.params.get('PolicyName')}")
        self.attempts.append(change)
        error = self.apply_errors.get(len(self.attempts) - 1)
        if error is not None:
            raise error
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}


@dataclass
class World:
    runner: Runner
    remediator: Scripted
    aws: FakeAws
    order: list[str] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)

    def run(self, incoming: Any = None) -> list[Outcome]:
        return self.runner.run(event() if incoming is None else incoming)

    @property
    def applied(self) -> list[str]:
        return [o for o in self.order if o.startswith("apply:")]


def settings(
    mode: Mode = Mode.ENFORCE, exempt: tuple[str, ...] = (), own: tuple[str, ...] = (OWN_ROLE_ARN,)
) -> Settings:
    return Settings(
        mode=mode,
        ledger_table="autoremediate-Ledger",
        topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:autoremediate-Topic",
        exempt_principals=exempt,
        own_role_arns=own,
    )


def world(
    evaluations: list[Script],
    mode: Mode = Mode.ENFORCE,
    exempt: tuple[str, ...] = (),
    own: tuple[str, ...] = (OWN_ROLE_ARN,),
    now: datetime = NOW,
    remediator: type[Scripted] = Scripted,
    **kwargs: Any,
) -> World:
    order: list[str] = []
    aws = FakeAws(order)
    scripted = remediator(order, evaluations, **kwargs)
    slept: list[float] = []
    runner = Runner(scripted, settings(mode, exempt, own), aws, now=lambda: now, sleep=slept.append)
    return World(runner, scripted, aws, order, slept)


@pytest.fixture(autouse=True)
def _no_metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    yield


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


def test_own_change_is_a_quiet_skip_and_never_evaluated() -> None:
    w = world([DIRTY])
    [outcome] = w.run(event("PutRolePolicy-own-action"))
    assert (outcome.status, outcome.quiet) == (Status.SKIPPED, True)
    assert outcome.reason == "the change was made by autoremediate itself (loop guard)"
    assert w.remediator.evaluated == []
    assert w.order == []
    assert w.aws.calls == []  # neither ledgered nor published


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
    w = world([CLEAN])
    [outcome] = w.run(_issued_by(issuer))
    assert outcome.status is Status.COMPLIANT
    assert w.remediator.evaluated == ["app-deploy-role"]


def test_loop_guard_reads_the_session_issuer_not_the_sts_arn() -> None:
    incoming = event()
    identity = incoming["detail"]["userIdentity"]
    identity["arn"] = OWN_ROLE_ARN  # only the session issuer says who the role is
    identity["principalId"] = f"AROAEXAMPLE:{_OWN_NAME}"
    w = world([CLEAN])
    [outcome] = w.run(incoming)
    assert outcome.status is Status.COMPLIANT


def test_loop_guard_follows_the_configured_arns() -> None:
    other = f"arn:aws:iam::{ACCOUNT}:role/ops/ar/autoremediate-OtherFn-1"
    incoming = _issued_by(other)
    w = world([DIRTY], own=(OWN_ROLE_ARN, other))
    assert w.run(incoming)[0].reason == "the change was made by autoremediate itself (loop guard)"
    assert w.order == []
    # With only the default role configured the same event is not ours.
    w = world([CLEAN])
    assert w.run(incoming)[0].status is Status.COMPLIANT


def test_no_own_roles_configured_means_no_loop_guard() -> None:
    w = world([CLEAN], own=())
    [outcome] = w.run(event("PutRolePolicy-own-action"))
    assert outcome.status is Status.COMPLIANT
    assert w.remediator.evaluated == ["app-deploy-role"]


@pytest.mark.parametrize(
    "pattern",
    [f"arn:aws:iam::{ACCOUNT}:role/autoremediate/*", "arn:aws:iam::*:role/autoremediate/*", "*"],
)
def test_loop_guard_takes_no_wildcards(pattern: str) -> None:
    w = world([CLEAN], own=(pattern,))
    [outcome] = w.run(event("PutRolePolicy-own-action"))
    assert outcome.status is Status.COMPLIANT


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
    deleting = replace(
        change(), call=Call("iam", "delete_role_policy", {"RoleName": "r", "PolicyName": "p1"})
    )
    w = world([Evaluation(ROLE_ARN, (deleting,)), client_error("NoSuchEntity")])
    [outcome] = w.run()
    assert outcome.status is Status.REMEDIATED
    assert outcome.error_code == ""


def test_resource_gone_after_a_put_is_failed_and_keeps_its_undo() -> None:
    w = world([DIRTY, client_error("NoSuchEntity", "role deleted")])
    [outcome] = w.run()
    # Not SKIPPED: a change was made, and core.undo refuses SKIPPED entries.
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


def test_several_targets_are_all_reported_before_the_transient_error() -> None:
    w = world([client_error("ThrottlingException"), DIRTY], mode=Mode.REPORT, targets=["a", "b"])
    first = r"^1 transient failure\(s\), first: ThrottlingException"
    with pytest.raises(TransientError, match=first):
        w.run()
    assert [r["status"] for r in w.aws.published] == ["FAILED", "WOULD_REMEDIATE"]
    assert w.remediator.evaluated == ["a", "b"]


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


# --- exemptions -------------------------------------------------------------------------------


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


# --- fixed bugs -------------------------------------------------------------------------------


class GoneIsNotFound(Scripted):
    """A remediator for a service whose 'deleted' error is the same code DynamoDB uses."""

    gone_errors = ("ResourceNotFoundException",)


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


def test_gone_code_of_the_remediator_still_skips_when_reading() -> None:
    # The same code from the remediator's own read still means the resource is gone.
    w = world([client_error("ResourceNotFoundException", "gone")], remediator=GoneIsNotFound)
    assert w.run()[0].status is Status.SKIPPED


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
