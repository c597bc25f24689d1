"""Clients with some operations answered by the test instead of moto: moto lacks or ignores a
call, or the test wants AWS to fail it (tests/remediators/faults.py)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

import boto3
from botocore.stub import Stubber

from tools.scenario import REGION


class ReplacedAws:
    """`aws` as the runner sees it, save `service`'s `operations`: those go to
    `self.answer(operation, params)`, which a subclass writes; every other call is moto's."""

    def __init__(self, aws: Any, service: str, operations: Collection[str]) -> None:
        self.aws, self.service, self.operations = aws, service, operations

    def __call__(self, service: str) -> Any:
        client = self.aws(service)
        if service != self.service:
            return client
        outer = self

        class Proxy:
            def __getattr__(self, name: str) -> Any:
                if name in outer.operations:
                    return lambda **params: outer.answer(name, params)
                return getattr(client, name)

        return Proxy()

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        raise NotImplementedError


class StubbedAws(ReplacedAws):
    """For calls moto lacks or ignores: `answer` emulates the change in moto's backend, then
    `reply`s through a botocore Stubber, which validates the request against the service's
    model as AWS would."""

    SERVICE: ClassVar[str]
    OPERATIONS: ClassVar[tuple[str, ...]]

    def __init__(self, aws: Any) -> None:
        super().__init__(aws, self.SERVICE, self.OPERATIONS)
        self.client = boto3.client(self.SERVICE, region_name=REGION)  # type: ignore[call-overload]
        self.stubber = Stubber(self.client)
        self.stubber.activate()

    def reply(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> Any:
        """`response`, once the Stubber has checked `params` against the service's model."""
        self.stubber.add_response(operation, response, params)
        answered = getattr(self.client, operation)(**params)
        self.stubber.assert_no_pending_responses()
        return answered
