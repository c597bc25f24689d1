"""The Slack notifier end to end: a real outcome from the topic, the webhook secret read with
Powertools Parameters from (moto's) Secrets Manager, posted to a local Slack-compatible server;
the URL never in the logs; an undeliverable message raises (Lambda retries, then DLQ)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

import slack_notifier
from tests.unit.test_slack_notifier import local_slack
from tools.scenario import inbox, prepare


class Context:
    def __init__(self, millis: int = 30_000) -> None:
        self.millis = millis
        self.aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def sns_event(note: dict[str, Any]) -> dict[str, Any]:
    """What SNS hands to a subscribed function (one record)."""
    message = {"Type": "Notification", "Message": json.dumps(note["body"])}
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {**message, "Subject": note["subject"], "MessageAttributes": {}},
            }
        ]
    }


@pytest.fixture
def outcome(aws: Any, stack: Any, run: Any) -> dict[str, Any]:
    """The topic's message for a real IAM remediation (enforce mode)."""
    run(prepare(aws, "PutRolePolicy"), mode="enforce")
    [note] = inbox(aws, stack)
    assert note["body"]["status"] == "REMEDIATED"
    return note


@pytest.fixture
def webhook_secret(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Stores the URL it is given as the secret, as JSON, and points the handler at it."""
    monkeypatch.setattr(slack_notifier, "_notifier", None)  # a fresh cache per test
    # as a fresh Lambda starts: botocore's loggers at their defaults
    monkeypatch.setattr(logging.getLogger("botocore.parsers"), "level", logging.NOTSET)

    def store(url: str) -> str:
        arn = aws("secretsmanager").create_secret(
            Name="autoremediate/slack-webhook", SecretString=json.dumps({"url": url})
        )["ARN"]
        monkeypatch.setenv(slack_notifier.SECRET_ENV, arn)
        return str(arn)

    return store


def test_an_outcome_reaches_slack_and_the_url_is_never_logged(
    outcome: dict[str, Any], webhook_secret: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with local_slack() as (url, received):
        webhook_secret(url)
        with caplog.at_level(logging.DEBUG):
            result = slack_notifier.handler(sns_event(outcome), Context())
    assert result == {"delivered": 1}
    [posted] = [json.loads(body) for body in received]
    text = json.dumps(posted)
    body = outcome["body"]
    assert posted["blocks"][0]["text"]["text"].startswith(":white_check_mark: REMEDIATED")
    for needed in (body["resource_arn"], body["actor"]["arn"], body["undo"], body["outcome_id"]):
        assert needed in text
    assert "/services/T0/B0/t0k3n" not in caplog.text
    assert "t0k3n" not in caplog.text


def test_the_secret_is_read_once_and_cached(
    outcome: dict[str, Any], webhook_secret: Any, aws: Any
) -> None:
    with local_slack() as (url, received):
        arn = webhook_secret(url)
        slack_notifier.handler(sns_event(outcome), Context())
        # changed behind the cache: the cached URL serves the next message
        aws("secretsmanager").put_secret_value(SecretId=arn, SecretString="https://unused.example")
        slack_notifier.handler(sns_event(outcome), Context())
    assert len(received) == 2


def test_an_undeliverable_message_raises_for_the_dead_letter_queue(
    outcome: dict[str, Any], webhook_secret: Any, caplog: pytest.LogCaptureFixture
) -> None:
    statuses = [(429, "2")] * 10
    with local_slack(*statuses) as (url, received):
        webhook_secret(url)
        with (
            caplog.at_level(logging.DEBUG),
            pytest.raises(slack_notifier.DeliveryError, match="no time left") as raised,
        ):
            slack_notifier.handler(sns_event(outcome), Context(millis=8_000))
    assert 1 <= len(received) <= 2  # 8 s budget, 5 s margin: room for one wait of 2 s
    assert "t0k3n" not in str(raised.value) and "t0k3n" not in caplog.text


def test_a_secret_without_a_url_fails_loudly_without_its_value(
    outcome: dict[str, Any], webhook_secret: Any
) -> None:
    webhook_secret("not a url at all")
    with pytest.raises(slack_notifier.SlackConfigError) as raised:
        slack_notifier.handler(sns_event(outcome), Context())
    assert "not a url at all" not in str(raised.value)


def test_a_missing_secret_fails_loudly(
    outcome: dict[str, Any], monkeypatch: pytest.MonkeyPatch, aws: Any
) -> None:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    monkeypatch.setattr(slack_notifier, "_notifier", None)
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf"
    monkeypatch.setenv(slack_notifier.SECRET_ENV, arn)
    with pytest.raises(GetParameterError):
        slack_notifier.handler(sns_event(outcome), Context())
