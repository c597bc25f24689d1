"""slack_notifier without AWS: Slack's answers (429, 5xx, 4xx), the time budget, the secret's
forms, and the webhook URL kept out of every error and log line."""

from __future__ import annotations

import email.message
import io
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from slack_notifier import (
    DeliveryError,
    Poster,
    SlackConfigError,
    SlackNotifier,
    messages,
    redact,
    webhook_url,
)

URL = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/s3cr3tT0k3nXXXXXXXXXXXXXX"
SECRET_PATH = "/services/T0AAAAAAA/B0BBBBBBB/s3cr3tT0k3nXXXXXXXXXXXXXX"
REPORT = json.dumps({"status": "REMEDIATED", "remediator": "s3_bucket_encryption"})


class Response:
    def __init__(self, status: int) -> None:
        self.status = status

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *args: object) -> None:
        return None


class FakeSlack:
    """An opener that answers from a script: an int status, or (status, Retry-After), or an
    exception; records each request and the time it came."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[float, str, dict[str, Any]]] = []
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def __call__(self, request: urllib.request.Request, timeout: float) -> Response:
        assert isinstance(request.data, bytes)
        self.requests.append((self.now, request.full_url, json.loads(request.data)))
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, BaseException):
            raise answer
        status, retry_after = answer if isinstance(answer, tuple) else (answer, None)
        if status < 300:
            return Response(status)
        headers = email.message.Message()
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        body = io.BytesIO(b"invalid_blocks" if status == 400 else b"no_service")
        raise urllib.error.HTTPError(request.full_url, status, "refused", headers, body)

    def poster(self) -> Poster:
        return Poster(opener=self, sleep=self.sleep, clock=self.clock)


class Secret:
    """Stands in for Powertools' SecretsProvider: counts reads, can rotate."""

    def __init__(self, *values: str) -> None:
        self.values = list(values)
        self.reads: list[bool] = []

    def get(self, name: str, max_age: int = 5, force_fetch: bool = False) -> str:
        self.reads.append(force_fetch)
        if force_fetch and len(self.values) > 1:
            self.values.pop(0)
        return self.values[0]


def notifier(slack: FakeSlack, secret: Secret | None = None) -> SlackNotifier:
    def no_clients(service: str) -> Any:
        raise AssertionError("the provider is injected")

    return SlackNotifier("arn:secret", no_clients, slack.poster(), secret or Secret(URL))


def test_a_message_is_posted_once() -> None:
    slack = FakeSlack(200)
    assert notifier(slack).deliver(REPORT, "subject", deadline=50) == 1
    [(_, url, payload)] = slack.requests
    assert url == URL and payload["blocks"][0]["type"] == "header"


def test_429_waits_as_long_as_retry_after_says() -> None:
    slack = FakeSlack((429, 7), (429, 3), 200)
    assert notifier(slack).deliver(REPORT, "", deadline=50) == 3
    assert [at for at, _, _ in slack.requests] == [0, 7, 10]


def test_429_beyond_the_time_budget_fails_instead_of_waiting() -> None:
    slack = FakeSlack((429, 30), 200)
    with pytest.raises(DeliveryError, match=r"rate limited \(429, Retry-After 30s\)") as raised:
        notifier(slack).deliver(REPORT, "", deadline=20)
    assert raised.value.status == 429
    assert len(slack.requests) == 1 and slack.now == 0  # no sleep it could not afford


def test_429_without_retry_after_waits_a_second() -> None:
    slack = FakeSlack(429, 200)
    notifier(slack).deliver(REPORT, "", deadline=50)
    assert [at for at, _, _ in slack.requests] == [0, 1]


def test_server_errors_are_retried_then_raised() -> None:
    slack = FakeSlack(500, 503, 502, 500, 200)
    with pytest.raises(DeliveryError, match=r"server error 500.*after 4 attempts"):
        notifier(slack).deliver(REPORT, "", deadline=50)
    assert [at for at, _, _ in slack.requests] == [0, 1, 3, 7]


def test_network_errors_are_retried_and_redacted() -> None:
    down = urllib.error.URLError(f"connection refused to {URL}")
    slack = FakeSlack(down, down, down, down)
    with pytest.raises(DeliveryError) as raised:
        notifier(slack).deliver(REPORT, "", deadline=50)
    assert "no answer" in str(raised.value) and "s3cr3t" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_refused_blocks_fall_back_to_text() -> None:
    slack = FakeSlack(400, 200)
    assert notifier(slack).deliver(REPORT, "", deadline=50) == 1
    assert set(slack.requests[1][2]) == {"text"}
    assert slack.requests[1][2]["text"].startswith("[REMEDIATED] s3_bucket_encryption")


def test_a_refusal_that_text_does_not_cure_raises() -> None:
    slack = FakeSlack(400, 400)
    with pytest.raises(DeliveryError, match="HTTP 400 invalid_blocks"):
        notifier(slack).deliver(REPORT, "", deadline=50)


def test_a_gone_webhook_rereads_the_secret_once() -> None:
    rotated = "https://hooks.slack.com/services/T0AAAAAAA/B0CCCCCCC/n3wT0k3n"
    secret = Secret(URL, rotated)
    slack = FakeSlack(404, 200)
    notifier(slack, secret).deliver(REPORT, "", deadline=50)
    assert [url for _, url, _ in slack.requests] == [URL, rotated]
    assert secret.reads == [False, True]


def test_a_gone_webhook_that_was_not_rotated_raises_without_the_url() -> None:
    slack = FakeSlack(404)
    with pytest.raises(DeliveryError) as raised:
        notifier(slack).deliver(REPORT, "", deadline=50)
    assert raised.value.status == 404
    assert "no_service" in str(raised.value)
    assert "s3cr3t" not in str(raised.value) and "hooks.slack.com" not in str(raised.value)


def test_retries_and_failures_never_log_the_url(caplog: pytest.LogCaptureFixture) -> None:
    slack = FakeSlack((429, 1), 500, urllib.error.URLError(URL), 404)
    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as raised:
        notifier(slack).deliver(REPORT, "", deadline=50)
    assert caplog.records, "the retries are logged"
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in str(raised.value)


@pytest.mark.parametrize(
    ("secret", "url"),
    [
        (URL, URL),
        (f"  {URL}\n", URL),
        (json.dumps({"url": URL}), URL),
        (URL.encode(), URL),
        ("http://chat.internal:8080/hooks/abc", "http://chat.internal:8080/hooks/abc"),
    ],
)
def test_the_secret_holds_the_url_plain_or_as_json(secret: str | bytes, url: str) -> None:
    assert webhook_url(secret) == url


@pytest.mark.parametrize(
    "secret",
    ["", "hooks.slack.com/x", "file:///etc/passwd", "{not json", '{"URL": "x"}', '["x"]'],
)
def test_a_secret_without_a_url_is_refused_without_its_value(secret: str) -> None:
    with pytest.raises(SlackConfigError) as raised:
        webhook_url(secret)
    assert not secret or secret not in str(raised.value)


def test_redact_hides_the_url_and_its_secret_path() -> None:
    assert redact(f"a {URL} b", URL) == "a <webhook URL> b"
    assert redact(f"GET {SECRET_PATH}", URL) == "GET <webhook URL>"
    assert redact("nothing", "") == "nothing"


def test_only_sns_events_are_taken() -> None:
    event = {"Records": [{"Sns": {"Message": "m", "Subject": None}}]}
    assert messages(event) == [("m", "")]
    bad: Any
    for bad in ({}, {"Records": []}, {"Records": [{"Sns": {}}]}, "x", None):
        with pytest.raises(ValueError, match="not an SNS"):
            messages(bad)


# ------------------------------------------------------- against a real HTTP server (local)


@contextmanager
def local_slack(*statuses: tuple[int, str]) -> Iterator[tuple[str, list[bytes]]]:
    """A webhook on 127.0.0.1 answering each POST with the next (status, Retry-After)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[bytes] = []
    script = list(statuses)

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            status, retry_after = script.pop(0) if script else (200, "")
            self.send_response(status)
            if retry_after:
                self.send_header("Retry-After", retry_after)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"rate_limited")

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/services/T0/B0/t0k3n", received
    finally:
        server.shutdown()
        server.server_close()


def test_a_real_429_with_retry_after_then_success() -> None:
    import time

    with local_slack((429, "1")) as (url, received):
        start = time.monotonic()
        attempts = Poster().post(url, {"text": "hi"}, deadline=time.monotonic() + 30)
        waited = time.monotonic() - start
    assert attempts == 2 and [json.loads(r) for r in received] == [{"text": "hi"}] * 2
    assert waited >= 1.0
