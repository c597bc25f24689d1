"""`--local`: the embedded moto account of `make demo`, with a history to look at.

Each run of the command starts it afresh, in-process (nothing is kept between runs, no AWS
account or credentials are used): the stack's ledger and topic, the demo's seeded estate, then
the demo's enforce-mode story (the IAM story and every function's demo samples), so that the
ledger holds REMEDIATED outcomes to show and undo. Their outcome ids are `local-0001`... in the
order the story makes them, the same in every run. Needs a checkout of the repository (tools/,
events/) and moto: run it from the repository root with the test environment (`make demo`'s).
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from autoremediate_cli.context import DEFAULT_MAX_DAYS, DEFAULT_UNDO_DAYS, Context, parse_days
from autoremediate_cli.output import CommandError

MODE = "enforce"


def repository_root() -> Path:
    """The checkout that holds tools/scenario.py: the current directory or this package's."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (root / "tools" / "scenario.py").is_file() and (root / "remediators").is_dir():
            return root
    raise CommandError(
        "--local needs a checkout of the repository (tools/, events/, remediators/): run it"
        " from the repository root"
    )


@contextlib.contextmanager
def embedded_account() -> Iterator[Context]:
    """The demo's account after its enforce story, for as long as the command runs."""
    root = repository_root()
    for path in (root / "remediators", root):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    try:
        from moto import mock_aws
    except ImportError:
        raise CommandError("--local needs moto (the test environment: make demo)") from None
    from tools.demo.lambda_env import isolated_environment

    with isolated_environment():
        from core.runner import Runner
        from tools import scenario

        scenario.load_few_managed_policies()
        scenario.moto_as_aws()
        ids = (f"local-{n:04d}" for n in itertools.count(1))
        with mock_aws() as moto, mock.patch.object(Runner, "_new_id", lambda _self: next(ids)):
            moto.reset()  # a fresh account, even where another mock was already running
            yield _play()


def _play() -> Context:
    """Deploy, seed and play the story; the context of the account it leaves."""
    from core.clients import Clients
    from tools.demo.lambda_env import FakeContext, function_env, invocation_environment
    from tools.demo.story import REMEDIATOR, STORY, encryption_story, others, plays_in
    from tools.routing import functions, load_template, routes
    from tools.scenario import (
        STACK_NAME,
        deploy_stack,
        load_event,
        replay,
        seed_estate,
        seed_principals,
    )

    template = load_template()
    remediators = functions(template)
    aws = Clients()
    stack = deploy_stack(aws)
    seed_principals(aws)
    seed_estate(aws, others(remediators))
    story = [(name, load_event(name, REMEDIATOR), True) for name in STORY]
    story += [(name, event, False) for name, event in encryption_story(remediators)]
    problems: list[str] = []
    for name, event, replayed in story:
        if not plays_in(name, MODE):
            continue
        detail = event["detail"]
        cloudtrail = event["detail-type"] == "AWS API Call via CloudTrail"
        if cloudtrail and replayed and not detail.get("errorCode"):
            replay(aws, event)
        for function in routes(remediators, event):
            module = importlib.import_module(function.handler_module)
            env = function_env(function, template, stack, MODE, problems)
            with invocation_environment(env):
                module.handler(event, FakeContext(function.logical_id, f"local-{name}"))
    parameters = template.get("Parameters") or {}
    return Context(
        aws,
        stack.table,
        stack=STACK_NAME,
        topic_arn=stack.topic_arn,
        kill_switch=stack.kill_switch,
        undo_days=_default(parameters, "UndoExemptionDays", DEFAULT_UNDO_DAYS),
        max_days=_default(parameters, "ExemptionMaxDays", DEFAULT_MAX_DAYS),
        functions=[
            {
                "function": f"{STACK_NAME}-{f.handler_module.replace('_', '-')}",
                "logical_id": f.logical_id,
                "mode": MODE,
            }
            for f in remediators
        ],
    )


def _default(parameters: dict[str, Any], name: str, fallback: int) -> int:
    return parse_days(str((parameters.get(name) or {}).get("Default", "")), fallback)
