"""The ledger: every non-compliant outcome, with the full before/after of every change.

The record is written *before* any change is made, so that nothing is ever lost even if the
function dies half-way; it is settled (final status) afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any


class LedgerError(RuntimeError):
    """The ledger could not be written or read; no change may be made without a record."""


class Ledger:
    def __init__(self, clients: Callable[[str], Any], table: str) -> None:
        self._clients = clients
        self._table = table

    def record(self, report: Mapping[str, Any]) -> None:
        """Write a new entry; refuses to overwrite an existing outcome id."""
        self._clients("dynamodb").put_item(
            TableName=self._table,
            Item=_item(report),
            ConditionExpression="attribute_not_exists(outcome_id)",
        )

    def settle(self, report: Mapping[str, Any]) -> None:
        """Replace an entry's status and body once the changes are made (or failed)."""
        item = _item(report)
        self._clients("dynamodb").update_item(
            TableName=self._table,
            Key={"outcome_id": item["outcome_id"]},
            UpdateExpression="SET #s = :s, #r = :r, updated_at = :t",
            ExpressionAttributeNames={"#s": "status", "#r": "record"},
            ExpressionAttributeValues={
                ":s": item["status"],
                ":r": item["record"],
                ":t": item["time"],
            },
        )

    def get(self, outcome_id: str) -> dict[str, Any]:
        """The report stored for an outcome id."""
        response = self._clients("dynamodb").get_item(
            TableName=self._table, Key={"outcome_id": {"S": outcome_id}}, ConsistentRead=True
        )
        if "Item" not in response:
            raise LedgerError(f"no ledger entry with outcome id {outcome_id}")
        report: dict[str, Any] = json.loads(response["Item"]["record"]["S"])
        if report.get("outcome_id") != outcome_id:  # a settle would then write another entry
            raise LedgerError(
                f"ledger entry {outcome_id} holds the record of {report.get('outcome_id')!r}"
            )
        return report

    def approval(self, key: str) -> dict[str, Any] | None:
        """The exemption approval stored under `key` (core.exemptions.approval_key), if any."""
        response = self._clients("dynamodb").get_item(
            TableName=self._table, Key={"outcome_id": {"S": key}}, ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        approval: dict[str, Any] = json.loads(item["record"]["S"])
        return approval

    def put_approval(self, key: str, approval: Mapping[str, Any]) -> None:
        """Write (or replace) the approval of a resource's exemption tag; a revocation is an
        approval with no value, so that the ledger says who revoked it."""
        self._clients("dynamodb").put_item(
            TableName=self._table,
            Item={
                "outcome_id": {"S": key},
                "status": {"S": "APPROVAL" if approval.get("value") is not None else "REVOKED"},
                "remediator": {"S": "exemption_tag_approval"},
                "mode": {"S": "-"},
                "resource_arn": {"S": str(approval.get("resource_arn") or "-")},
                "time": {"S": str(approval.get("time") or "-")},
                "record": {"S": json.dumps(approval, sort_keys=True)},
            },
        )


def _item(report: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Index fields as attributes; the whole report as one JSON string (byte-exact documents)."""
    return {
        "outcome_id": {"S": str(report["outcome_id"])},
        "status": {"S": str(report["status"])},
        "remediator": {"S": str(report["remediator"])},
        "mode": {"S": str(report["mode"])},
        "resource_arn": {"S": str(report["resource_arn"]) or "-"},
        "time": {"S": str(report["time"])},
        "day": {"S": str(report["time"])[:10]},  # the by-day index: history without a scan
        "record": {"S": json.dumps(report, sort_keys=False, default=str)},
    }
