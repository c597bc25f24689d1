"""template.yaml, the remediator code and the events agree.

Routing uses the template's own EventBridge patterns (tools.routing, moto's EventPattern); the
roles are checked on the transformed template (tools.check_template), because cfn-lint and
checkov do not see inside the SAM transform.
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

from tools.check_template import as_list, resolve, role_findings, role_statements, transform
from tools.routing import Function, functions, load_template, matches, routes

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
FIXTURES = ROOT / "tests" / "fixtures" / "cloudtrail"
CORPUS = Path(os.environ.get("AUTOREMEDIATE_CORPUS", ROOT.parent / "shared" / "corpus"))
CLOUDTRAIL = "AWS API Call via CloudTrail"

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
# X-Ray has no resource-level permissions; nothing else may be granted on "*".
STAR_RESOURCE_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})
COMMON_ENVIRONMENT = {
    "MODE": {"Ref": "Mode"},
    "EXEMPT_PRINCIPALS": {"Fn::Join": [",", {"Ref": "ExemptPrincipalArns"}]},
    "POWERTOOLS_SERVICE_NAME": "autoremediate",
    "POWERTOOLS_METRICS_NAMESPACE": "Autoremediate",
    "POWERTOOLS_LOG_LEVEL": {"Ref": "LogLevel"},
}
EXTRA_ENVIRONMENT: dict[str, dict[str, Any]] = {
    "iam_policy_least_privilege": {"WILDCARD_LEVEL": {"Ref": "WildcardLevel"}},
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
    return load_template()


@cache
def template_functions() -> tuple[Function, ...]:
    return tuple(functions(template()))


@cache
def built(mode: str, region: str = "us-east-1") -> dict[str, Any]:
    """The transformed template as CloudFormation deploys it in `mode` (do not mutate)."""
    return resolve(transform(mode), {"Mode": mode}, region=region)


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
def test_sample_event_reaches_its_function_only(logical_id: str, path: Path) -> None:
    event = load(path)
    reached = [f.logical_id for f in routes(template_functions(), event)]
    if "errorCode" in event.get("detail", {}):
        assert reached == [], "a failed call changed nothing and must not trigger"
    else:
        assert reached == [logical_id]


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


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_no_wildcard_action_in_any_role(mode: str) -> None:
    assert role_findings(built(mode)) == []


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_no_wildcard_action_in_any_policy(mode: str) -> None:
    """Key and queue policies too: least privilege applies to us first."""
    wildcards = [
        statement.get("Sid", statement)
        for statement in policy_statements(built(mode)["Resources"])
        if "NotAction" in statement or any("*" in a for a in as_list(statement["Action"]))
    ]
    assert wildcards == []


@pytest.mark.parametrize("logical_id", function_ids())
def test_report_mode_role_reads_and_cannot_write(logical_id: str) -> None:
    f = function(logical_id)
    resolved = built("report")
    held = allowed_actions(resolved, function_role(resolved, f))
    assert set(remediator(f).read_actions) - held == set()
    assert held & set(remediator(f).write_actions) == set()


@pytest.mark.parametrize("logical_id", function_ids())
def test_enforce_mode_role_can_write(logical_id: str) -> None:
    f = function(logical_id)
    resolved = built("enforce")
    held = allowed_actions(resolved, function_role(resolved, f))
    wanted = {*remediator(f).read_actions, *remediator(f).write_actions}
    assert wanted - held == set()


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize("logical_id", function_ids())
def test_role_holds_nothing_unlisted(logical_id: str, mode: str) -> None:
    f = function(logical_id)
    resolved = built(mode)
    role = function_role(resolved, f)
    listed = {*remediator(f).read_actions, *remediator(f).write_actions, *INFRASTRUCTURE_ACTIONS}
    actions = {
        action
        for name, statement in role_statements(resolved)
        if name == role
        for action in as_list(statement["Action"])
    }
    assert actions - listed == set()


@pytest.mark.parametrize("logical_id", function_ids())
def test_role_grants_on_named_resources_only(logical_id: str) -> None:
    """Only X-Ray gets "*"; IAM actions reach this account's principals and policies (and AWS
    managed policies, which anyone may read) only."""
    resolved = built("enforce")
    role = function_role(resolved, function(logical_id))
    own_account = re.compile(r"arn:\$\{AWS::Partition\}:iam::(\$\{AWS::AccountId\}|aws):")
    for name, statement in role_statements(resolved):
        if name != role or statement["Effect"] != "Allow":
            continue
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                assert set(as_list(statement["Action"])) <= STAR_RESOURCE_ACTIONS, statement
            elif isinstance(resource, dict) and "Fn::Sub" in resource:
                assert own_account.match(resource["Fn::Sub"]), statement
            else:
                assert resource_of(resource) in resolved["Resources"], statement


# ------------------------------------------------------------------- stack shape and config


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_every_reference_resolves_in_every_region(region: str) -> None:
    """IAM events reach us-east-1 only: elsewhere the IAM remediator is absent, and nothing
    that stays may point at it."""
    resolved = built("enforce", region)
    known = {*resolved["Resources"], *resolved["Parameters"], *PSEUDO_PARAMETERS}
    dangling = set(references(resolved["Resources"])) | set(references(resolved["Outputs"]))
    assert dangling - known == set()
    functions_there = [
        r for r in resolved["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    ]
    assert bool(functions_there) == (region == "us-east-1")
    assert "LedgerTable" in resolved["Resources"]


def test_reserved_concurrency_only_when_asked() -> None:
    def reserved(value: str) -> Any:
        resolved = resolve(transform("report"), {"IamReservedConcurrency": value})
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
