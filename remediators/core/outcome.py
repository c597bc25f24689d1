"""What a remediator plans, what the runner did, and how to undo it: plain, serialisable values.

Immutable NamedTuples, as in core.declaration: a frozen dataclass costs about 0.6 ms of cold
start each to create, a NamedTuple about 0.08. Change one with `_replace`.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple

from botocore import xform_name


class Status(StrEnum):
    """The outcome statuses other tools rely on (DESIGN.md, contract)."""

    COMPLIANT = "COMPLIANT"
    WOULD_REMEDIATE = "WOULD_REMEDIATE"
    REMEDIATED = "REMEDIATED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    EXEMPT = "EXEMPT"


class Mode(StrEnum):
    REPORT = "report"
    ENFORCE = "enforce"


class Call(NamedTuple):
    """One AWS API call, by boto3 method name; data so that it can be ledgered and replayed."""

    service: str
    operation: str
    params: Mapping[str, Any] = {}  # never mutated
    iam_action: str = ""
    """Only where IAM names the permission differently from the API operation
    (s3 put_bucket_encryption needs s3:PutEncryptionConfiguration)."""

    @property
    def action(self) -> str:
        """The IAM action this call needs, e.g. ``iam:PutRolePolicy``."""
        if self.iam_action:
            return self.iam_action
        return f"{self.service}:{''.join(p.title() for p in self.operation.split('_'))}"

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "operation": self.operation, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Call:
        return cls(str(data["service"]), str(data["operation"]), dict(data.get("params", {})))

    def cli(self) -> str:
        """The same call as an AWS CLI command line (shell-quoted), for people reading a notice."""
        args = []
        for key, value in self.params.items():
            if isinstance(value, bool):
                args.append(f"--{'' if value else 'no-'}{_kebab(key)}")
            else:
                text = value if isinstance(value, str) else json.dumps(value)
                args.append(f"--{_kebab(key)} {shlex.quote(text)}")
        command = "s3api" if self.service == "s3" else self.service
        return " ".join(["aws", command, self.operation.replace("_", "-"), *args])


def _kebab(name: str) -> str:
    """SSESpecification -> sse-specification, as the AWS CLI names its options."""
    return xform_name(name, "-")


class Change(NamedTuple):
    """One write a remediator wants: the state before and after, the call, and its inverse."""

    summary: str
    resource: str
    before: Any
    after: Any
    call: Call | None
    """None when we cannot make this change (e.g. encrypting an RDS instance in place): the
    outcome then stays WOULD_REMEDIATE in every mode, and `summary` says the manual steps."""
    undo: tuple[Call, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "resource": self.resource,
            "before": self.before,
            "after": self.after,
            "call": self.call.to_dict() if self.call else None,
            "manual": self.call is None,
            "undo": [c.to_dict() for c in self.undo],
            "undo_cli": [c.cli() for c in self.undo],
        }


class Outcome(NamedTuple):
    """The result of looking at one resource for one event."""

    status: Status
    remediator: str
    resource_arn: str
    reason: str = ""
    changes: tuple[Change, ...] = ()
    error_code: str = ""
    transient: bool = False
    outcome_id: str = ""
    """Set once a ledger entry exists for this outcome (enforce mode writes it before changing)."""
    quiet: bool = False
    """Quiet outcomes (compliant, our own echo, failed calls) are logged but neither ledgered
    nor published: principle 5, be quiet when all is well."""
    severity: str = ""
    """Set to override the remediator's severity (a change made with our own role: HIGH)."""
    managed_by: str = ""
    """Who manages the resource as code, from its tags (core.owner): where the fix belongs."""
    conflict: bool = False
    """The one notice that the circuit breaker opened on this resource (core.circuit_breaker)."""
