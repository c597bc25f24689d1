"""Build a Lambda handler for a remediator: thin, with everything created on the first event."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.clients import Clients
from core.kill_switch import KillSwitch
from core.observability import logger
from core.remediator import Remediator
from core.runner import Runner, summarise
from core.settings import Settings

Handler = Callable[[Any, Any], list[Mapping[str, Any]]]


def lambda_handler(remediator: Remediator[Any], clients: Clients | None = None) -> Handler:
    """`handler = lambda_handler(MyRemediator())` in a remediator module.

    Clients are created on the first event and kept warm; settings are read from the environment
    on every event (a dictionary lookup), so that a changed MODE can never be served stale.
    """
    aws = clients or Clients()
    kill_switch = KillSwitch(aws)  # its cache (at most 60 s) outlives each event

    def handler(event: Any, context: Any) -> list[Mapping[str, Any]]:
        event_id = event.get("id") if isinstance(event, Mapping) else None
        logger.set_correlation_id(event_id)
        logger.append_keys(
            remediator=remediator.name, request_id=getattr(context, "aws_request_id", None)
        )
        runner = Runner(remediator, Settings.from_env(), aws, kill_switch=kill_switch)
        return summarise(runner.run(event))

    return handler
