"""Publish outcomes to the SNS topic: a readable subject, a JSON body, filterable attributes."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

_SUBJECT_LIMIT = 99  # SNS wants subjects of fewer than 100 characters


class Notifier:
    def __init__(
        self, clients: Callable[[str], Any], topic_arn: str, omit_documents: bool = False
    ) -> None:
        self._clients = clients
        self._topic_arn = topic_arn
        self._omit_documents = omit_documents

    def publish(self, report: Mapping[str, Any]) -> str:
        """Publish one report; returns the SNS message id."""
        if self._omit_documents:
            report = without_documents(report)
        attributes = {
            name: {"DataType": "String", "StringValue": str(report[name])}
            for name in ("remediator", "status", "mode", "severity")
        }
        response = self._clients("sns").publish(
            TopicArn=self._topic_arn,
            Subject=subject(report),
            Message=json.dumps(report, indent=2, default=str),
            MessageAttributes=attributes,
        )
        return str(response["MessageId"])


def without_documents(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report with each change's documents left out (before, after, call parameters): who
    reads the topic learns what changed and where, not what the policies say."""
    where = f"omitted: in the ledger, outcome {report.get('outcome_id') or '(none)'}"
    changes = [
        {
            "summary": change.get("summary"),
            "resource": change.get("resource"),
            "manual": change.get("manual"),
            "before": where,
            "after": where,
            "call": _operation(change.get("call")),
            "undo": [_operation(call) for call in change.get("undo") or []],
        }
        for change in report.get("changes") or []
    ]
    return {**report, "changes": changes}


def _operation(call: Any) -> Any:
    if not isinstance(call, Mapping):
        return call
    return {"service": call.get("service"), "operation": call.get("operation")}


def subject(report: Mapping[str, Any]) -> str:
    """E.g. '[REMEDIATED] iam_policy_least_privilege: role/app-deploy-role (by alice)'."""
    resource = str(report.get("resource_arn") or "unknown resource").split(":", 5)[-1]
    actor = str((report.get("actor") or {}).get("arn", "")).rsplit("/", 1)[-1]
    label = "CONFLICT" if report.get("conflict") else report["status"]  # circuit breaker
    text = f"[{label}] {report['remediator']}: {resource}"
    if actor:
        text += f" (by {actor})"
    # SNS subjects must be printable ASCII without line breaks.
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return text if len(text) <= _SUBJECT_LIMIT else text[: _SUBJECT_LIMIT - 3] + "..."
