"""AWS clients, created on first use and shared: never at import time (moto must start first)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode retries throttling and 5xx with backoff before we ever see the error.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20
)


class Clients:
    """A lazy cache of boto3 clients; tests and the demo inject a session or endpoint."""

    def __init__(
        self, session: boto3.Session | None = None, endpoint_url: str | None = None
    ) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._cache: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        client = self._cache.get(service)
        if client is None:
            if self._session is None:
                self._session = boto3.Session()  # one session: botocore loads its data once
            client = self._session.client(
                service,  # type: ignore[call-overload]
                config=_CONFIG,
                endpoint_url=self._endpoint_url,
            )
            self._cache[service] = client
        return client
