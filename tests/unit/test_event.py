"""core.event: real CloudTrail records and sample events parse; anything else is an EventError."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.event import CLOUDTRAIL, CONFIG, Actor, EventError, Trigger, parse

ROOT = Path(__file__).resolve().parents[2]
CLOUDTRAIL_FIXTURES = sorted(
    (ROOT / "tests/fixtures/cloudtrail/iam.amazonaws.com").glob("*/*.json")
)
SAMPLE_EVENTS = sorted((ROOT / "events/iam_policy_least_privilege").glob("*.json"))

# Deliberately different from every record's recipientAccountId / awsRegion: the record wins.
ENVELOPE_ACCOUNT = "999999999999"
ENVELOPE_REGION = "eu-west-3"


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _wrap(record: dict[str, Any]) -> dict[str, Any]:
    """A bare CloudTrail record in the EventBridge envelope AWS delivers it in."""
    return {
        "version": "0",
        "id": "6f3a1d2e-0000-4000-8000-000000000001",
        "detail-type": CLOUDTRAIL,
        "source": "aws.iam",
        "account": ENVELOPE_ACCOUNT,
        "time": "2025-03-14T09:00:00Z",
        "region": ENVELOPE_REGION,
        "resources": [],
        "detail": record,
    }


def _sample(name: str) -> dict[str, Any]:
    return _load(ROOT / "events/iam_policy_least_privilege" / name)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_fixtures_are_there() -> None:
    # An empty glob would make every parametrised test below vanish silently.
    assert len(CLOUDTRAIL_FIXTURES) >= 26
    assert len(SAMPLE_EVENTS) >= 18


# --- real CloudTrail records ------------------------------------------------------------------


@pytest.mark.parametrize("path", CLOUDTRAIL_FIXTURES, ids=_rel)
def test_parse_real_cloudtrail_record(path: Path) -> None:
    record = _load(path)
    trigger = parse(_wrap(record))

    assert trigger.kind == "cloudtrail"
    assert trigger.event_name == record["eventName"] == path.parent.name
    assert trigger.event_id == record["eventID"]
    assert trigger.event_time == record["eventTime"]
    assert trigger.account == record["recipientAccountId"]
    assert trigger.region == record["awsRegion"]
    assert trigger.error_code == record.get("errorCode", "")
    assert trigger.detail == record
    assert trigger.item == {}

    identity = record["userIdentity"]
    issuer = identity.get("sessionContext", {}).get("sessionIssuer", {})
    actor = trigger.actor
    assert actor is not None
    assert actor.arn == identity["arn"]
    assert actor.type == identity.get("type", "")
    assert actor.account == identity["accountId"]
    assert actor.session_issuer_arn == issuer.get("arn", "")
    assert actor.source_ip == record["sourceIPAddress"]
    assert actor.user_agent == record["userAgent"]
    parameters = record.get("requestParameters")
    assert trigger.request == (parameters if isinstance(parameters, dict) else {})


def test_failed_call_record_keeps_its_error_code() -> None:
    path = ROOT / "tests/fixtures/cloudtrail/iam.amazonaws.com/AttachRolePolicy/3.json"
    assert parse(_wrap(_load(path))).error_code == "NoSuchEntity"
    ok = ROOT / "tests/fixtures/cloudtrail/iam.amazonaws.com/AttachRolePolicy/2.json"
    assert parse(_wrap(_load(ok))).error_code == ""


def test_real_record_spot_checks() -> None:
    base = ROOT / "tests/fixtures/cloudtrail/iam.amazonaws.com"
    # Stratus Red Team: an IAM user, no session context, a fuzzed region kept verbatim.
    stratus = parse(_wrap(_load(base / "AttachRolePolicy/1.json")))
    assert stratus.actor == Actor(
        arn="arn:aws:iam::609418236337:user/christophe",
        type="IAMUser",
        account="609418236337",
        principal_id="AIDAK4TRC24VBN0JX8JX",
        session_issuer_arn="",
        invoked_by="",
        source_ip="209.209.254.254",
        user_agent="stratus-red-team_e2808a95-acc5-4508-b083-d31d6f4315d9",
    )
    assert stratus.region == "sagov-west-2r"
    assert stratus.request["roleName"].startswith("stratus")
    # Panther: an assumed role invoked by CloudFormation, with a misspelled "accesKeyId".
    panther = parse(_wrap(_load(base / "AttachRolePolicy/2.json")))
    assert panther.actor is not None
    assert panther.actor.arn == "arn:aws:sts::123456789012:assumed-role/example-role/example-user"
    assert panther.actor.invoked_by == "cloudformation.amazonaws.com"
    assert panther.actor.session_issuer_arn.startswith("arn:aws:iam::123456789012:role/")
    # The root user.
    root = parse(_wrap(_load(base / "AttachUserPolicy/5.json")))
    assert root.actor is not None
    assert (root.actor.type, root.actor.arn) == ("Root", "arn:aws:iam::493859302102:root")


def test_envelope_values_are_the_fallback_when_the_record_lacks_them() -> None:
    record = _load(CLOUDTRAIL_FIXTURES[0])
    for key in ("eventID", "eventTime", "recipientAccountId", "awsRegion"):
        del record[key]
    trigger = parse(_wrap(record))
    assert trigger.event_id == "6f3a1d2e-0000-4000-8000-000000000001"
    assert trigger.event_time == "2025-03-14T09:00:00Z"
    assert (trigger.account, trigger.region) == (ENVELOPE_ACCOUNT, ENVELOPE_REGION)


# --- sample events -------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_EVENTS, ids=lambda p: p.name)
def test_parse_sample_event(path: Path) -> None:
    event = _load(path)
    trigger = parse(event)
    detail = event["detail"]
    if event["detail-type"] == CONFIG:
        item = detail["configurationItem"]
        assert trigger.kind == "config"
        assert trigger.item == item
        assert trigger.item["resourceType"].startswith("AWS::IAM::")
        assert trigger.event_id == event["id"]
        assert trigger.event_name == item["configurationItemStatus"]
        assert trigger.event_time == item["configurationItemCaptureTime"]
        assert trigger.account == item["awsAccountId"] == "123456789012"
        # Config says "global" for IAM; the event's own region is where it was delivered.
        assert item["awsRegion"] == "global"
        assert trigger.region == "us-east-1"
        assert trigger.actor is None
        assert trigger.error_code == ""
        assert trigger.request == {} and trigger.response == {}
    else:
        assert trigger.kind == "cloudtrail"
        assert trigger.event_name == detail["eventName"] == path.stem.split("-")[0]
        assert trigger.event_id == detail["eventID"] != event["id"]
        assert trigger.account == "123456789012"
        assert trigger.region == "us-east-1"
        assert trigger.item == {}
        assert trigger.actor is not None
        assert trigger.actor.source_ip == detail["sourceIPAddress"]
        assert trigger.actor.user_agent == detail["userAgent"]
        assert trigger.actor.type == "AssumedRole"
        assert trigger.actor.session_issuer_arn.startswith("arn:aws:iam::123456789012:role/")
        expected_error = "AccessDenied" if path.stem.endswith("failed-call") else ""
        assert trigger.error_code == expected_error


def test_sample_actors() -> None:
    alice = parse(_sample("PutRolePolicy.json")).actor
    assert alice is not None
    assert alice.arn == "arn:aws:sts::123456789012:assumed-role/DeveloperRole/alice"
    assert alice.session_issuer_arn == "arn:aws:iam::123456789012:role/DeveloperRole"
    assert alice.source_ip == "203.0.113.10"
    assert alice.user_agent.startswith("aws-cli/2.15.0")

    own = parse(_sample("PutRolePolicy-own-action.json")).actor
    assert own is not None
    # The loop guard compares this exact ARN with the configured OWN_ROLE_ARNS.
    assert own.session_issuer_arn == (
        "arn:aws:iam::123456789012:role/autoremediate/"
        "autoremediate-IamPolicyLeastPrivilegeRole-1A2B3C4D5E6F"
    )
    assert own.arn.startswith("arn:aws:sts::123456789012:assumed-role/")
    assert "exec-env/AWS_Lambda_python3.13" in own.user_agent


def test_config_event_names_and_deleted_item() -> None:
    assert parse(_sample("Config-Role.json")).event_name == "OK"
    assert parse(_sample("Config-Policy.json")).event_name == "ResourceDiscovered"
    deleted = parse(_sample("Config-Role-deleted.json"))
    assert deleted.event_name == "ResourceDeleted"
    assert deleted.item["configuration"] is None


def test_trigger_request_and_response_views() -> None:
    put = parse(_sample("PutRolePolicy.json"))
    assert put.request["roleName"] == "app-deploy-role"
    assert isinstance(put.request["policyDocument"], str)
    assert put.response == {}  # responseElements is null for PutRolePolicy
    create = parse(_sample("CreatePolicy.json"))
    assert create.response["policy"]["policyName"] == "app-wildcard-policy"


def test_trigger_to_dict() -> None:
    trigger = parse(_sample("AttachRolePolicy.json"))
    assert trigger.to_dict() == {
        "source": "cloudtrail",
        "event_id": "fc85fa7c-689a-40cf-b01d-2bce7d9d838e",
        "event_name": "AttachRolePolicy",
        "event_time": "2025-03-14T09:21:17Z",
        "account": "123456789012",
        "region": "us-east-1",
    }


# --- Actor.from_record oddities ------------------------------------------------------------


def test_actor_tolerates_null_request_parameters_and_missing_session_context() -> None:
    path = ROOT / "tests/fixtures/cloudtrail/iam.amazonaws.com/PutUserPolicy/3.json"
    record = _load(path)
    assert record["requestParameters"] is None
    assert "sessionContext" not in record["userIdentity"]
    trigger = parse(_wrap(record))
    assert trigger.request == {}
    assert trigger.actor is not None
    assert trigger.actor.arn == "arn:aws:iam::123456789012:user/compromised_user"
    assert trigger.actor.session_issuer_arn == ""


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"userIdentity": None},
        {"userIdentity": {}},
        {"userIdentity": {"sessionContext": None}},
        {"userIdentity": {"sessionContext": {"sessionIssuer": None}}},
        {"userIdentity": {"sessionContext": {}}},
        {"userIdentity": {"Arn": "x", "acountId": "1", "principalid": "p"}},  # misspelled keys
        {"sourceIPAddress": None, "userAgent": None},
    ],
)
def test_actor_from_record_tolerates_missing_and_misspelled_keys(record: dict[str, Any]) -> None:
    actor = Actor.from_record(record)
    assert actor == Actor("", "", "", "", "", "", "", "")
    assert actor.to_dict() == {}


def test_actor_of_an_aws_service_falls_back_to_invoked_by() -> None:
    record = {"userIdentity": {"type": "AWSService", "invokedBy": "config.amazonaws.com"}}
    actor = Actor.from_record(record)
    assert (actor.arn, actor.type, actor.invoked_by) == (
        "config.amazonaws.com",
        "AWSService",
        "config.amazonaws.com",
    )
    assert actor.to_dict() == {
        "arn": "config.amazonaws.com",
        "type": "AWSService",
        "invoked_by": "config.amazonaws.com",
    }


@pytest.mark.parametrize(
    "identity",
    [
        "an-arn",
        ["x"],
        7,
        {"sessionContext": "x"},
        {"sessionContext": ["x"]},
        {"sessionContext": {"sessionIssuer": 7}},
        {"sessionContext": {"sessionIssuer": "arn:aws:iam::123456789012:role/x"}},
    ],
    ids=[
        "identity-str",
        "identity-list",
        "identity-int",
        "context-str",
        "context-list",
        "issuer-int",
        "issuer-str",
    ],
)
def test_actor_from_record_tolerates_non_object_identity(identity: Any) -> None:
    actor = Actor.from_record({"userIdentity": identity})
    assert actor == Actor("", "", "", "", "", "", "", "")


@pytest.mark.parametrize("issuer", [None, 7, "x", ["arn:aws:iam::123456789012:role/x"]])
def test_actor_keeps_the_identity_when_only_the_session_issuer_is_odd(issuer: Any) -> None:
    identity = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/DeveloperRole/alice",
        "accountId": "123456789012",
        "sessionContext": {"sessionIssuer": issuer},
    }
    actor = Actor.from_record({"userIdentity": identity, "sourceIPAddress": "203.0.113.10"})
    assert actor.arn == identity["arn"]
    assert (actor.type, actor.account, actor.source_ip) == (
        "AssumedRole",
        "123456789012",
        "203.0.113.10",
    )
    assert actor.session_issuer_arn == ""


def test_non_object_identity_in_an_event_still_parses() -> None:
    event = _with(_sample("PutRolePolicy-own-action.json"), "x", "detail", "userIdentity")
    trigger = parse(event)
    assert trigger.actor is not None and trigger.actor.session_issuer_arn == ""


# --- malformed events ----------------------------------------------------------------------


def _valid_cloudtrail() -> dict[str, Any]:
    return _sample("PutRolePolicy.json")


def _without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    target = event
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return event


def _with(event: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return event


MALFORMED: list[tuple[str, Any, str]] = [
    ("string", "not an event", "str"),
    ("number", 42, "int"),
    ("list", [_sample("PutRolePolicy.json")], "list"),
    ("none", None, "NoneType"),
    ("empty-dict", {}, "detail-type"),
    ("no-detail-type", _without(_sample("PutRolePolicy.json"), "detail-type"), "detail-type"),
    ("no-detail", _without(_sample("PutRolePolicy.json"), "detail"), "detail"),
    ("no-id", _without(_sample("PutRolePolicy.json"), "id"), "id"),
    ("no-account", _without(_sample("PutRolePolicy.json"), "account"), "account"),
    ("no-region", _without(_sample("PutRolePolicy.json"), "region"), "region"),
    ("no-time", _without(_sample("PutRolePolicy.json"), "time"), "time"),
    ("config-no-time", _without(_sample("Config-Role.json"), "time"), "time"),
    (
        "unknown-detail-type",
        _with(
            _sample("PutRolePolicy.json"), "EC2 Instance State-change Notification", "detail-type"
        ),
        "EC2 Instance State-change Notification",
    ),
    ("detail-list", _with(_sample("PutRolePolicy.json"), [1, 2], "detail"), "detail"),
    ("detail-string", _with(_sample("PutRolePolicy.json"), "{}", "detail"), "detail"),
    ("detail-null", _with(_sample("PutRolePolicy.json"), None, "detail"), "detail"),
    ("no-event-name", _without(_sample("PutRolePolicy.json"), "detail", "eventName"), "eventName"),
    (
        "empty-event-name",
        _with(_sample("PutRolePolicy.json"), "", "detail", "eventName"),
        "eventName",
    ),
    ("event-name-int", _with(_sample("PutRolePolicy.json"), 3, "detail", "eventName"), "eventName"),
    (
        "config-without-item",
        _without(_sample("Config-Role.json"), "detail", "configurationItem"),
        "configurationItem",
    ),
    (
        "config-item-string",
        _with(_sample("Config-Role.json"), "item", "detail", "configurationItem"),
        "configurationItem",
    ),
]


@pytest.mark.parametrize(
    ("event", "hint"), [(e, h) for _, e, h in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_malformed_event_raises_event_error_with_a_readable_reason(event: Any, hint: str) -> None:
    with pytest.raises(EventError) as raised:
        parse(event)
    message = str(raised.value)
    assert hint in message
    assert message[0].isalpha() and "Traceback" not in message


def test_event_error_is_a_value_error() -> None:
    # Handlers that catch ValueError still see it; nothing else derives from it by accident.
    assert issubclass(EventError, ValueError)


@pytest.mark.parametrize("sample", ["PutRolePolicy.json", "Config-Role.json"])
@pytest.mark.parametrize("record_time", [True, False], ids=["record-time", "no-record-time"])
def test_missing_envelope_time_is_an_event_error(sample: str, record_time: bool) -> None:
    # EventBridge always sends "time": an envelope without it is not one, whatever the record says.
    event = _without(_sample(sample), "time")
    if not record_time:
        if "configurationItem" in event["detail"]:
            del event["detail"]["configurationItem"]["configurationItemCaptureTime"]
        else:
            del event["detail"]["eventTime"]
    with pytest.raises(EventError, match=r"^EventBridge envelope lacks 'time'$"):
        parse(event)


# --- properties: parse is total (Trigger or EventError, nothing else) -------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
JUNK = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2)
)

REAL_ENVELOPES = [_load(p) for p in SAMPLE_EVENTS] + [_wrap(_load(p)) for p in CLOUDTRAIL_FIXTURES]


def _parse_or_error(event: Any) -> Trigger | EventError:
    """Anything other than a Trigger or an EventError escapes and fails the test."""
    try:
        return parse(event)
    except EventError as error:
        return error


@given(JSON_VALUES)
def test_parse_is_total_on_arbitrary_json(value: Any) -> None:
    result = _parse_or_error(value)
    assert isinstance(result, Trigger | EventError)


DETAIL_KEYS = st.sampled_from(
    [
        "eventName",
        "userIdentity",
        "eventID",
        "eventTime",
        "errorCode",
        "recipientAccountId",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "requestParameters",
        "responseElements",
        "configurationItem",
        "messageType",
    ]
)
ITEM = st.dictionaries(
    st.sampled_from(["configurationItemStatus", "configurationItemCaptureTime", "awsAccountId"])
    | st.text(max_size=8),
    JSON_VALUES,
    max_size=4,
)


# The envelope keys and every detail key the parser reads (userIdentity included) are drawn freely.
@given(
    st.fixed_dictionaries(
        {"detail-type": st.sampled_from([CLOUDTRAIL, CONFIG]) | JSON_SCALARS},
        optional={
            "time": st.text(max_size=20) | JSON_SCALARS,
            "id": JSON_SCALARS,
            "account": JSON_SCALARS,
            "region": JSON_SCALARS,
            "detail": st.dictionaries(DETAIL_KEYS, JSON_VALUES | ITEM, max_size=8) | JSON_VALUES,
        },
    )
)
def test_parse_is_total_on_envelope_shaped_json(value: dict[str, Any]) -> None:
    result = _parse_or_error(value)
    assert isinstance(result, Trigger | EventError)
    if isinstance(result, Trigger):
        assert result.kind == {CLOUDTRAIL: "cloudtrail", CONFIG: "config"}[value["detail-type"]]
        assert isinstance(result.event_name, str)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@st.composite
def _mutated(draw: st.DrawFn, deep: bool) -> dict[str, Any]:
    """A real envelope with 1-3 keys (anywhere, or only top-level ones) dropped or replaced."""
    event: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(REAL_ENVELOPES)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(event) if deep else [(k,) for k in event]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = event
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JUNK)
    return event


@given(_mutated(deep=False))
def test_parse_is_total_on_envelopes_with_top_level_keys_dropped_or_replaced(
    event: dict[str, Any],
) -> None:
    result = _parse_or_error(event)
    assert isinstance(result, Trigger | EventError)
    if isinstance(result, Trigger):
        assert result.kind in ("cloudtrail", "config")


_OWN = _sample("PutRolePolicy-own-action.json")


@settings(max_examples=300, report_multiple_bugs=False)
@given(_mutated(deep=True))
@example(_with(_OWN, "arn:aws:iam::123456789012:user/x", "detail", "userIdentity"))
@example(_with(_OWN, ["x"], "detail", "userIdentity", "sessionContext"))
@example(_with(_OWN, 1.5, "detail", "userIdentity", "sessionContext", "sessionIssuer"))
@example(_without(_without(_OWN, "time"), "detail", "eventTime"))
def test_parse_is_total_on_envelopes_with_any_key_dropped_or_replaced(
    event: dict[str, Any],
) -> None:
    result = _parse_or_error(event)
    assert isinstance(result, Trigger | EventError)
