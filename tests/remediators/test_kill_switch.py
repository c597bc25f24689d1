"""The kill switch in a moto account: pause takes effect within the cache window, without a
deploy; it never upgrades report mode; an unreadable switch means report only.

One KillSwitch outlives the events, as in a warm Lambda environment (core.handler). Its
Powertools cache (max_age 60 s) runs on a clock the test moves: Powertools reads
`datetime.now()` in its parameters base module, which the `clock` fixture replaces.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import base as parameters_base
from botocore.exceptions import ClientError

from autoremediate_cli import kill_switch
from core.kill_switch import MAX_AGE, KillSwitch
from core.outcome import Mode, Outcome, Status
from core.runner import Runner
from core.settings import Settings
from s3_bucket_encryption import REMEDIATOR
from tools.scenario import inbox, load_event

BUCKET = "app-data-bucket"


class Clock:
    """Stands in for `datetime` in Powertools' parameters module: `now()` is what we set."""

    def __init__(self, start: datetime) -> None:
        self.at = start.replace(tzinfo=None)  # Powertools compares naive local times

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, fixed_now: datetime) -> Iterator[Clock]:
    fake = Clock(fixed_now)
    monkeypatch.setattr(parameters_base, "datetime", fake)
    yield fake


@pytest.fixture(autouse=True)
def _s3_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_ENCRYPTION_LEVEL", "SSE-S3")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", "")


def encrypted(aws: Any) -> bool:
    try:
        aws("s3").get_bucket_encryption(Bucket=BUCKET)
    except ClientError:
        return False
    return True


def event_at(
    aws: Any, stack: Any, switch: KillSwitch, mode: str = "enforce", **env: str
) -> Outcome:
    """The bucket loses its encryption; one event reaches the function."""
    if encrypted(aws):
        aws("s3").delete_bucket_encryption(Bucket=BUCKET)
    settings = Settings.from_env({**stack.env(mode), **env})
    runner = Runner(REMEDIATOR, settings, aws, sleep=lambda _: None, kill_switch=switch)
    [outcome] = runner.run(load_event("DeleteBucketEncryption", "s3_bucket_encryption"))
    return outcome


@pytest.fixture
def bucket(aws: Any, stack: Any) -> None:
    aws("s3").create_bucket(Bucket=BUCKET)


@pytest.mark.usefixtures("bucket")
def test_pause_takes_effect_within_the_cache_window(aws: Any, stack: Any, clock: Clock) -> None:
    switch = KillSwitch(aws)
    assert event_at(aws, stack, switch).status is Status.REMEDIATED  # read "off", cached

    kill_switch.pause(aws, stack.kill_switch)
    clock.at += timedelta(seconds=30)  # within the cache: the old value may still hold
    assert event_at(aws, stack, switch).status is Status.REMEDIATED

    clock.at += timedelta(seconds=MAX_AGE - 30 + 1)  # at most 60 s after the last read
    paused = event_at(aws, stack, switch)
    assert paused.status is Status.WOULD_REMEDIATE and not encrypted(aws)
    assert paused.reason == f"report only: the kill switch {stack.kill_switch} is on"
    note = inbox(aws, stack)[-1]["body"]
    assert note["mode"] == "report" and note["kill_switch"].endswith("is on")
    assert note["reason"].startswith("report only: the kill switch")
    assert "undo" not in note  # nothing was changed

    kill_switch.resume(aws, stack.kill_switch)
    clock.at += timedelta(seconds=MAX_AGE + 1)
    assert event_at(aws, stack, switch).status is Status.REMEDIATED and encrypted(aws)


@pytest.mark.usefixtures("bucket")
def test_never_upgrades_report_mode(aws: Any, stack: Any, clock: Clock) -> None:
    switch = KillSwitch(aws)
    for value in ("off", "on", "enforce"):
        aws("ssm").put_parameter(Name=stack.kill_switch, Value=value, Type="String", Overwrite=True)
        clock.at += timedelta(seconds=MAX_AGE + 1)
        outcome = event_at(aws, stack, switch, mode="report")
        assert (outcome.status, outcome.reason) == (Status.WOULD_REMEDIATE, "report mode")
        assert not encrypted(aws)


@pytest.mark.usefixtures("bucket")
@pytest.mark.parametrize(
    ("value", "why"),
    [(None, "could not be read"), ("yes please", "not on/off: fail safe"), ("ON ", "is on")],
    ids=["missing", "unexpected", "on-any-case"],
)
def test_what_is_not_off_means_report_only(
    aws: Any, stack: Any, value: str | None, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    if value is None:
        aws("ssm").delete_parameter(Name=stack.kill_switch)
    else:
        aws("ssm").put_parameter(Name=stack.kill_switch, Value=value, Type="String", Overwrite=True)
    outcome = event_at(aws, stack, KillSwitch(aws))
    assert outcome.status is Status.WOULD_REMEDIATE and not encrypted(aws)
    assert why in outcome.reason
    assert inbox(aws, stack)[-1]["body"]["mode"] == Mode.REPORT


def test_unreadable_switch_is_logged(aws: Any, stack: Any) -> None:
    from core.observability import logger

    aws("ssm").delete_parameter(Name=stack.kill_switch)
    settings = Settings.from_env(stack.env("enforce"))
    runner = Runner(REMEDIATOR, settings, aws)
    logged: list[tuple[str, Any]] = []
    original = logger.warning
    try:
        logger.warning = lambda msg, **kw: logged.append((msg, kw))  # type: ignore[method-assign]
        runner._decide_mode()
    finally:
        logger.warning = original  # type: ignore[method-assign]
    assert runner.mode is Mode.REPORT and "could not be read" in runner.paused
    assert logged and logged[0][0] == "kill switch: report only"


def test_pause_resume_status(aws: Any, stack: Any) -> None:
    assert kill_switch.status(aws, stack.kill_switch).engaged is False
    paused = kill_switch.pause(aws, stack.kill_switch)
    assert (paused.value, paused.engaged) == ("on", True) and paused.last_modified
    got = aws("ssm").get_parameter(Name=stack.kill_switch)["Parameter"]["Value"]
    assert got == "on"
    resumed = kill_switch.resume(aws, stack.kill_switch)
    assert (resumed.value, resumed.engaged) == ("off", False)


def test_a_wrong_name_creates_nothing(aws: Any, stack: Any) -> None:
    with pytest.raises(ClientError, match="ParameterNotFound"):
        kill_switch.pause(aws, "/autoremediate/kill-swtich")
    names = [p["Name"] for p in aws("ssm").describe_parameters()["Parameters"]]
    assert names == [stack.kill_switch]
    assert kill_switch.status(aws, stack.kill_switch).value == "off"
