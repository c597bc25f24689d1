"""Build a Lambda handler for a remediator: thin, with everything created on the first event."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.clients import Clients
from core.observability import logger
from core.remediator import Remediator
from core.runner import Runner, summarise
from core.settings import Settings

Handler = Callable[[Any, Any], list[Mapping[str, Any]]]


def lambda_handler(remediator: Remediator[Any]) -> Handler:
    """`handler = lambda_handler(MyRemediator())` in a remediator module."""
    runners: list[Runner] = []

    def handler(event: Any, context: Any) -> list[Mapping[str, Any]]:
        if not runners:
            runners.append(Runner(remediator, Settings.from_env(), Clients()))
        event_id = event.get("id") if isinstance(event, Mapping) else None
        logger.set_correlation_id(event_id)
        logger.append_keys(
            remediator=remediator.name, request_id=getattr(context, "aws_request_id", None)
        )
        return summarise(runners[0].run(event))

    return handler
