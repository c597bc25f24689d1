"""Pause, resume and read the kill switch (core.kill_switch): what `autoremediate pause`,
`resume` and `status` (and people, with the AWS CLI lines in the README) use. They run with the
caller's credentials, not the functions' roles, and live here, not in core: no function imports
them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.kill_switch import OFF, ON


@dataclass(frozen=True)
class Status:
    """What `status` shows: the parameter's value and when it last changed."""

    parameter: str
    value: str
    engaged: bool
    last_modified: str


def pause(aws: Callable[[str], Any], name: str) -> Status:
    """Report only, in every function of the stack, within core.kill_switch.MAX_AGE seconds."""
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
