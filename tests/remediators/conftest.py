from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from core.outcome import Outcome
from core.runner import Runner
from core.settings import Settings
from iam_policy_least_privilege import REMEDIATOR

Run = Callable[..., list[Outcome]]


@pytest.fixture
def make_run(aws: Any, stack: Any, fixed_now: datetime) -> Callable[..., Run]:
    """make_run(remediator, own_role=None) -> run, through the real runner with the stack's
    settings. `own_role` is the function's own role ARN for the loop guard (OWN_ROLE_ARNS);
    without it, the stack's default. A test file for another remediator overrides `run` with
    `make_run(REMEDIATOR, own_role=OWN_ROLE)`."""

    def make(remediator: Any, own_role: str | None = None) -> Run:
        def run(
            event: Any, mode: str = "report", *, exempt: str = "", aws_: Any = None
        ) -> list[Outcome]:
            """run(event, mode="report", exempt="", aws_=None) -> outcomes; `exempt` is
            EXEMPT_PRINCIPALS, `aws_` the clients the runner gets (moto's by default)."""
            env = {**stack.env(mode), "EXEMPT_PRINCIPALS": exempt}
            if own_role is not None:
                env["OWN_ROLE_ARNS"] = own_role
            runner = Runner(remediator, Settings.from_env(env), aws_ or aws, now=lambda: fixed_now)
            return runner.run(event)

        return run

    return make


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    """The IAM remediator with the stack's own role: see `make_run`."""
    return make_run(REMEDIATOR)


@pytest.fixture
def no_baseline_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No baseline KMS key unless the test sets ENCRYPTION_KMS_KEY_ARN itself (opt in with
    `pytestmark = pytest.mark.usefixtures("no_baseline_key")`)."""
    monkeypatch.delenv("ENCRYPTION_KMS_KEY_ARN", raising=False)


@pytest.fixture
def sqs_keeps_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.x drops a queue's Policy on any SetQueueAttributes that does not name it
    (`self.policy = attributes.get("Policy")`); SQS changes only the attributes given."""
    from moto.sqs.models import Queue as MotoQueue

    original = MotoQueue._set_attributes

    def set_attributes(self: Any, attributes: dict[str, Any], now: float | None = None) -> None:
        policy = getattr(self, "policy", None)
        original(self, attributes, now)
        if "Policy" not in attributes:
            self.policy = policy

    monkeypatch.setattr(MotoQueue, "_set_attributes", set_attributes)
