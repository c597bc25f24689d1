"""AWS errors on demand: moto does not enforce IAM, throttle, or deny."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class FailingAws:
    """Clients whose `operation` (on `service`) raises the AWS error `code`; all else is moto."""

    def __init__(self, aws: Any, operation: str, code: str, service: str = "iam"):
        self.aws, self.operation, self.code, self.service = aws, operation, code, service

    def __call__(self, service: str) -> Any:
        client = self.aws(service)
        if service != self.service:
            return client
        failing = self

        class Proxy:
            def __getattr__(self, name: str) -> Any:
                if name == failing.operation:

                    def fail(**_: Any) -> Any:
                        raise ClientError({"Error": {"Code": failing.code, "Message": "nope"}},
                                          name)  # fmt: skip

                    return fail
                return getattr(client, name)

        return Proxy()
