"""Structured logs and outcome metrics (Powertools Logger and EMF metrics).

No Tracer: it imports the X-Ray SDK, which costs more at cold start than everything else we load
(see `make bench`). `Tracing: Active` in the template still traces each invocation.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "autoremediate"))


def count_outcome(remediator: str, status: str, mode: str) -> None:
    """One EMF metric per outcome, by remediator, status and mode (each its own dimension set)."""
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":
        return
    with single_metric(
        name="Outcomes",
        unit=MetricUnit.Count,
        value=1,
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Autoremediate"),
        default_dimensions={"remediator": remediator, "status": str(status), "mode": str(mode)},
    ):
        pass
