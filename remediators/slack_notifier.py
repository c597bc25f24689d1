"""Post each message of the notification topic to Slack through an incoming webhook.

Not a remediator: SNS invokes it (asynchronously) with one message; it renders it
(slack_message.py) and posts it to the URL held in the secret SLACK_WEBHOOK_SECRET_ARN, read with
Powertools Parameters and cached for 5 minutes. A message that cannot be delivered raises, so
that Lambda retries it and then puts it in the dead-letter queue: never dropped in silence.
Slack's 429 is honoured (Retry-After) while the invocation has time left.

The webhook URL is a credential (whoever holds it posts in the channel): it never appears in a
log line, an exception message or a return value.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.clients import Clients
from core.observability import logger
from slack_message import render

SECRET_ENV = "SLACK_WEBHOOK_SECRET_ARN"
SECRET_MAX_AGE = 300  # seconds: a rotated URL is picked up within 5 minutes (or on a 403/404)
SAFETY_MARGIN = 5.0  # seconds left for Lambda to record the failure
REQUEST_TIMEOUT = 10.0
MAX_RETRY_AFTER = 60.0  # a longer wait is left to Lambda's own retry
SERVER_ERROR_BACKOFF = (1.0, 2.0, 4.0)
REDACTED = "<webhook URL>"

Opener = Callable[[urllib.request.Request, float], Any]
"""urllib.request.urlopen(request, timeout): returns a response with .status, raises HTTPError."""


class SlackConfigError(ValueError):
    """The secret does not hold a usable webhook URL (its value is never in the message)."""


class DeliveryError(RuntimeError):
    """Slack did not take the message: Lambda retries the event, then dead-letters it."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status
        """The last HTTP status (0: no answer)."""


def webhook_url(secret: str | bytes) -> str:
    """The URL of a secret holding it as plain text or as JSON {"url": "..."}."""
    text = secret.decode() if isinstance(secret, bytes) else str(secret)
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise SlackConfigError("the secret is neither a URL nor JSON {'url': ...}") from None
        text = str(data.get("url") or "").strip() if isinstance(data, Mapping) else ""
    parts = urlsplit(text)
    # http for a Slack-compatible server on a private network; never file:, ftp: & co.
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise SlackConfigError("the secret holds no http(s) URL (plain text or {'url': ...})")
    return text


def redact(text: str, url: str) -> str:
    """`text` without the URL, nor its path (the secret part of a Slack webhook URL)."""
    if not url:
        return text
    path = urlsplit(url).path
    text = text.replace(url, REDACTED)
    return text.replace(path, REDACTED) if len(path) > 1 else text


def urlopen(request: urllib.request.Request, timeout: float) -> Any:
    """urllib's own (its second positional parameter is the body, not the timeout)."""
    return urllib.request.urlopen(request, timeout=timeout)


@dataclass
class Poster:
    """POST a JSON payload, honouring 429 Retry-After and retrying 5xx until `deadline`."""

    opener: Opener = urlopen
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def post(self, url: str, payload: Mapping[str, Any], deadline: float) -> int:
        """Deliver once; returns the number of attempts. Raises DeliveryError (redacted)."""
        body = json.dumps(payload).encode()
        attempts = 0
        backoff = iter(SERVER_ERROR_BACKOFF)
        while True:
            attempts += 1
            status, retry_after, detail = self._attempt(url, body, deadline)
            if 200 <= status < 300:
                return attempts
            if status == 429:
                wait = retry_after if retry_after is not None else 1.0
                what = f"rate limited (429, Retry-After {wait:g}s)"
            elif status >= 500 or status == 0:
                wait = next(backoff, -1.0)
                what = f"server error {status}: {detail}" if status else f"no answer: {detail}"
                if wait < 0:
                    message = f"Slack webhook {what} after {attempts} attempts"
                    raise DeliveryError(message, status)
            else:
                message = f"Slack webhook refused the message: HTTP {status} {detail}"
                raise DeliveryError(message, status)
            if wait > MAX_RETRY_AFTER or self.clock() + wait > deadline:
                message = f"Slack webhook {what}: no time left to retry after {attempts} attempts"
                raise DeliveryError(message, status)
            logger.warning("slack webhook retry", extra={"reason": what, "wait": wait})
            self.sleep(wait)

    def _attempt(self, url: str, body: bytes, deadline: float) -> tuple[int, float | None, str]:
        """(HTTP status, Retry-After seconds, short detail); status 0: no HTTP answer."""
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        timeout = max(1.0, min(REQUEST_TIMEOUT, deadline - self.clock()))
        try:
            with self.opener(request, timeout) as response:
                return int(response.status), None, ""
        except urllib.error.HTTPError as error:
            detail = _read_detail(error)
            return int(error.code), _retry_after(error.headers), redact(detail, url)
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            return 0, None, redact(f"{type(error).__name__}: {reason}", url)


def _read_detail(error: urllib.error.HTTPError) -> str:
    """Slack's error string (invalid_blocks, no_service...), short."""
    try:
        return error.read(200).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def quiet_response_bodies() -> None:
    """botocore logs every response body at DEBUG, GetSecretValue's SecretString included: keep
    that logger at INFO whatever the root level (a DEBUG LogLevel must not leak the URL)."""
    parsers = logging.getLogger("botocore.parsers")
    parsers.setLevel(max(parsers.getEffectiveLevel(), logging.INFO))


class SlackNotifier:
    """Renders and delivers; the secret is read lazily (Powertools Parameters, cached)."""

    def __init__(
        self,
        secret_arn: str,
        clients: Callable[[str], Any],
        poster: Poster | None = None,
        provider: Any = None,
    ) -> None:
        self._secret_arn = secret_arn
        self._clients = clients
        self._poster = poster or Poster()
        self._provider = provider

    def _url(self, fresh: bool = False) -> str:
        if self._provider is None:
            quiet_response_bodies()
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider(boto3_client=self._clients("secretsmanager"))
        value = self._provider.get(self._secret_arn, max_age=SECRET_MAX_AGE, force_fetch=fresh)
        return webhook_url(value)

    def deliver(self, message: str, subject: str, deadline: float) -> int:
        """Post one SNS message; a 403/404 re-reads the secret once (a rotated URL)."""
        payload = render(message, subject)
        url = self._url()
        try:
            return self._post(url, payload, deadline)
        except DeliveryError as error:
            refused = error.status in (403, 404, 410)  # Slack: invalid_token, no_service...
            fresh = self._url(fresh=True) if refused else url
            if fresh == url:
                if error.status == 400 and payload.get("blocks"):
                    # Blocks Slack will not take must not cost the team the message itself.
                    logger.warning("slack refused the blocks; sending text only")
                    return self._post(url, {"text": str(payload.get("text"))}, deadline)
                raise
            return self._post(fresh, payload, deadline)

    def _post(self, url: str, payload: Mapping[str, Any], deadline: float) -> int:
        try:
            return self._poster.post(url, payload, deadline)
        except DeliveryError as error:
            raise DeliveryError(redact(str(error), url), error.status) from None


def messages(event: Any) -> list[tuple[str, str]]:
    """(message, subject) of each SNS record; anything else is refused loudly."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        raise ValueError("not an SNS event: no Records")
    found = []
    for record in records:
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        if not isinstance(sns, Mapping) or not isinstance(sns.get("Message"), str):
            raise ValueError("not an SNS record: no Sns.Message")
        found.append((sns["Message"], str(sns.get("Subject") or "")))
    return found


_notifier: SlackNotifier | None = None


def handler(event: Any, context: Any) -> dict[str, Any]:
    """SNS -> Slack. Raises when any message is not delivered (Lambda retries, then DLQ)."""
    global _notifier
    if _notifier is None:
        _notifier = SlackNotifier(os.environ[SECRET_ENV], Clients())
    remaining = getattr(context, "get_remaining_time_in_millis", lambda: 60_000)() / 1000
    deadline = time.monotonic() + remaining - SAFETY_MARGIN
    delivered = 0
    for message, subject in messages(event):
        attempts = _notifier.deliver(message, subject, deadline)
        delivered += 1
        logger.info("posted to slack", extra={"subject": subject, "attempts": attempts})
    return {"delivered": delivered}
