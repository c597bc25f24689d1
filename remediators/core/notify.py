"""Publish outcomes to the SNS topic: a readable subject, a JSON body, filterable attributes."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

_SUBJECT_LIMIT = 99  # SNS wants subjects of fewer than 100 characters


class Notifier:
    def __init__(self, clients: Callable[[str], Any], topic_arn: str) -> None:
        self._clients = clients
        self._topic_arn = topic_arn

    def publish(self, report: Mapping[str, Any]) -> str:
        """Publish one report; returns the SNS message id."""
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


def subject(report: Mapping[str, Any]) -> str:
    """E.g. '[REMEDIATED] iam_policy_least_privilege: role/app-deploy-role (by alice)'."""
    resource = str(report.get("resource_arn") or "unknown resource").split(":", 5)[-1]
    actor = str((report.get("actor") or {}).get("arn", "")).rsplit("/", 1)[-1]
    text = f"[{report['status']}] {report['remediator']}: {resource}"
    if actor:
        text += f" (by {actor})"
    # SNS subjects must be printable ASCII without line breaks.
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
    return text if len(text) <= _SUBJECT_LIMIT else text[: _SUBJECT_LIMIT - 3] + "..."
