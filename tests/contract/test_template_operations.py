"""The operating layer in template.yaml: the kill switch, the alarms and the dashboard cover
every function (and every dead-letter queue), in every region the function exists in."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from core.kill_switch import OFF
from tests.contract.template_model import (
    MODES,
    allow_statements,
    built,
    function_ids,
    function_role,
    resource_of,
    template,
    template_functions,
)
from tools.conditions import as_list

TOPIC = {"Ref": "NotificationTopic"}
KILL_SWITCH_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
    ":parameter/${AWS::StackName}/kill-switch"
}


def alarms(resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]


def on_any_error(alarm: dict[str, Any]) -> bool:
    return bool(
        alarm["Threshold"] == 0
        and alarm["ComparisonOperator"] == "GreaterThanThreshold"
        and alarm["EvaluationPeriods"] == 1
        and alarm["TreatMissingData"] == "notBreaching"
        and alarm["AlarmActions"] == [TOPIC]
    )


def test_kill_switch_is_a_parameter_that_starts_off() -> None:
    parameter = template()["Resources"]["KillSwitchParameter"]
    assert parameter["Type"] == "AWS::SSM::Parameter"
    props = parameter["Properties"]
    assert props["Name"] == {"Fn::Sub": "/${AWS::StackName}/kill-switch"}
    assert props["Value"] == OFF and props["Type"] == "String"
    assert re.fullmatch(props["AllowedPattern"], "on") and re.fullmatch(
        props["AllowedPattern"], OFF
    )
    assert not re.fullmatch(props["AllowedPattern"], "enforce")
    assert template()["Outputs"]["KillSwitchParameterName"]["Value"] == {
        "Ref": "KillSwitchParameter"
    }


@MODES
@pytest.mark.parametrize("logical_id", function_ids())
def test_every_function_reads_the_kill_switch_and_only_reads_it(logical_id: str, mode: str) -> None:
    f = next(f for f in template_functions() if f.logical_id == logical_id)
    assert f.environment["KILL_SWITCH_PARAMETER"] == {"Ref": "KillSwitchParameter"}
    resolved = built(mode)
    ssm = [
        s
        for s in allow_statements(resolved, function_role(resolved, f))
        if any(a.lower().startswith("ssm:") for a in as_list(s["Action"]))
    ]
    assert [(as_list(s["Action"]), s["Resource"]) for s in ssm] == [
        (["ssm:GetParameter"], KILL_SWITCH_ARN)
    ]


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_every_function_has_an_errors_alarm_to_the_topic(region: str) -> None:
    resources = built("enforce", region)["Resources"]
    functions = {n for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    watched = {
        resource_of(alarm["Dimensions"][0]["Value"])
        for alarm in alarms(resources)
        if alarm.get("Namespace") == "AWS/Lambda"
        and alarm["MetricName"] == "Errors"
        and alarm["Statistic"] == "Sum"
        and [d["Name"] for d in alarm["Dimensions"]] == ["FunctionName"]
        and on_any_error(alarm)
    }
    assert functions and watched == functions


def test_any_message_in_any_dead_letter_queue_alarms_the_topic() -> None:
    resources = built("enforce")["Resources"]
    queues = {n for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    watched = {
        resource_of(alarm["Dimensions"][0]["Value"])
        for alarm in alarms(resources)
        if alarm.get("Namespace") == "AWS/SQS"
        and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and on_any_error(alarm)
    }
    assert queues and watched == queues


def dashboard_body() -> dict[str, Any]:
    dashboard = template()["Resources"]["OperationsDashboard"]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    body: dict[str, Any] = json.loads(dashboard["Properties"]["DashboardBody"]["Fn::Sub"])
    return body


def widget(title: str) -> dict[str, Any]:
    found = [
        w["properties"] for w in dashboard_body()["widgets"] if w["properties"]["title"] == title
    ]
    assert len(found) == 1, title
    properties: dict[str, Any] = found[0]
    return properties


@pytest.mark.parametrize(
    ("title", "metric"),
    [
        ("Errors per function", "Errors"),
        ("Longest run per function (ms; the timeout is 60 s)", "Duration"),
        ("Throttles per function", "Throttles"),
    ],
)
def test_dashboard_shows_every_function(title: str, metric: str) -> None:
    resources = template()["Resources"]
    names = {
        resources[f.logical_id]["Properties"]["FunctionName"]["Fn::Sub"]
        for f in template_functions()
    }
    lines = widget(title)["metrics"]
    assert {
        line[3] for line in lines if line[:3] == ["AWS/Lambda", metric, "FunctionName"]
    } == names


def test_dashboard_shows_outcomes_by_remediator_and_status_as_the_code_emits_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The search names exactly the EMF namespace and dimension set the runner writes."""
    from core.observability import count_outcome

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "autoremediate")
    count_outcome("s3_bucket_encryption", "REMEDIATED", "enforce")
    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    [metrics] = emf["_aws"]["CloudWatchMetrics"]
    [dimensions] = metrics["Dimensions"]
    [[query]] = widget("Outcomes by remediator and status")["metrics"]
    searched = re.search(r"\{([A-Za-z]+),([a-z,]+)\} MetricName=\"(\w+)\"", query["expression"])
    assert searched, query["expression"]
    assert searched.group(1) == metrics["Namespace"]
    assert sorted(searched.group(2).split(",")) == sorted(dimensions)
    assert searched.group(3) == metrics["Metrics"][0]["Name"]


def test_dashboard_shows_dead_letter_queue_depth() -> None:
    [line] = widget("Dead-letter queue depth")["metrics"]
    assert line[:4] == [
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "${RemediationDeadLetterQueue.QueueName}",
    ]
