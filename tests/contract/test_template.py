"""template.yaml, the remediator code and the events agree.

Routing uses the template's own EventBridge patterns (tools.routing, moto's EventPattern); the
roles are checked on the transformed template (tools.check_template), because cfn-lint and
checkov do not see inside the SAM transform. Roles are checked in both modes and both cases of
EncryptionKmsKeyArn (no baseline key, a sample one), since condition HasEncryptionKey changes them.

AUTOREMEDIATE_TEMPLATE points the tests at another copy of template.yaml (to check that a
mutated template fails them); events, code and README are always this repository's.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tools.check_template import (
    KEY_PARAMETER,
    SAMPLE_KMS_KEY_ARN,
    as_list,
    resolve,
    role_findings,
    role_statements,
    transform,
)
from tools.routing import Function, functions, load_template, matches, routes

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(os.environ.get("AUTOREMEDIATE_TEMPLATE", ROOT / "template.yaml"))
EVENTS = ROOT / "events"
FIXTURES = ROOT / "tests" / "fixtures" / "cloudtrail"
CORPUS = Path(os.environ.get("AUTOREMEDIATE_CORPUS", ROOT.parent / "shared" / "corpus"))
CLOUDTRAIL = "AWS API Call via CloudTrail"
CONFIG_CHANGE = "Config Configuration Item Change"
CONFIG_RESOURCE_TYPE = ("detail", "configurationItem", "resourceType")
# IAM publishes its CloudTrail events to EventBridge in us-east-1 only (DESIGN.md): these
# remediators exist there only; every other one deploys in any region.
US_EAST_1_ONLY = frozenset({"iam_policy_least_privilege"})
# EncryptionKmsKeyArn: empty (the AWS-managed keys) or a customer-managed baseline key.
KEYS = pytest.mark.parametrize("key", ["", SAMPLE_KMS_KEY_ARN], ids=["no-key", "key"])
MODES = pytest.mark.parametrize("mode", ["report", "enforce"])

# What every function needs besides its remediator's own actions (DESIGN.md, contract).
INFRASTRUCTURE_ACTIONS = frozenset(
    {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "sns:Publish",
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
    "POWERTOOLS_SERVICE_NAME": "autoremediate",
    "POWERTOOLS_METRICS_NAMESPACE": "Autoremediate",
    "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
}
BASELINE_KEY = {"ENCRYPTION_KMS_KEY_ARN": {"Ref": KEY_PARAMETER}}
EXTRA_ENVIRONMENT: dict[str, dict[str, Any]] = {
    "iam_policy_least_privilege": {"WILDCARD_LEVEL": {"Ref": "WildcardLevel"}},
    "s3_bucket_encryption": {**BASELINE_KEY, "S3_ENCRYPTION_LEVEL": {"Ref": "S3EncryptionLevel"}},
    "s3_bucket_secure_transport": {},
    "sns_topic_encryption": BASELINE_KEY,
    "sqs_queue_encryption": {**BASELINE_KEY, "SQS_ENCRYPTION_LEVEL": {"Ref": "SqsEncryptionLevel"}},
    "dynamodb_table_encryption": BASELINE_KEY,
    "ec2_ebs_default_encryption": BASELINE_KEY,
    # Named in the manual steps it reports; its role holds no KMS permission at all.
    "rds_storage_encryption": BASELINE_KEY,
}
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
        listed = value_at(pattern, path)
        return isinstance(listed, list) and value in listed

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


# ------------------------------------------------------------------------- functions and code


def test_template_has_functions() -> None:
    assert function_ids(), "template.yaml defines no AWS::Serverless::Function"


@pytest.mark.parametrize("logical_id", function_ids())
def test_handler_imports_as_lambda_imports_it(logical_id: str) -> None:
    f = function(logical_id)
    props = template()["Resources"][logical_id]["Properties"]
    defaults = template().get("Globals", {}).get("Function", {})
    assert props.get("CodeUri", defaults.get("CodeUri")) == "remediators/"
    assert props.get("Runtime", defaults.get("Runtime")) == "python3.13"
    module = importlib.import_module(f.handler_module)
    assert callable(module.handler)
    actions = (*module.REMEDIATOR.read_actions, *module.REMEDIATOR.write_actions)
    assert actions and all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", a) for a in actions)


@pytest.mark.parametrize("logical_id", function_ids())
def test_environment_carries_the_configuration(logical_id: str) -> None:
    f = function(logical_id)
    resources = template()["Resources"]
    expected = {**COMMON_ENVIRONMENT, **EXTRA_ENVIRONMENT.get(f.handler_module, {})}
    assert {k: f.environment.get(k) for k in expected} == expected
    # Nothing else: a setting a module does not use (or a new one nobody checks here) fails.
    assert set(f.environment) - WIRING_ENVIRONMENT == set(expected)
    assert resources[resource_of(f.environment["LEDGER_TABLE"])]["Type"] == "AWS::DynamoDB::Table"
    assert resources[resource_of(f.environment["TOPIC_ARN"])]["Type"] == "AWS::SNS::Topic"
    role = resources[resource_of(template()["Resources"][logical_id]["Properties"]["Role"])]
    assert role["Properties"]["Path"] == "/autoremediate/"
    # The loop guard skips exactly the calls of the function's own role, nothing wider.
    own = f.environment["OWN_ROLE_ARNS"]
    assert own == {
        "Fn::GetAtt": [
            resource_of(template()["Resources"][logical_id]["Properties"]["Role"]),
            "Arn",
        ]
    }


@pytest.mark.parametrize("logical_id", function_ids())
def test_failures_retry_then_end_in_the_dead_letter_queue(logical_id: str) -> None:
    resources = built("report")["Resources"]
    props = resources[logical_id]["Properties"]
    queue = resource_of(props["DeadLetterConfig"]["TargetArn"])
    assert resources[queue]["Type"] == "AWS::SQS::Queue"
    invoke = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        and r["Properties"]["FunctionName"] == {"Ref": logical_id}
    ]
    assert invoke and invoke[0]["MaximumRetryAttempts"] > 0
    targets = [
        target
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        for target in r["Properties"]["Targets"]
        if target["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    ]
    assert len(targets) == len(function(logical_id).patterns)
    for target in targets:
        assert resource_of(target["DeadLetterConfig"]["Arn"]) == queue
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


# ----------------------------------------------------------------------------------- events


@pytest.mark.parametrize("logical_id", function_ids())
def test_every_function_has_sample_events(logical_id: str) -> None:
    assert samples(function(logical_id)), f"no events/{function(logical_id).handler_module}/*.json"


@pytest.mark.parametrize(
    ("logical_id", "path"), all_samples(), ids=[p.name for _, p in all_samples()]
)
def test_sample_event_reaches_its_function_and_only_those_that_handle_it(
    logical_id: str, path: Path
) -> None:
    """A sample reaches its own function, which names its trigger. It may also reach another
    function only when that one names the trigger too and has a sample of it (two controls on
    one resource, e.g. CreateBucket: encryption and TLS-only policy): nothing reaches a function
    by accident, through a pattern that does not list the event."""
    event = load(path)
    reached = routes(template_functions(), event)
    if "errorCode" in event.get("detail", {}):
        assert reached == [], "a failed call changed nothing and must not trigger"
        return
    assert logical_id in [f.logical_id for f in reached]
    assert declares(function(logical_id), event), f"{logical_id} does not list {path.name}"
    trigger = trigger_of(event)
    undeclared = [
        f.logical_id
        for f in reached
        if f.logical_id != logical_id
        and not (declares(f, event) and trigger in sample_triggers(f.logical_id))
    ]
    assert undeclared == [], f"{trigger} reaches functions that do not handle it"


@pytest.mark.parametrize("logical_id", function_ids())
def test_samples_cover_every_value_of_every_pattern(logical_id: str) -> None:
    f = function(logical_id)
    events = [load(path) for path in samples(f)]
    missing = []
    for pattern in f.patterns:
        reaching = [e for e in events if matches(pattern, e)]
        for path, value in string_leaves(pattern):
            found = [value_at(e, path) for e in reaching]
            if not any(v == value or (isinstance(v, list) and value in v) for v in found):
                missing.append(f"{'.'.join(path)}={value}")
    assert missing == [], f"no sample event in events/{f.handler_module}/ for {missing}"


def test_real_cloudtrail_fixtures_route_as_their_call_says() -> None:
    records = sorted(FIXTURES.glob("*/*/*.json"))
    assert records, f"no CloudTrail fixtures under {FIXTURES}"
    events = [envelope(load(path)) for path in records]
    assert any("errorCode" in e["detail"] for e in events), "no failed call among the fixtures"
    assert any(expected_for_record(e) for e in events), "no fixture is a trigger"
    wrong = [
        path.relative_to(FIXTURES).as_posix()
        for path, event in zip(records, events, strict=True)
        if routes(template_functions(), event) != expected_for_record(event)
    ]
    assert wrong == []


@pytest.mark.corpus
def test_real_corpus_cloudtrail_records_route_as_their_call_says() -> None:
    records = sorted((CORPUS / "cloudtrail").glob("*/*/*.json"))
    if not records:
        pytest.skip(f"no corpus at {CORPUS} (set AUTOREMEDIATE_CORPUS to sweep one)")
    wrong = []
    for path in records:
        event = envelope(load(path))
        if routes(template_functions(), event) != expected_for_record(event):
            wrong.append(path.relative_to(CORPUS).as_posix())
    assert wrong == []


@pytest.mark.corpus
def test_real_corpus_config_events_route_by_resource_type() -> None:
    records = sorted((CORPUS / "config" / "eventbridge").glob("*/*.json"))
    if not records:
        pytest.skip(f"no Config EventBridge events under {CORPUS} (AUTOREMEDIATE_CORPUS)")
    path_ = ("detail", "configurationItem", "resourceType")
    wrong = []
    for path in records:
        event = load(path)
        expected = [
            f
            for f in template_functions()
            if any(value_at(event, path_) in (value_at(p, path_) or []) for p in f.patterns)
        ]
        if routes(template_functions(), event) != expected:
            wrong.append(path.relative_to(CORPUS).as_posix())
    assert wrong == []


# ------------------------------------------------------------------------------------ roles


@KEYS
@MODES
def test_no_wildcard_action_in_any_role(mode: str, key: str) -> None:
    assert role_findings(built(mode, key=key)) == []


@KEYS
@MODES
def test_no_wildcard_action_in_any_policy(mode: str, key: str) -> None:
    """Key and queue policies too: least privilege applies to us first."""
    wildcards = [
        statement.get("Sid", statement)
        for statement in policy_statements(built(mode, key=key)["Resources"])
        if "NotAction" in statement or any("*" in a for a in as_list(statement["Action"]))
    ]
    assert wildcards == []


def assert_holds(resolved: dict[str, Any], f: Function, wanted: set[str], key: str) -> None:
    """With a baseline key the role holds every action in `wanted`. Without one it holds every
    non-KMS action of `wanted`, and KMS only on this stack's own keys (the infrastructure's) or
    on keys asked for by an AWS-managed alias: there is no customer key to use."""
    role = function_role(resolved, f)
    held = allowed_actions(resolved, role)
    if key:
        assert wanted - held == set()
        return
    assert {a for a in wanted if not is_kms(a)} - held == set()
    kms_elsewhere = [
        statement.get("Sid", statement)
        for statement in allow_statements(resolved, role)
        if any(is_kms(a) for a in as_list(statement["Action"]))
        and not on_stack_keys_only(resolved, statement)
        and not on_aws_managed_alias_only(statement)
    ]
    assert kms_elsewhere == [], "KMS granted without a baseline key"


@KEYS
@pytest.mark.parametrize("logical_id", function_ids())
def test_report_mode_role_reads_and_cannot_write(logical_id: str, key: str) -> None:
    f = function(logical_id)
    resolved = built("report", key=key)
    assert_holds(resolved, f, set(remediator(f).read_actions), key)
    held = allowed_actions(resolved, function_role(resolved, f))
    assert held & set(remediator(f).write_actions) == set()


@KEYS
@pytest.mark.parametrize("logical_id", function_ids())
def test_enforce_mode_role_can_write(logical_id: str, key: str) -> None:
    f = function(logical_id)
    wanted = {*remediator(f).read_actions, *remediator(f).write_actions}
    assert_holds(built("enforce", key=key), f, wanted, key)


@KEYS
@MODES
@pytest.mark.parametrize("logical_id", function_ids())
def test_role_holds_nothing_unlisted(logical_id: str, mode: str, key: str) -> None:
    f = function(logical_id)
    resolved = built(mode, key=key)
    role = function_role(resolved, f)
    listed = {*remediator(f).read_actions, *remediator(f).write_actions, *INFRASTRUCTURE_ACTIONS}
    actions = {
        action
        for name, statement in role_statements(resolved)
        if name == role
        for action in as_list(statement["Action"])
    }
    assert actions - listed == set()


# An ARN in Fn::Sub: a ${...} variable (AWS::Region has colons of its own) is one piece of a field.
_FIELD = r"((?:\$\{[^}]*\}|[^:$])*)"
ARN = re.compile(rf"arn:\$\{{AWS::Partition\}}:([a-z0-9-]+):{_FIELD}:{_FIELD}:(.+)")
ACCOUNT_ID = "${AWS::AccountId}"
AWS_MANAGED_POLICIES = "arn:${AWS::Partition}:iam::aws:policy/*"


def in_own_account(statement: Mapping[str, Any]) -> bool:
    """Whether S3 resources are limited to this account's buckets (bucket ARNs carry no
    account: s3:ResourceAccount is what scopes them)."""
    condition = statement.get("Condition", {})
    equals = condition.get("StringEquals", {}) if isinstance(condition, Mapping) else {}
    value = as_list(equals.get("s3:ResourceAccount", []))
    return value in ([{"Ref": "AWS::AccountId"}], [{"Fn::Sub": ACCOUNT_ID}])


def unscoped(
    resolved: dict[str, Any], f: Function, statement: Mapping[str, Any], resource: Any, key: str
) -> str | None:
    """Why `resource` of an Allow statement is not scoped to this account (None: it is)."""
    actions = set(as_list(statement["Action"]))
    if resource == "*":
        extra = actions - STAR_RESOURCE_ACTIONS
        return f"{sorted(extra)} on '*'" if extra else None
    if resource == {"Ref": KEY_PARAMETER}:
        if not key:
            return "the baseline key, which is not set (condition HasEncryptionKey)"
        other = sorted(a for a in actions if not is_kms(a))
        return f"{other} on the baseline key" if other else None
    if isinstance(resource, dict) and set(resource) == {"Fn::Sub"}:
        text = resource["Fn::Sub"]
        if not isinstance(text, str):
            return "Fn::Sub with its own variables (they could stand for another account)"
        if text == AWS_MANAGED_POLICIES:  # readable by anyone, changeable by nobody
            writes = sorted(actions - set(remediator(f).read_actions))
            return f"{writes} on AWS managed policies" if writes else None
        arn = ARN.fullmatch(text)
        if not arn:
            return f"{text} is not an ARN of the stack's partition"
        service, region, account, rest = arn.groups()
        if service == "s3" and region == account == "":
            return None if in_own_account(statement) else "bucket ARN without s3:ResourceAccount"
        if account != ACCOUNT_ID:
            return f"{text} is not in this account"
        if service == "kms" and "*" in rest and not on_aws_managed_alias_only(statement):
            return f"{text}: any key of the account, not only an AWS-managed alias"
        return None
    if isinstance(resource, dict) and len(resource) == 1 and set(resource) <= {"Ref", "Fn::GetAtt"}:
        name = resource_of(resource)
        return None if name in resolved["Resources"] else f"{name} is not a resource of the stack"
    return f"{resource!r} is not scoped"


@KEYS
@MODES
@pytest.mark.parametrize("logical_id", function_ids())
def test_role_grants_on_own_account_resources_only(logical_id: str, mode: str, key: str) -> None:
    """Every resource is this stack's, this account's (by ARN, or by s3:ResourceAccount for
    bucket ARNs), the baseline key (only when it is set), any key only when asked for by an
    AWS-managed alias, or AWS managed IAM policies (read only). "*" only for the actions AWS
    does not scope by resource."""
    f = function(logical_id)
    resolved = built(mode, key=key)
    problems = []
    for statement in allow_statements(resolved, function_role(resolved, f)):
        if "NotResource" in statement:
            problems.append(f"{statement.get('Sid')}: NotResource")
        for resource in as_list(statement.get("Resource", [])):
            problem = unscoped(resolved, f, statement, resource, key)
            if problem:
                problems.append(f"{statement.get('Sid')}: {problem}")
    assert problems == []


# ------------------------------------------------------------------- stack shape and config


@KEYS
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_every_reference_resolves_in_every_region(region: str, key: str) -> None:
    """IAM events reach us-east-1 only: elsewhere the IAM remediator, its role and its log
    group are absent, every other function is there, and nothing that stays points at what
    is gone."""
    resolved = built("enforce", region, key)
    resources = resolved["Resources"]
    known = {*resources, *resolved["Parameters"], *PSEUDO_PARAMETERS}
    dangling = set(references(resources)) | set(references(resolved["Outputs"]))
    assert dangling - known == set()
    expected = {
        f.logical_id
        for f in template_functions()
        if region == "us-east-1" or f.handler_module not in US_EAST_1_ONLY
    }
    there = {name for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert there == expected
    for f in template_functions():
        props = template()["Resources"][f.logical_id]["Properties"]
        own = {resource_of(props["Role"]), resource_of(props["LoggingConfig"]["LogGroup"])}
        assert own & set(resources) == (own if f.logical_id in expected else set()), f.logical_id
    assert "LedgerTable" in resources


def test_reserved_concurrency_only_when_asked() -> None:
    def reserved(value: str) -> Any:
        resolved = resolve(transform("report", template()), {"IamReservedConcurrency": value})
        props = resolved["Resources"]["IamPolicyLeastPrivilegeFunction"]["Properties"]
        return props.get("ReservedConcurrentExecutions")

    assert reserved("0") is None
    assert reserved("5") == {"Ref": "IamReservedConcurrency"}


def test_ledger_table_keeps_the_undo() -> None:
    table = built("report")["Resources"]["LedgerTable"]
    props = table["Properties"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert props["KeySchema"] == [{"AttributeName": "outcome_id", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "outcome_id", "AttributeType": "S"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    key = resource_of(props["SSESpecification"]["KMSMasterKeyId"])
    # A retained ledger needs a retained key, or it becomes unreadable.
    assert built("report")["Resources"][key]["DeletionPolicy"] == "Retain"


def test_samconfig_deploys_report_by_default_and_enforce_on_request() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    assert config["default"]["deploy"]["parameters"]["parameter_overrides"] == "Mode=report"
    assert config["enforce"]["deploy"]["parameters"]["parameter_overrides"] == "Mode=enforce"
    assert template()["Parameters"]["Mode"]["Default"] == "report"
