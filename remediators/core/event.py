"""Normalise the two event forms (CloudTrail via EventBridge, AWS Config) into one `Trigger`.

The event only says which resource to look at and who did what; state is always re-read live.

The EventBridge envelope is read as the plain dict Lambda hands over, not through Powertools'
`EventBridgeEvent`: that data class imports the whole `data_classes` package (every event source),
15-20 ms of cold start on its own and about 9 ms on top of the Logger and metrics we import anyway
(`make bench`, section 5), for the 6 dict lookups in `parse`.

`Actor` and `Trigger` are immutable NamedTuples, as in core.declaration: a frozen dataclass costs
about 0.6 ms of cold start each to create, a NamedTuple about 0.08.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

CLOUDTRAIL = "AWS API Call via CloudTrail"
CONFIG = "Config Configuration Item Change"


class EventError(ValueError):
    """The event is not one we understand; it changes nothing and is reported as SKIPPED."""


class Actor(NamedTuple):
    """Who made the call, as CloudTrail's userIdentity tells it."""

    arn: str
    type: str
    account: str
    principal_id: str
    session_issuer_arn: str
    invoked_by: str
    source_ip: str
    user_agent: str

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Actor:
        identity = _mapping(record.get("userIdentity"))
        issuer = _mapping(_mapping(identity.get("sessionContext")).get("sessionIssuer"))
        return cls(
            arn=str(identity.get("arn") or identity.get("invokedBy") or ""),
            type=str(identity.get("type") or ""),
            account=str(identity.get("accountId") or ""),
            principal_id=str(identity.get("principalId") or ""),
            session_issuer_arn=str(issuer.get("arn") or ""),
            invoked_by=str(identity.get("invokedBy") or ""),
            source_ip=str(record.get("sourceIPAddress") or ""),
            user_agent=str(record.get("userAgent") or ""),
        )

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in self._asdict().items() if v}


class Trigger(NamedTuple):
    """One event, either form. `detail` keeps the raw record for the remediator to read ids from."""

    kind: str  # "cloudtrail" or "config"
    event_id: str
    event_name: str
    event_time: str
    account: str
    region: str
    detail: Mapping[str, Any]
    actor: Actor | None = None
    error_code: str = ""

    @property
    def request(self) -> Mapping[str, Any]:
        """CloudTrail requestParameters (empty for Config)."""
        value = self.detail.get("requestParameters") if self.kind == "cloudtrail" else None
        return value if isinstance(value, Mapping) else {}

    @property
    def response(self) -> Mapping[str, Any]:
        value = self.detail.get("responseElements") if self.kind == "cloudtrail" else None
        return value if isinstance(value, Mapping) else {}

    @property
    def item(self) -> Mapping[str, Any]:
        """The AWS Config configuration item (empty for CloudTrail)."""
        value = self.detail.get("configurationItem") if self.kind == "config" else None
        return value if isinstance(value, Mapping) else {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.kind,
            "event_id": self.event_id,
            "event_name": self.event_name,
            "event_time": self.event_time,
            "account": self.account,
            "region": self.region,
        }


def parse(event: Any) -> Trigger:
    """Read an EventBridge envelope; raise `EventError` with a reason for anything else."""
    if not isinstance(event, Mapping):
        raise EventError(f"event is a {type(event).__name__}, not an EventBridge envelope")
    try:
        # Read in this order: the first key missing is the one the error names.
        detail_type = event["detail-type"]
        detail = event["detail"]
        event_id = event["id"]
        account = event["account"]
        region = event["region"]
        time = event["time"]
    except KeyError as missing:  # str(KeyError("id")) is "'id'"
        raise EventError(f"EventBridge envelope lacks {missing}") from None
    if not isinstance(detail, Mapping):
        raise EventError("EventBridge envelope has no detail object")
    if detail_type == CLOUDTRAIL:
        return Trigger(
            kind="cloudtrail",
            event_id=str(detail.get("eventID") or event_id),
            event_name=required(detail, "eventName"),
            event_time=str(detail.get("eventTime") or time),
            account=str(detail.get("recipientAccountId") or account),
            region=str(detail.get("awsRegion") or region),
            detail=detail,
            actor=Actor.from_record(detail),
            error_code=str(detail.get("errorCode") or ""),
        )
    if detail_type == CONFIG:
        item = detail.get("configurationItem")
        if not isinstance(item, Mapping):
            raise EventError("Config event has no configurationItem object")
        return Trigger(
            kind="config",
            event_id=str(event_id),
            event_name=str(item.get("configurationItemStatus") or detail.get("messageType") or ""),
            event_time=str(item.get("configurationItemCaptureTime") or time),
            account=str(item.get("awsAccountId") or account),
            region=str(region),
            detail=detail,
        )
    raise EventError(f"unsupported detail-type {detail_type!r}")


def _mapping(value: Any) -> Mapping[str, Any]:
    """Real records carry odd values (null, strings) where objects are expected."""
    return value if isinstance(value, Mapping) else {}


def required(record: Any, key: str) -> str:
    """A non-empty string field of an event record, or EventError naming what is missing."""
    value = record.get(key) if isinstance(record, Mapping) else None
    if not isinstance(value, str) or not value:
        raise EventError(f"event lacks {key}")
    return value
