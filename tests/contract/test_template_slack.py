"""The Slack notifier in template.yaml: nothing without SlackWebhookSecretArn; with it, one
function subscribed to the topic, whose role reads exactly that secret and writes nothing of
yours, whose failures end in the dead-letter queue."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from tests.contract.template_model import MODES, built, resource_of, template
from tools.check_template import (
    SAMPLE_SLACK_SECRET_ARN,
    SLACK_PARAMETER,
    remediator_write_actions,
    resolve,
    role_findings,
    role_statements,
    transform,
)
from tools.conditions import as_list
from tools.routing import OPERATING_HANDLERS, all_functions, functions

FUNCTION = "SlackNotifierFunction"
ROLE = "SlackNotifierRole"
SECRET = {"Ref": SLACK_PARAMETER}


@cache
def with_slack(mode: str, statuses: str = "") -> dict[str, Any]:
    parameters: dict[str, Any] = {"Mode": mode, SLACK_PARAMETER: SAMPLE_SLACK_SECRET_ARN}
    if statuses:
        parameters["SlackStatuses"] = statuses.split(",")
    return resolve(transform(mode, template()), parameters)


def of_type(resolved: dict[str, Any], kind: str) -> dict[str, Any]:
    return {n: r for n, r in resolved["Resources"].items() if r["Type"] == kind}


@MODES
def test_no_slack_resource_without_the_secret(mode: str) -> None:
    resolved = built(mode)
    assert not [name for name in resolved["Resources"] if "Slack" in name]
    assert not [
        r
        for r in of_type(resolved, "AWS::SNS::Subscription").values()
        if r["Properties"]["Protocol"] == "lambda"
    ]
    assert SLACK_PARAMETER not in str(resolved["Resources"])


def test_the_notifier_is_no_remediator_and_every_remediator_still_is() -> None:
    every = all_functions(template())
    [notifier] = [f for f in every if f.logical_id == FUNCTION]
    assert notifier.handler_module in OPERATING_HANDLERS and not notifier.patterns
    assert FUNCTION not in {f.logical_id for f in functions(template())}
    assert len(functions(template())) == len(every) - 1


@MODES
def test_the_notifier_hears_the_topic(mode: str) -> None:
    resolved = with_slack(mode)
    function = resolved["Resources"][FUNCTION]["Properties"]
    assert function["Handler"] == "slack_notifier.handler"
    assert function["Environment"]["Variables"]["SLACK_WEBHOOK_SECRET_ARN"] == SECRET
    [subscription] = [
        r["Properties"]
        for r in of_type(resolved, "AWS::SNS::Subscription").values()
        if r["Properties"]["Protocol"] == "lambda"
    ]
    assert subscription["TopicArn"] == {"Ref": "NotificationTopic"}
    assert subscription["Endpoint"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    assert "FilterPolicy" not in subscription  # SlackStatuses empty: every message
    [permission] = [
        r["Properties"]
        for r in of_type(resolved, "AWS::Lambda::Permission").values()
        if r["Properties"]["FunctionName"] == {"Ref": FUNCTION}
    ]
    assert permission["Principal"] == "sns.amazonaws.com"
    assert permission["SourceArn"] == {"Ref": "NotificationTopic"}
    assert permission["Action"] == "lambda:InvokeFunction"


def test_slack_statuses_filter_outcomes_but_never_alarms() -> None:
    resolved = with_slack("enforce", "REMEDIATED,FAILED")
    [subscription] = [
        r["Properties"]
        for r in of_type(resolved, "AWS::SNS::Subscription").values()
        if r["Properties"]["Protocol"] == "lambda"
    ]
    assert subscription["FilterPolicy"] == {
        "$or": [{"status": {"Ref": "SlackStatuses"}}, {"status": [{"exists": False}]}]
    }


def test_undelivered_messages_are_retried_then_dead_lettered() -> None:
    resources = with_slack("report")["Resources"]
    props = resources[FUNCTION]["Properties"]
    queue = resource_of(props["DeadLetterConfig"]["TargetArn"])
    assert resources[queue]["Type"] == "AWS::SQS::Queue"
    [invoke] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        and r["Properties"]["FunctionName"] == {"Ref": FUNCTION}
    ]
    assert invoke["MaximumRetryAttempts"] > 0


def statements(resolved: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for role, s in role_statements(resolved) if role == ROLE]


@MODES
def test_the_role_reads_exactly_its_secret_and_writes_nothing_of_yours(mode: str) -> None:
    resolved = with_slack(mode)
    assert resource_of(resolved["Resources"][FUNCTION]["Properties"]["Role"]) == ROLE
    # no wildcard, and not one remediator's write action, in either mode
    findings = role_findings(resolved, remediator_write_actions(template()))
    assert [f for f in findings if f.startswith(f"{ROLE} ")] == []
    granted = {
        action: [*as_list(s["Resource"])]
        for s in statements(resolved)
        for action in as_list(s["Action"])
    }
    assert set(granted) == {
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "sqs:SendMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert granted["secretsmanager:GetSecretValue"] == [SECRET]
    assert granted["sqs:SendMessage"] == [{"Fn::GetAtt": ["RemediationDeadLetterQueue", "Arn"]}]
    assert granted["logs:PutLogEvents"] == [{"Fn::GetAtt": ["SlackNotifierLogGroup", "Arn"]}]
    assert all(s["Effect"] == "Allow" for s in statements(resolved))


def test_kms_decrypt_only_on_the_stack_key_or_through_secrets_manager_for_that_secret() -> None:
    for statement in statements(with_slack("enforce")):
        if "kms:Decrypt" not in as_list(statement["Action"]):
            continue
        if statement["Resource"] == {"Fn::GetAtt": ["StackKey", "Arn"]}:
            continue
        assert statement["Condition"] == {
            "StringEquals": {
                "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"},
                "kms:EncryptionContext:SecretARN": SECRET,
            }
        }


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack",  # no suffix: IAM misses
        "https://hooks.slack.com/services/T0/B0/x",  # the URL itself must never be a parameter
        "arn:aws:ssm:us-east-1:123456789012:parameter/slack-AbCdEf",
    ],
)
def test_the_parameter_takes_a_full_secret_arn_only(value: str) -> None:
    with pytest.raises(ValueError, match="does not match"):
        resolve(transform("report", template()), {SLACK_PARAMETER: value})


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_every_reference_resolves_with_slack(region: str) -> None:
    from tests.contract.template_model import PSEUDO_PARAMETERS, references

    parameters = {"Mode": "enforce", SLACK_PARAMETER: SAMPLE_SLACK_SECRET_ARN}
    resolved = resolve(transform("enforce", template(), region), parameters, region=region)
    resources = resolved["Resources"]
    known = {*resources, *resolved["Parameters"], *PSEUDO_PARAMETERS}
    dangling = set(references(resources)) | set(references(resolved["Outputs"]))
    assert dangling - known == set()
    assert {FUNCTION, ROLE, "SlackNotifierLogGroup"} <= set(resources)


def test_the_notifier_imports_no_renderer_and_no_registry() -> None:
    import subprocess
    import sys

    from tests.contract.template_model import ROOT

    code = (
        "import sys; sys.path.insert(0, 'remediators')\n"
        "import slack_notifier\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('yaml', 'samtranslator', 'tools', 'registry', 'ruamel'))\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
