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
def run(aws: Any, stack: Any, fixed_now: datetime) -> Run:
    """run(event, mode="report", exempt="", aws_=None, remediator=IAM) -> outcomes, through the
    real runner, with the stack's settings."""

    def _run(
        event: dict[str, Any],
        mode: str = "report",
        exempt: str = "",
        aws_: Any = None,
        remediator: Any = REMEDIATOR,
    ) -> list[Outcome]:
        env = {**stack.env(mode), "EXEMPT_PRINCIPALS": exempt}
        runner = Runner(remediator, Settings.from_env(env), aws_ or aws, now=lambda: fixed_now)
        return runner.run(event)

    return _run
