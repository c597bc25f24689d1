"""template.yaml loaded, transformed and resolved, and what the contract tests read in it.

Routing uses the template's own EventBridge patterns (tools.routing, moto's EventPattern); the
roles are checked on the transformed template (tools.check_template), because cfn-lint and
checkov do not see inside the SAM transform. Roles are checked in both modes and both cases of
EncryptionKmsKeyArn (no baseline key, a sample one), since condition HasEncryptionKey changes them.
The tests are test_template.py (functions, code, stack shape), test_template_routing.py
and test_template_roles.py.

AUTOREMEDIATE_TEMPLATE points the tests at another copy of template.yaml (to check that a
mutated template fails them); events, code and README are always this repository's.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tools.check_template import (
    KEY_PARAMETER,
    SAMPLE_KMS_KEY_ARN,
    resolve,
    role_statements,
    transform,
)
from tools.conditions import as_list
from tools.routing import Function, functions, load_template, matches
from tools.template import declarations

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(os.environ.get("AUTOREMEDIATE_TEMPLATE", ROOT / "template.yaml"))
EVENTS = ROOT / "events"
FIXTURES = ROOT / "tests" / "fixtures" / "cloudtrail"
CORPUS = Path(os.environ.get("AUTOREMEDIATE_CORPUS", ROOT.parent / "shared" / "corpus"))
CLOUDTRAIL = "AWS API Call via CloudTrail"
CONFIG_CHANGE = "Config Configuration Item Change"
CONFIG_RESOURCE_TYPE = ("detail", "configurationItem", "resourceType")
# IAM publishes its CloudTrail events to EventBridge in us-east-1 only (DESIGN.md): these
# remediators exist there only; every other one deploys in any region (their declarations say).
US_EAST_1_ONLY = frozenset(d.name for d in declarations() if d.us_east_1_only)
# EncryptionKmsKeyArn: empty (the AWS-managed keys) or a customer-managed baseline key.
KEYS = pytest.mark.parametrize("key", ["", SAMPLE_KMS_KEY_ARN], ids=["no-key", "key"])
MODES = pytest.mark.parametrize("mode", ["report", "enforce"])

# What every function needs besides its remediator's own actions (DESIGN.md, contract).
INFRASTRUCTURE_ACTIONS = frozenset(
    {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "sns:Publish",
        "ssm:GetParameter",  # the kill switch, read only
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "sqs:SendMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
)
# Actions AWS does not scope by resource (no resource type in the Service Authorization
# Reference): X-Ray, and EBS encryption by default, a region-wide account setting. Nothing else
# may be granted on "*"; keep this list to what the template really uses.
STAR_RESOURCE_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "ec2:GetEbsEncryptionByDefault",
        "ec2:GetEbsDefaultKmsKeyId",
        "ec2:EnableEbsEncryptionByDefault",
        "ec2:ModifyEbsDefaultKmsKeyId",
    }
)
# Every variable a function gets: Globals (COMMON_ENVIRONMENT and these) and its own.
WIRING_ENVIRONMENT = frozenset({"LEDGER_TABLE", "TOPIC_ARN", "OWN_ROLE_ARNS"})
COMMON_ENVIRONMENT = {
    "MODE": {"Ref": "Mode"},
    "EXEMPT_PRINCIPALS": {"Fn::Join": [",", {"Ref": "ExemptPrincipalArns"}]},
    "NOTIFICATION_DOCUMENTS": {"Ref": "NotificationDocuments"},
    "KILL_SWITCH_PARAMETER": {"Ref": "KillSwitchParameter"},
    "CIRCUIT_BREAKER_REMEDIATIONS": {"Ref": "CircuitBreakerRemediations"},
    "CIRCUIT_BREAKER_MINUTES": {"Ref": "CircuitBreakerMinutes"},
    "POWERTOOLS_SERVICE_NAME": "autoremediate",
    "POWERTOOLS_METRICS_NAMESPACE": "Autoremediate",
    "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
}
# Each remediator's own variables, as its declaration states them (the module reads them).
EXTRA_ENVIRONMENT: dict[str, dict[str, Any]] = {d.name: dict(d.environment) for d in declarations()}
PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackName",
    "AWS::URLSuffix",
}


@cache
def template() -> dict[str, Any]:
    """template.yaml as written (do not mutate)."""
    return load_template(TEMPLATE)


@cache
def template_functions() -> tuple[Function, ...]:
    return tuple(functions(template()))


@cache
def built(mode: str, region: str = "us-east-1", key: str = "") -> dict[str, Any]:
    """The transformed template as CloudFormation deploys it in `mode` and `region`, with `key`
    as EncryptionKmsKeyArn (do not mutate)."""
    parameters = {"Mode": mode, KEY_PARAMETER: key}
    return resolve(transform(mode, template(), region), parameters, region=region)


def function_ids() -> list[str]:
    return [f.logical_id for f in template_functions()]


def function(logical_id: str) -> Function:
    return next(f for f in template_functions() if f.logical_id == logical_id)


def remediator(f: Function) -> Any:
    return importlib.import_module(f.handler_module).REMEDIATOR


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def samples(f: Function) -> list[Path]:
    return sorted((EVENTS / f.handler_module).glob("*.json"))


def all_samples() -> list[tuple[str, Path]]:
    return [(f.logical_id, path) for f in template_functions() for path in samples(f)]


def envelope(record: dict[str, Any]) -> dict[str, Any]:
    """A bare CloudTrail record as EventBridge delivers it; an envelope stays as it is."""
    if "detail-type" in record:
        return record
    return {
        "version": "0",
        "id": record.get("eventID", "0"),
        "detail-type": CLOUDTRAIL,
        "source": "aws." + str(record["eventSource"]).split(".", 1)[0],
        "account": record.get("recipientAccountId", "123456789012"),
        "time": record.get("eventTime", "2025-01-01T00:00:00Z"),
        "region": record.get("awsRegion", "us-east-1"),
        "resources": [],
        "detail": record,
    }


def expected_for_record(event: Mapping[str, Any]) -> list[Function]:
    """Functions whose patterns list this call's eventSource and eventName; none for a failed
    call (it changed nothing)."""
    detail = event["detail"]
    if "errorCode" in detail:
        return []
    return [
        f
        for f in template_functions()
        if any(
            detail.get("eventSource") in p.get("detail", {}).get("eventSource", [])
            and detail.get("eventName") in p.get("detail", {}).get("eventName", [])
            for p in f.patterns
        )
    ]


def string_leaves(pattern: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[Any]:
    """(path, value) of every plain string a pattern lists, e.g. (("detail", "eventName"), ...)."""
    for key, value in pattern.items():
        if isinstance(value, Mapping):
            yield from string_leaves(value, (*path, key))
        else:
            yield from (((*path, key), item) for item in value if isinstance(item, str))


def value_at(event: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = event
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def trigger_of(event: Mapping[str, Any]) -> tuple[str, ...]:
    """What a remediator declares it handles: a CloudTrail call (eventSource, eventName) or a
    Config change of a resource type."""
    detail = event.get("detail", {})
    if event.get("detail-type") == CLOUDTRAIL:
        return ("cloudtrail", str(detail.get("eventSource")), str(detail.get("eventName")))
    if event.get("detail-type") == CONFIG_CHANGE:
        return ("config", str(value_at(event, CONFIG_RESOURCE_TYPE)))
    raise AssertionError(f"neither a CloudTrail call nor a Config change: {event!r:.200}")


def lists(pattern: Mapping[str, Any], trigger: tuple[str, ...]) -> bool:
    """Whether `pattern` names `trigger` literally (not through a prefix, wildcard or absence)."""

    def named(path: tuple[str, ...], value: str) -> bool:
        """Listed literally, or (event names only: Lambda's carry API versions) by prefix."""
        listed = value_at(pattern, path)
        if not isinstance(listed, list):
            return False
        prefixes = [p["prefix"] for p in listed if isinstance(p, dict) and "prefix" in p]
        return value in listed or (path[-1] == "eventName" and value.startswith(tuple(prefixes)))

    if trigger[0] == "cloudtrail":
        return named(("detail", "eventSource"), trigger[1]) and named(
            ("detail", "eventName"), trigger[2]
        )
    return named(CONFIG_RESOURCE_TYPE, trigger[1])


def declares(f: Function, event: Mapping[str, Any]) -> bool:
    """Whether one of `f`'s patterns both matches `event` and names its trigger."""
    trigger = trigger_of(event)
    return any(matches(p, event) and lists(p, trigger) for p in f.patterns)


@cache
def sample_triggers(logical_id: str) -> frozenset[tuple[str, ...]]:
    """Triggers of a function's own sample events (a failed call is none)."""
    events = [load(path) for path in samples(function(logical_id))]
    return frozenset(trigger_of(e) for e in events if "errorCode" not in e.get("detail", {}))


def resource_of(resource_ref: Any) -> str:
    """Logical id that a Ref / GetAtt points at."""
    if isinstance(resource_ref, dict) and "Ref" in resource_ref:
        return str(resource_ref["Ref"])
    if isinstance(resource_ref, dict) and "Fn::GetAtt" in resource_ref:
        return str(resource_ref["Fn::GetAtt"][0])
    raise AssertionError(f"{resource_ref!r} is not a Ref or GetAtt")


def function_role(resolved: dict[str, Any], f: Function) -> str:
    return resource_of(resolved["Resources"][f.logical_id]["Properties"]["Role"])


def allowed_actions(resolved: dict[str, Any], role: str) -> set[str]:
    return {
        action
        for name, statement in role_statements(resolved)
        if name == role and statement.get("Effect") == "Allow"
        for action in as_list(statement["Action"])
    }


def allow_statements(resolved: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        statement
        for name, statement in role_statements(resolved)
        if name == role and statement.get("Effect") == "Allow"
    ]


def is_kms(action: str) -> bool:
    return action.lower().startswith("kms:")


def on_aws_managed_alias_only(statement: Mapping[str, Any]) -> bool:
    """Whether the statement applies only to keys asked for by an AWS-managed alias
    (kms:RequestAlias equal to alias/aws/<service>)."""
    condition = statement.get("Condition", {})
    equals = condition.get("StringEquals", {}) if isinstance(condition, Mapping) else {}
    aliases = as_list(equals.get("kms:RequestAlias", []))
    return bool(aliases) and all(
        isinstance(a, str) and re.fullmatch(r"alias/aws/[a-z0-9-]+", a) for a in aliases
    )


def on_stack_keys_only(resolved: dict[str, Any], statement: Mapping[str, Any]) -> bool:
    """Whether the statement grants only the infrastructure's use of this stack's own keys."""
    resources = as_list(statement.get("Resource", []))
    return set(as_list(statement["Action"])) <= INFRASTRUCTURE_ACTIONS and all(
        isinstance(r, dict)
        and set(r) & {"Ref", "Fn::GetAtt"}
        and resolved["Resources"].get(resource_of(r), {}).get("Type") == "AWS::KMS::Key"
        for r in resources
    )


def references(node: Any) -> Iterator[str]:
    """Every name a Ref, GetAtt or Sub in `node` points at."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                yield str(value)
            elif key == "Fn::GetAtt":
                yield str(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                yield from (m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def policy_statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every IAM statement anywhere in `node`: role, key, queue and topic policies."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from policy_statements(value)
    elif isinstance(node, list):
        for item in node:
            yield from policy_statements(item)
