"""`autoremediate history`: the ledger's outcomes, newest first, without a scan.

The ledger's `by-day` index (HASH `day` = the UTC date of `time`, RANGE `time`) is queried one
day at a time, from today back to `--since`; approvals carry no `day` and stay out of it.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from autoremediate_cli.context import Context

INDEX = "by-day"
_SPAN = re.compile(r"(\d+)([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
MAX_DAYS_BACK = 400


def since_spec(text: str) -> str:
    """argparse type of --since: `7d`, `12h`, `30m`, or a date (YYYY-MM-DD) or ISO time."""
    try:
        parse_since(text, datetime.now(UTC))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def parse_since(text: str, now: datetime) -> datetime:
    """The earliest time `text` asks for; ValueError when it says nothing we understand."""
    match = _SPAN.fullmatch(text.strip().lower())
    if match:
        start = now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    else:
        try:
            start = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(
                f"{text!r}: write 7d, 12h, 30m, or a date such as 2026-11-24"
            ) from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    if start > now:
        raise ValueError(f"{text!r} is in the future")
    if (now - start).days > MAX_DAYS_BACK:
        raise ValueError(f"{text!r}: history goes back at most {MAX_DAYS_BACK} days at once")
    return start.astimezone(UTC)


def history(
    ctx: Context,
    since: str = "7d",
    resource: str = "",
    statuses: Sequence[str] = (),
    remediators: Sequence[str] = (),
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The outcomes that match, newest first, at most `limit` (0: all)."""
    now = ctx.now()
    start = parse_since(since, now)
    wanted = {s.upper() for s in statuses}
    rows: list[dict[str, Any]] = []
    day = now.astimezone(UTC).date()
    while day >= start.date():
        for item in _day(ctx, day, start):
            row = _row(item)
            if wanted and row["status"] not in wanted:
                continue
            if remediators and row["remediator"] not in remediators:
                continue
            if resource and not _same_resource(row["resource_arn"], resource):
                continue
            rows.append(row)
            if limit and len(rows) >= limit:
                return rows
        day -= timedelta(days=1)
    return rows


def _day(ctx: Context, day: date, start: datetime) -> Iterator[dict[str, Any]]:
    """One day's entries from `start` on, newest first."""
    pages = (
        ctx.aws("dynamodb")
        .get_paginator("query")
        .paginate(
            TableName=ctx.table,
            IndexName=INDEX,
            KeyConditionExpression="#d = :d AND #t >= :s",
            ExpressionAttributeNames={"#d": "day", "#t": "time"},
            ExpressionAttributeValues={
                ":d": {"S": day.isoformat()},
                ":s": {"S": start.isoformat(timespec="seconds")},
            },
            ScanIndexForward=False,
        )
    )
    for page in pages:
        yield from page.get("Items", [])


def _row(item: dict[str, Any]) -> dict[str, Any]:
    """The index's attributes (status is the settled one), and who from the record."""
    try:
        record = json.loads(item.get("record", {}).get("S", "{}"))
    except ValueError:
        record = {}
    record = record if isinstance(record, dict) else {}
    actor = record.get("actor") if isinstance(record.get("actor"), dict) else {}
    return {
        "time": _s(item, "time"),
        "status": _s(item, "status"),
        "remediator": _s(item, "remediator"),
        "mode": _s(item, "mode"),
        "resource_arn": _s(item, "resource_arn"),
        "outcome_id": _s(item, "outcome_id"),
        "by": str((actor or {}).get("arn", "")),
        "reason": str(record.get("reason", "")),
        "undone_by": str(record.get("undone_by", "")),
    }


def _s(item: dict[str, Any], key: str) -> str:
    return str(item.get(key, {}).get("S", ""))


def _same_resource(arn: str, wanted: str) -> bool:
    """An ARN matches itself; anything else (role/app-deploy-role) is a part of the ARN."""
    return arn == wanted if wanted.startswith("arn:") else wanted in arn


COLUMNS = (
    ("time", "TIME"),
    ("status", "STATUS"),
    ("remediator", "REMEDIATOR"),
    ("outcome_id", "OUTCOME ID"),
    ("resource_arn", "RESOURCE"),
)
