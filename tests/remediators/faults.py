"""AWS errors on demand: moto does not enforce IAM, throttle, or deny."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tests.remediators.stubs import ReplacedAws


class FailingAws(ReplacedAws):
    """Clients whose `operation` (on `service`) raises the AWS error `code`; all else is moto."""

    def __init__(self, aws: Any, operation: str, code: str, service: str = "iam"):
        super().__init__(aws, service, (operation,))
        self.operation, self.code = operation, code

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        raise ClientError({"Error": {"Code": self.code, "Message": "nope"}}, operation)
