"""Watch what a remediator calls, through botocore's `before-call` events on the clients that
`aws(service)` gives (the same clients the runner gets): the hooks look, moto still answers."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


@contextmanager
def api_calls(
    aws: Any, *services: str, names: Mapping[str, str] | None = None
) -> Iterator[list[str]]:
    """Every call made on these services' clients inside the block, as `service:Operation`,
    which is the IAM action save where `names` maps it to another one."""
    seen: list[str] = []

    def record(event_name: str, **_: Any) -> None:
        _prefix, service, operation = event_name.split(".")
        action = f"{service}:{operation}"
        seen.append((names or {}).get(action, action))

    for service in services:
        aws(service).meta.events.register(f"before-call.{service}", record)
    try:
        yield seen
    finally:
        for service in services:
            aws(service).meta.events.unregister(f"before-call.{service}", record)


def ledger_records(aws: Any, table: str) -> list[dict[str, Any]]:
    """Every record in the ledger table as it stands now."""
    items = aws("dynamodb").scan(TableName=table)["Items"]
    # Circuit-breaker counters (key breaker#<arn>) hold times, not a record.
    return [json.loads(item["record"]["S"]) for item in items if "record" in item]


@contextmanager
def ledger_before(aws: Any, table: str, service: str, operation: str) -> Iterator[list[Any]]:
    """The ledger's records as they stand each time `service`'s `operation` (the API name, as
    "PutRolePolicy") is about to be sent inside the block, added up in call order."""
    seen: list[dict[str, Any]] = []

    def look_at_ledger(**_: Any) -> None:
        seen.extend(ledger_records(aws, table))

    event_name = f"before-call.{service}.{operation}"
    aws(service).meta.events.register(event_name, look_at_ledger)
    try:
        yield seen
    finally:
        aws(service).meta.events.unregister(event_name, look_at_ledger)
