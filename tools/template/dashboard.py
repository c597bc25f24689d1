"""The operations dashboard: rendered, because it names every function (a hand-written list
would fall behind the first time someone adds a remediator).

Outcomes come from the runner's EMF metric (core.observability: namespace Autoremediate, metric
Outcomes, dimensions remediator, status, mode and service); the rest are AWS/Lambda and AWS/SQS
metrics of the stack's own functions and dead-letter queue.
"""

from __future__ import annotations

import json
from typing import Any

from core.declaration import Declaration, sub
from tools.template.functions import DEAD_LETTER_QUEUE

NAMESPACE = "Autoremediate"
OUTCOME_DIMENSIONS = "{Autoremediate,mode,remediator,service,status}"
PERIOD = 300
LAMBDA_METRICS = (  # metric, statistic, title
    ("Errors", "Sum", "Errors per function"),
    ("Duration", "Maximum", "Longest run per function (ms; the timeout is 60 s)"),
    ("Throttles", "Sum", "Throttles per function"),
)


def resource(declared: list[Declaration]) -> dict[str, Any]:
    """An AWS::CloudWatch::Dashboard named after the stack and region (dashboard names are
    global to the account; the same stack may run in several regions)."""
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {
            "DashboardName": sub("${AWS::StackName}-${AWS::Region}"),
            "DashboardBody": sub(body(declared)),
        },
    }


def body(declared: list[Declaration]) -> str:
    """The dashboard JSON, with ${AWS::StackName}, ${AWS::Region} and the queue's name for
    Fn::Sub to fill in."""
    widgets = [
        _outcomes("Outcomes by remediator and status", ""),
        _outcomes("Failed outcomes by remediator", ' status="FAILED"'),
        *(_per_function(metric, stat, title, declared) for metric, stat, title in LAMBDA_METRICS),
        _dead_letters(),
    ]
    for index, widget in enumerate(widgets):  # two widgets a row, 12 columns each
        widget.update(x=(index % 2) * 12, y=(index // 2) * 6, width=12, height=6)
    return json.dumps({"widgets": widgets})  # spaces after , and : let YAML fold it


def _graph(title: str, metrics: list[Any], stacked: bool = False) -> dict[str, Any]:
    return {
        "type": "metric",
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "view": "timeSeries",
            "stacked": stacked,
            "period": PERIOD,
            "metrics": metrics,
        },
    }


def _outcomes(title: str, only: str) -> dict[str, Any]:
    """One line per remediator, status and mode: a search, so that a status or remediator
    seen for the first time appears without editing the dashboard."""
    search = f"SEARCH('{OUTCOME_DIMENSIONS} MetricName=\"Outcomes\"{only}', 'Sum', {PERIOD})"
    return _graph(title, [[{"expression": search, "id": "outcomes", "label": ""}]], stacked=True)


def function_name(declaration: Declaration) -> str:
    return f"${{AWS::StackName}}-{declaration.name.replace('_', '-')}"


def _per_function(metric: str, stat: str, title: str, declared: list[Declaration]) -> Any:
    lines = [
        ["AWS/Lambda", metric, "FunctionName", function_name(d), {"stat": stat, "label": d.name}]
        for d in declared
    ]
    return _graph(title, lines)


def _dead_letters() -> dict[str, Any]:
    queue = f"${{{DEAD_LETTER_QUEUE}.QueueName}}"
    line = ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue]
    return _graph("Dead-letter queue depth", [[*line, {"stat": "Maximum"}]])
