"""The throttling baseline of API Gateway stages and usage plans: read it, and hold values to it.

Shared by apigateway_stage_throttling and apigateway_usage_plan_throttling, so that both read
the same variables the same way and apply one rule: at or below the baseline, a lower value
stays, a negative one (-1: no throttling) counts as above it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from core.settings import SettingsError, required_env


class Baseline(NamedTuple):
    rate: float
    burst: int


def baseline() -> Baseline:
    """The baseline the template sets; SettingsError (FAILED, configuration error) otherwise."""
    rate, burst = required_env("THROTTLING_RATE_LIMIT"), required_env("THROTTLING_BURST_LIMIT")
    try:
        limits = Baseline(float(rate), int(burst))
    except ValueError:
        limits = Baseline(math.nan, 0)
    if not (math.isfinite(limits.rate) and limits.rate > 0 and limits.burst >= 0):
        raise SettingsError(
            "THROTTLING_RATE_LIMIT must be a positive number and THROTTLING_BURST_LIMIT a whole"
            f" number, 0 or more (requests per second, burst), not {rate!r} and {burst!r}"
        )
    return limits


def lowered(
    values: Mapping[str, Any], fields: tuple[str, str], limits: Baseline, missing: bool
) -> dict[str, Any]:
    """`values` with its rate and burst `fields` at most the baseline: a value above it, or
    negative (-1: no throttling), is lowered; a missing one is set only when `missing`."""
    out = dict(values)
    for field, limit in zip(fields, limits, strict=True):
        value = values.get(field)
        if value is None:
            if missing:
                out[field] = limit
        elif not isinstance(value, int | float) or value < 0 or value > limit:
            out[field] = limit
    return out


def text(value: float | int) -> str:
    """A limit as a patch operation's value: 1000.0 as "1000" (API Gateway parses either; moto
    reads usage-plan rates as integers), 0.5 as "0.5"."""
    return str(int(value)) if float(value).is_integer() else str(value)
