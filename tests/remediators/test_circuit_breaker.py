"""The circuit breaker in a moto account: a bucket whose encryption something keeps deleting.

Each round breaks the bucket again (as a pipeline's deploy would) and runs the real runner in
enforce mode at an injected time. After CircuitBreakerRemediations fixes within
CircuitBreakerMinutes the breaker opens: the bucket is left as it is, one HIGH conflict
notification names its owner, later events only report, and once the window passes we fix again.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from core.circuit_breaker import CircuitBreaker, key
from core.outcome import Outcome, Status
from core.runner import Runner
from core.settings import Settings
from s3_bucket_encryption import REMEDIATOR
from tools.scenario import inbox, load_event

BUCKET = "app-data-bucket"
ARN = f"arn:aws:s3:::{BUCKET}"
TERRAFORM = {"ManagedBy": "Terraform", "tf:workspace": "prod"}


@pytest.fixture(autouse=True)
def _s3_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_ENCRYPTION_LEVEL", "SSE-S3")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", "")


def bucket(aws: Any, tags: dict[str, str]) -> None:
    aws("s3").create_bucket(Bucket=BUCKET)
    tag_set = [{"Key": k, "Value": v} for k, v in tags.items()]
    aws("s3").put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": tag_set})


def encrypted(aws: Any) -> bool:
    try:
        aws("s3").get_bucket_encryption(Bucket=BUCKET)
    except ClientError:
        return False
    return True


def round_at(aws: Any, stack: Any, when: datetime, env: dict[str, str] | None = None) -> Outcome:
    """The pipeline deletes the encryption again; our function handles the event at `when`."""
    if encrypted(aws):
        aws("s3").delete_bucket_encryption(Bucket=BUCKET)
    settings = Settings.from_env({**stack.env("enforce"), **(env or {})})
    runner = Runner(REMEDIATOR, settings, aws, now=lambda: when, sleep=lambda _: None)
    [outcome] = runner.run(load_event("DeleteBucketEncryption", "s3_bucket_encryption"))
    return outcome


def test_trips_after_n_remediations_once_and_resets_after_the_window(
    aws: Any, stack: Any, fixed_now: datetime
) -> None:
    bucket(aws, TERRAFORM)
    minute = timedelta(minutes=1)
    fixes = [round_at(aws, stack, fixed_now + i * 10 * minute) for i in range(3)]
    assert [o.status for o in fixes] == [Status.REMEDIATED] * 3
    assert encrypted(aws)
    inbox(aws, stack)  # the three fixes' notices

    # The fourth time within 60 minutes: the breaker opens, the bucket stays as the pipeline
    # left it, and one conflict notice says who probably reverts us.
    held = [round_at(aws, stack, fixed_now + (25 + i) * minute) for i in range(3)]
    assert [o.status for o in held] == [Status.WOULD_REMEDIATE] * 3
    assert not encrypted(aws)
    notes = inbox(aws, stack)
    conflicts = [n for n in notes if n["body"].get("conflict")]
    assert len(notes) == 3 and len(conflicts) == 1
    [conflict] = conflicts
    assert conflict["subject"].startswith("[CONFLICT] s3_bucket_encryption:")
    body = conflict["body"]
    assert body["severity"] == "HIGH" and body["mode"] == "enforce"
    assert "remediated 3 times in the last 60 minutes" in body["reason"]
    assert "Terraform (workspace prod)" in body["reason"]
    # Report only until the oldest of the three fixes leaves the window (12:00 + 60 min).
    assert "until 2026-11-24T13:00:00" in body["reason"]
    assert body["managed_by"] == "Terraform (workspace prod)"
    assert all("said once" in n["body"]["reason"] for n in notes if n is not conflict)

    # 12:00's fix left the window at 13:00: one fix is admitted again, then it holds again.
    after = round_at(aws, stack, fixed_now + 61 * minute)
    assert after.status is Status.REMEDIATED and encrypted(aws)
    again = round_at(aws, stack, fixed_now + 62 * minute)
    assert again.status is Status.WOULD_REMEDIATE and not encrypted(aws)
    # Still the same fight, within an hour of the first notice: no second conflict notice.
    assert [n["body"].get("conflict") for n in inbox(aws, stack)] == [None, None]

    # Quiet for longer than the window: a new fight gets a new notice.
    late = fixed_now + 200 * minute
    assert [round_at(aws, stack, late + i * minute).status for i in range(4)] == [
        Status.REMEDIATED,
        Status.REMEDIATED,
        Status.REMEDIATED,
        Status.WOULD_REMEDIATE,
    ]
    assert [n["body"].get("conflict") for n in inbox(aws, stack)] == [None, None, None, True]


def test_parameters_set_the_limit_and_the_window(aws: Any, stack: Any, fixed_now: datetime) -> None:
    bucket(aws, {})
    env = {"CIRCUIT_BREAKER_REMEDIATIONS": "1", "CIRCUIT_BREAKER_MINUTES": "5"}
    assert round_at(aws, stack, fixed_now, env).status is Status.REMEDIATED
    held = round_at(aws, stack, fixed_now + timedelta(minutes=4), env)
    assert held.status is Status.WOULD_REMEDIATE and held.conflict
    assert "owner unknown" in held.reason and "in the last 5 minutes" in held.reason
    later = round_at(aws, stack, fixed_now + timedelta(minutes=5, seconds=1), env)
    assert later.status is Status.REMEDIATED


def test_report_mode_never_counts(aws: Any, stack: Any, fixed_now: datetime) -> None:
    bucket(aws, {})
    settings = Settings.from_env(stack.env("report"))
    event = load_event("DeleteBucketEncryption", "s3_bucket_encryption")
    for _ in range(5):
        Runner(REMEDIATOR, settings, aws, now=lambda: fixed_now).run(event)
    item = aws("dynamodb").get_item(TableName=stack.table, Key={"outcome_id": {"S": key(ARN)}})
    assert "Item" not in item


def test_the_count_is_a_keyed_item_outside_history(
    aws: Any, stack: Any, fixed_now: datetime
) -> None:
    bucket(aws, {})
    round_at(aws, stack, fixed_now)
    item = aws("dynamodb").get_item(TableName=stack.table, Key={"outcome_id": {"S": key(ARN)}})
    counter = item["Item"]
    assert [t["S"] for t in counter["times"]["L"]] == [fixed_now.isoformat(timespec="microseconds")]
    assert counter["version"] == {"N": "1"} and "day" not in counter
    day = aws("dynamodb").query(
        TableName=stack.table,
        IndexName="by-day",
        KeyConditionExpression="#d = :d",
        ExpressionAttributeNames={"#d": "day"},
        ExpressionAttributeValues={":d": {"S": fixed_now.date().isoformat()}},
    )
    assert [json.loads(i["record"]["S"])["status"] for i in day["Items"]] == ["REMEDIATED"]


class Racing:
    """Clients whose first UpdateItem finds that another event counted first (a concurrent
    invocation on the same resource wrote between our read and our write)."""

    def __init__(self, aws: Any, table: str, arn: str, when: datetime) -> None:
        self._aws, self._table, self._arn, self._when = aws, table, arn, when
        self.raced = False

    def __call__(self, service: str) -> Any:
        if service != "dynamodb" or self.raced:
            return self._aws(service)
        outer = self

        class Client:
            def get_item(self, **kwargs: Any) -> Any:
                return outer._aws("dynamodb").get_item(**kwargs)

            def update_item(self, **kwargs: Any) -> Any:
                outer.raced = True
                other = CircuitBreaker(outer._aws, outer._table, 3, 60)
                other.admit(outer._arn, outer._when)
                return outer._aws("dynamodb").update_item(**kwargs)

        return Client()


def test_concurrent_events_are_both_counted(aws: Any, stack: Any, fixed_now: datetime) -> None:
    racing = Racing(aws, stack.table, ARN, fixed_now)
    verdict = CircuitBreaker(racing, stack.table, 3, 60).admit(ARN, fixed_now)
    assert racing.raced and not verdict.open
    assert len(verdict.recent) == 2  # the other event's count, then ours on a fresh read
    item = aws("dynamodb").get_item(TableName=stack.table, Key={"outcome_id": {"S": key(ARN)}})
    assert len(item["Item"]["times"]["L"]) == 2 and item["Item"]["version"] == {"N": "2"}


def test_a_counter_that_cannot_be_written_changes_nothing(
    aws: Any, stack: Any, fixed_now: datetime
) -> None:
    bucket(aws, {})
    aws("dynamodb").delete_table(TableName=stack.table)
    outcome = round_at(aws, stack, fixed_now)
    assert outcome.status is Status.FAILED
    assert "circuit breaker; nothing was changed" in outcome.reason
    assert not encrypted(aws)
