"""A scripted remediator and recording fake AWS clients for core.runner tests (no moto).

Every fake call is appended to one `order` list, so that tests can assert what happened before
what: the ledger write before the first change, the notification before a TransientError.
A test module imports `_no_metrics` (autouse) with the rest.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
)

from core.circuit_breaker import CircuitBreaker, Verdict
from core.event import Trigger
from core.outcome import Call, Change, Mode, Outcome
from core.remediator import Aws, Evaluation, Remediator
from core.runner import Runner
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
    return f"autoremediate undo {outcome_id} --table autoremediate-Ledger"


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


class NeverOpen(CircuitBreaker):
    """A circuit breaker that admits every remediation and calls nothing: these tests follow
    the ledger and apply order, which the real breaker's counter calls would interleave."""

    def __init__(self) -> None:
        pass

    def admit(self, resource_arn: str, now: datetime) -> Verdict:
        return Verdict(False)


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
    runner = Runner(
        scripted,
        settings(mode, exempt, own),
        aws,
        now=lambda: now,
        sleep=slept.append,
        breaker=NeverOpen(),  # the breaker's own tests: tests/remediators/test_circuit_breaker.py
    )
    return World(runner, scripted, aws, order, slept)


APPROVER = f"arn:aws:iam::{ACCOUNT}:role/SecurityApprover"


def approve(w: World, value: str, until: str = "2099-12-31", by: str = APPROVER) -> None:
    """The ledger holds an approval of the exemption tag `value` (exemption_tag_approval's)."""
    approval = {"value": value, "until": until, "by": by, "reason": value.split(" until")[0]}
    item = {"Item": {"record": {"S": json.dumps(approval)}}}
    w.aws.responses[("dynamodb", "get_item")] = item


@pytest.fixture(autouse=True)
def _no_metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    yield


class GoneIsNotFound(Scripted):
    """A remediator for a service whose 'deleted' error is the same code DynamoDB uses."""

    gone_errors = ("ResourceNotFoundException",)
