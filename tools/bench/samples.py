"""Each function's sample events as the bench uses them: the one that represents it, the fewest
API calls each needs and the status each must reach, so that every section measures a verified
outcome. The facts are data in events/<module>/samples.toml (tools/samples.py), none here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.bench.report import BenchError
from tools.routing import Function
from tools.samples import Sample, Samples, SamplesError, samples_of


def facts(fn: Function) -> Samples:
    """The function's samples.toml; a missing or wrong one breaks the bench, loudly."""
    try:
        return samples_of(fn.handler_module)
    except SamplesError as error:
        raise BenchError(f"{fn.logical_id}: {error}") from None


def representative_sample(fn: Function) -> str:
    """The event every section measures the function with: a real remediation (ledger write
    and SNS publish), or for a report-only function its WOULD_REMEDIATE."""
    return facts(fn).representative


def minimum(fn: Function, sample: str) -> Sample | None:
    """The fewest calls on the resource sample `sample` needs, why, and its status."""
    return facts(fn).samples.get(sample)


def expected_status(fn: Function, sample: str) -> str:
    """The status the sample must reach: REMEDIATED, or WOULD_REMEDIATE for report-only ones."""
    found = minimum(fn, sample)
    return found.status if found else "REMEDIATED"


def settings(fn: Function) -> Mapping[str, str]:
    """Where the bench departs from the template's parameter defaults, so that a fix happens."""
    return facts(fn).settings


def expect_status(outcomes: Any, status: str, fn: Function, sample: str) -> None:
    """A timing of the wrong outcome would be meaningless: break the bench instead."""
    if [o.get("status") for o in outcomes] != [status]:
        raise BenchError(f"{fn.logical_id} {sample}: {outcomes!r}, expected one {status}")
