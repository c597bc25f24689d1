"""`autoremediate pause`, `resume` and `status` against the embedded moto account: the kill
switch the functions read (core.kill_switch), set and shown by the command."""

from __future__ import annotations

import json
from typing import Any

import pytest

from autoremediate_cli.context import Context
from autoremediate_cli.main import main
from core.kill_switch import KillSwitch
from core.outcome import Status
from core.runner import Runner
from core.settings import Settings
from sqs_queue_encryption import REMEDIATOR
from tools.scenario import load_event


def value(aws: Any, stack: Any) -> str:
    return str(aws("ssm").get_parameter(Name=stack.kill_switch)["Parameter"]["Value"])


def test_pause_then_resume_sets_the_switch_the_functions_read(aws, stack, cli):
    assert value(aws, stack) == "off"

    paused = cli("pause", "--output", "json")

    assert paused.code == 0
    assert paused.json()["kill_switch"]["engaged"] is True
    assert value(aws, stack) == "on"
    aws("sqs").create_queue(QueueName="orders")
    env = stack.env("enforce")
    runner = Runner(REMEDIATOR, Settings.from_env(env), aws, kill_switch=KillSwitch(aws))
    [outcome] = runner.run(load_event("CreateQueue", "sqs_queue_encryption"))
    assert outcome.status is Status.WOULD_REMEDIATE
    assert outcome.reason == f"report only: the kill switch {stack.kill_switch} is on"

    resumed = cli("resume")

    assert resumed.code == 0 and "is off" in resumed.out
    assert value(aws, stack) == "off"


def test_status_shows_the_switch(aws, stack, capsys):
    aws("ssm").put_parameter(Name=stack.kill_switch, Value="on", Type="String", Overwrite=True)
    functions = [{"function": "autoremediate-sqs-queue-encryption", "mode": "enforce",
                  "logical_id": "SqsQueueEncryptionFunction"}]  # fmt: skip
    ctx = Context(aws, stack.table, stack="autoremediate", functions=functions)

    code = main(["status", "--output", "json"], ctx=ctx)

    assert code == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["functions"] == functions
    switch = shown["kill_switch"]
    assert (switch["parameter"], switch["value"], switch["engaged"]) == (
        stack.kill_switch,
        "on",
        True,
    )


@pytest.mark.parametrize("command", ["pause", "resume"])
def test_a_wrong_switch_is_refused_and_nothing_is_created(aws, stack, capsys, command):
    ctx = Context(aws, stack.table, stack="autoremediate", kill_switch="/autoremediat/kill-switch")

    code = main([command], ctx=ctx)

    assert code == 1
    assert "ParameterNotFound" in capsys.readouterr().err
    names = [p["Name"] for p in aws("ssm").describe_parameters()["Parameters"]]
    assert names == [stack.kill_switch]
    assert value(aws, stack) == "off"
