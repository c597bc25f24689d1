"""The kill switch: one SSM parameter per stack that turns enforce mode into report mode at once.

`on` means report only, `off` (the template's default) means the deployed Mode holds. The
functions read it with Powertools Parameters, cached for at most MAX_AGE seconds, so pausing
takes effect within a minute and without a deploy. It only ever downgrades: the runner asks it
nothing in report mode, and report-mode roles hold no write permission anyway. A parameter that
cannot be read (or holds anything but on/off) counts as `on`: fail safe, never fail open.

`pause`, `resume` and `status` are what the `autoremediate` command (and people, with the AWS CLI
lines in the README) use; they run with the caller's credentials, not the functions' roles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

ENV = "KILL_SWITCH_PARAMETER"
ON = "on"
OFF = "off"
MAX_AGE = 60
"""Seconds a value read is trusted: the longest a pause waits to take effect."""


@dataclass(frozen=True)
class Reading:
    """What the functions make of the parameter: `engaged` means report only; `why` says it."""

    engaged: bool
    why: str = ""
    unreadable: bool = False


class KillSwitch:
    """Reads the parameter for the runner; one per warm Lambda environment, so that its cache
    outlives each event (core.handler creates it beside the clients)."""

    def __init__(self, aws: Callable[[str], Any], max_age: int = MAX_AGE) -> None:
        self._aws = aws
        self._max_age = max_age
        self._provider: SSMProvider | None = None

    def read(self, name: str) -> Reading:
        """Engaged when the parameter says `on`, or cannot be read, or says anything else."""
        # Imported here, on the first read in enforce mode: Powertools Parameters costs about as
        # much cold start as the rest of our code, and report mode never reads the switch.
        from aws_lambda_powertools.utilities.parameters import GetParameterError, SSMProvider

        if self._provider is None:
            self._provider = SSMProvider(boto3_client=self._aws("ssm"))
        try:
            value = self._provider.get(name, max_age=self._max_age)
        except (GetParameterError, ClientError, BotoCoreError) as error:
            why = f"the kill switch {name} could not be read ({error}): fail safe"
            return Reading(True, why, unreadable=True)
        state = str(value).strip().lower()
        if state == OFF:
            return Reading(False)
        if state == ON:
            return Reading(True, f"the kill switch {name} is on")
        why = f"the kill switch {name} holds {str(value)[:40]!r}, not on/off: fail safe"
        return Reading(True, why, unreadable=True)


@dataclass(frozen=True)
class Status:
    """What `status` shows: the parameter's value and when it last changed."""

    parameter: str
    value: str
    engaged: bool
    last_modified: str


def pause(aws: Callable[[str], Any], name: str) -> Status:
    """Report only, in every function of the stack, within MAX_AGE seconds."""
    return _set(aws, name, ON)


def resume(aws: Callable[[str], Any], name: str) -> Status:
    """Back to the deployed Mode (which stays report if it was deployed as report)."""
    return _set(aws, name, OFF)


def status(aws: Callable[[str], Any], name: str) -> Status:
    """The parameter as the functions will read it (after at most MAX_AGE seconds)."""
    found = aws("ssm").get_parameter(Name=name)["Parameter"]
    value = str(found["Value"])
    modified = found.get("LastModifiedDate")
    when = modified.isoformat(timespec="seconds") if hasattr(modified, "isoformat") else ""
    return Status(name, value, value.strip().lower() != OFF, when)


def _set(aws: Callable[[str], Any], name: str, value: str) -> Status:
    """Overwrite an existing parameter only: a typo in the name must not create a new one that
    no function reads (and leave the real switch as it was)."""
    aws("ssm").get_parameter(Name=name)  # raises ParameterNotFound for a wrong name
    aws("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    return status(aws, name)
