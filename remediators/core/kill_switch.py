"""The kill switch: one SSM parameter per stack that turns enforce mode into report mode at once.

`on` means report only, `off` (the template's default) means the deployed Mode holds. The
functions read it with Powertools Parameters, cached for at most MAX_AGE seconds, so pausing
takes effect within a minute and without a deploy. It only ever downgrades: the runner asks it
nothing in report mode, and report-mode roles hold no write permission anyway. A parameter that
cannot be read (or holds anything but on/off) counts as `on`: fail safe, never fail open.

`pause`, `resume` and `status` (autoremediate_cli.kill_switch) are what the `autoremediate`
command uses; no function imports them, so that they stay out of the Lambda artifact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

ENV = "KILL_SWITCH_PARAMETER"
ON = "on"
OFF = "off"
MAX_AGE = 60
"""Seconds a value read is trusted: the longest a pause waits to take effect."""


class Reading(NamedTuple):
    """What the functions make of the parameter: `engaged` means report only; `why` says it.
    A NamedTuple: cheaper at cold start than a frozen dataclass (see core.outcome)."""

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
