"""The command against the embedded moto account (tests/conftest.py's session mock), in-process:
`cli(...)` runs autoremediate_cli.main with a Context on the test's stack."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from autoremediate_cli.context import Context
from autoremediate_cli.main import main
from core.outcome import Outcome
from core.runner import Runner
from core.settings import Settings


@dataclass
class Ran:
    """One run of the command: its exit code and what it wrote."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)  # the whole of stdout: one JSON document


@pytest.fixture
def ctx(aws: Any, stack: Any) -> Context:
    return Context(aws, stack.table, stack="autoremediate", topic_arn=stack.topic_arn)


@pytest.fixture
def cli(ctx: Context, capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    def run(*argv: str) -> Ran:
        capsys.readouterr()
        code = main(list(argv), ctx=ctx)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


@pytest.fixture
def remediate(aws: Any, stack: Any) -> Callable[..., list[Outcome]]:
    """remediate(module, event, mode="enforce"): the real runner, as Lambda runs it."""

    def run(module: Any, event: Any, mode: str = "enforce") -> list[Outcome]:
        return Runner(module.REMEDIATOR, Settings.from_env(stack.env(mode)), aws).run(event)

    return run
