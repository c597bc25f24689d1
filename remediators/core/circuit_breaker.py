"""The circuit breaker: a resource we keep fixing is one that something keeps breaking.

When one resource was remediated `limit` times within `minutes`, a pipeline (CloudFormation,
Terraform, a script) is probably reverting us on every deploy: fighting it only churns. The
breaker opens, the runner only reports that resource until the window passes, and the first
event that finds it open says so once, loudly (a conflict notification).

The count lives in the ledger table as one counter item per resource, key `breaker#<arn>`: the
times of its recent remediations (a list, kept to the window) and a version for a conditional
update, so that two concurrent events cannot both slip under the limit. It is read and written
with GetItem and UpdateItem on the key only (no scan, no index), and only in enforce mode,
before anything is applied. The item has no `day`, so history (the by-day index) never shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

PREFIX = "breaker#"
_ATTEMPTS = 5  # conditional-update retries when concurrent events race on one resource


class BreakerError(RuntimeError):
    """The counter could not be updated after several attempts (constant contention)."""


@dataclass(frozen=True)
class Verdict:
    """`open`: report only; `first`: this event is the one that says so (the conflict notice);
    `recent`: the remediation times in the window; `until`: when the oldest leaves it."""

    open: bool
    first: bool = False
    recent: tuple[str, ...] = ()
    until: str = ""


def key(resource_arn: str) -> str:
    return PREFIX + resource_arn


class CircuitBreaker:
    def __init__(self, clients: Callable[[str], Any], table: str, limit: int, minutes: int) -> None:
        self._clients = clients
        self._table = table
        self._limit = limit
        self._window = timedelta(minutes=minutes)

    def admit(self, resource_arn: str, now: datetime) -> Verdict:
        """Count one more remediation of `resource_arn` now, unless the breaker is open."""
        for _ in range(_ATTEMPTS):
            item = self._read(resource_arn)
            start = now - self._window
            times = [_time(t) for t in item.get("times", {}).get("L", [])]
            recent = sorted(t for t in times if start < t <= now)
            stamps = tuple(_stamp(t) for t in recent)
            version = int(item.get("version", {}).get("N", "0"))
            if len(recent) >= self._limit:
                until = _stamp(recent[-self._limit] + self._window)
                return Verdict(True, self._trip(resource_arn, now, start), stamps, until)
            try:
                self._write(resource_arn, [*stamps, _stamp(now)], version, now)
            except ClientError as error:
                if _conditional_failed(error):
                    continue  # another event counted first: read again
                raise
            return Verdict(False, recent=(*stamps, _stamp(now)))
        raise BreakerError(f"the circuit-breaker count of {resource_arn} kept changing")

    def _read(self, resource_arn: str) -> dict[str, Any]:
        response = self._clients("dynamodb").get_item(
            TableName=self._table, Key={"outcome_id": {"S": key(resource_arn)}}, ConsistentRead=True
        )
        item: dict[str, Any] = response.get("Item") or {}
        return item

    def _write(self, resource_arn: str, stamps: list[str], version: int, now: datetime) -> None:
        self._clients("dynamodb").update_item(
            TableName=self._table,
            Key={"outcome_id": {"S": key(resource_arn)}},
            UpdateExpression=(
                "SET times = :times, version = :next, #s = :s, remediator = :r, #m = :m,"
                " resource_arn = :arn, updated_at = :now"
            ),
            ConditionExpression="attribute_not_exists(version) OR version = :version",
            ExpressionAttributeNames={"#s": "status", "#m": "mode"},
            ExpressionAttributeValues={
                ":times": {"L": [{"S": s} for s in stamps]},
                ":next": {"N": str(version + 1)},
                ":version": {"N": str(version)},
                ":s": {"S": "BREAKER"},
                ":r": {"S": "circuit_breaker"},
                ":m": {"S": "-"},
                ":arn": {"S": resource_arn},
                ":now": {"S": _stamp(now)},
            },
        )

    def _trip(self, resource_arn: str, now: datetime, start: datetime) -> bool:
        """Mark the trip; True for the one event that marks it first in this window."""
        try:
            self._clients("dynamodb").update_item(
                TableName=self._table,
                Key={"outcome_id": {"S": key(resource_arn)}},
                UpdateExpression="SET tripped_at = :now",
                ConditionExpression="attribute_not_exists(tripped_at) OR tripped_at <= :start",
                ExpressionAttributeValues={
                    ":now": {"S": _stamp(now)},
                    ":start": {"S": _stamp(start)},
                },
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False  # already said in this window
            raise
        return True


def notice(verdict: Verdict, owner: str, minutes: int) -> str:
    """The conflict notice: what we saw, who probably reverts us, and until when we hold off."""
    who = owner or "owner unknown: no CloudFormation or Terraform tags"
    return (
        f"conflict: remediated {len(verdict.recent)} times in the last {minutes} minutes, and"
        f" something keeps undoing it ({who}); circuit breaker open: report only on this resource"
        f" until {verdict.until}. Fix the source of the change"
    )


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _stamp(moment: datetime) -> str:
    """UTC ISO times with microseconds: they sort as strings, which the condition compares."""
    return moment.isoformat(timespec="microseconds")


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value.get("S") if isinstance(value, dict) else value))
