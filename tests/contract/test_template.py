"""template.yaml and the remediator code agree: functions, handlers, environment, stack shape.

Helpers are in template_model.py; routing and roles in test_template_routing.py and
test_template_roles.py.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from typing import Any

import pytest

from tests.contract.template_model import (
    COMMON_ENVIRONMENT,
    EXTRA_ENVIRONMENT,
    KEYS,
    PSEUDO_PARAMETERS,
    ROOT,
    US_EAST_1_ONLY,
    WIRING_ENVIRONMENT,
    built,
    envelope,
    function,
    function_ids,
    references,
    resource_of,
    template,
    template_functions,
)
from tools.check_template import (
    resolve,
    transform,
)

__all__ = ["envelope"]  # imported from here by tests/remediators


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
    assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", a) for a in actions)
    # Only the approval function needs nothing but the shared ledger and topic: it reads who
    # tagged from the event and writes the approval to our ledger.
    assert bool(actions) != (f.handler_module in ("exemption_tag_approval",))


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
    # The loop guard recognises exactly the calls of the function's own role, nothing wider.
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
    assert {"AttributeName": "outcome_id", "AttributeType": "S"} in props["AttributeDefinitions"]
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


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_only_our_functions_and_alarms_publish_to_the_topic(mode: str, region: str) -> None:
    """Issue 7 item 9: without a topic policy anyone with SNS permissions could publish fake
    outcomes (with fake undo lines)."""
    resolved = built(mode, region)
    roles = {n for n, r in resolved["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    [policy] = [r for r in resolved["Resources"].values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    assert policy["Properties"]["Topics"] == [{"Ref": "NotificationTopic"}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    [deny] = [s for s in statements if s["Effect"] == "Deny" and s["Action"] == "sns:Publish"]
    assert deny["Principal"] == "*"
    who = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert {resource_of(r) for r in who} == roles
    assert deny["Condition"]["StringNotEquals"] == {
        "aws:PrincipalServiceName": "cloudwatch.amazonaws.com"
    }
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"Service": "cloudwatch.amazonaws.com"}]
    # Without named administrators nothing limits subscriptions (the README says to name them).
    assert not [s for s in statements if "sns:Subscribe" in s["Action"]]


def test_named_administrators_alone_change_who_receives_outcomes() -> None:
    admins = ["arn:aws:iam::123456789012:role/SecurityAdmin"]
    parameters = {"Mode": "enforce", "TopicAdministratorArns": admins}
    resolved = resolve(transform("enforce", template()), parameters)
    [policy] = [r for r in resolved["Resources"].values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    [deny] = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if "sns:Subscribe" in s["Action"]
    ]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Condition"] == {
        "ArnNotLike": {"aws:PrincipalArn": {"Ref": "TopicAdministratorArns"}}
    }
