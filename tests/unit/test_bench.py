"""The benchmark's pure helpers, and that it can read what the template and events say."""

from __future__ import annotations

import pytest

from tools import bench
from tools.routing import functions, load_template
from tools.scenario import EVENTS, OWN_ROLE_ARN, Stack

STACK = Stack("ledger", "arn:aws:sns:us-east-1:123456789012:topic", "inbox")
TEMPLATE = {
    "Parameters": {
        "Mode": {"Type": "String", "Default": "report"},
        "LogLevel": {"Type": "String", "Default": "INFO"},
        "ExemptPrincipalArns": {"Type": "CommaDelimitedList", "Default": ""},
    },
    "Resources": {
        "LedgerTable": {"Type": "AWS::DynamoDB::Table"},
        "NotificationTopic": {"Type": "AWS::SNS::Topic"},
        "FnRole": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/autoremediate/"}},
    },
}


def test_stats_are_medians_with_quartiles():
    stats = bench.Stats.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (stats.n, stats.median, stats.q1, stats.q3, stats.low, stats.high) == (
        5,
        3.0,
        2.0,
        4.0,
        1.0,
        5.0,
    )
    with pytest.raises(bench.BenchError):
        bench.Stats.of([1.0])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Mode"}, "enforce"),  # the bench measures enforce mode
        ({"Ref": "LogLevel"}, "INFO"),
        ({"Ref": "LedgerTable"}, "ledger"),
        ({"Ref": "NotificationTopic"}, STACK.topic_arn),
        ({"Fn::Join": [",", {"Ref": "ExemptPrincipalArns"}]}, ""),
        ({"Fn::Join": ["-", ["a", {"Ref": "LogLevel"}]]}, "a-INFO"),
        ("/autoremediate/", "/autoremediate/"),
        (
            {"Fn::GetAtt": ["FnRole", "Arn"]},
            "arn:aws:iam::123456789012:role/autoremediate/autoremediate-FnRole-1A2B3C4D5E6F",
        ),
    ],
)
def test_environment_values_resolve_as_deployed(value, expected):
    assert bench._resolve(value, TEMPLATE, STACK) == expected


def test_an_unknown_intrinsic_breaks_the_bench_loudly():
    with pytest.raises(bench.BenchError, match="cannot resolve"):
        bench._resolve({"Fn::GetAtt": ["LedgerTable", "Arn"]}, TEMPLATE, STACK)


def test_import_profile_keeps_only_what_comes_after_boto3():
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |   botocore",
            "import time:        50 |        150 | boto3",
            "import time:        30 |         30 |     core.outcome",
            "import time:        20 |         50 |   core.runner",
        ]
    )
    assert bench._importtime_above_boto3(stderr) == [
        (30, 30, "     core.outcome"),
        (50, 20, "   core.runner"),
    ]


def test_every_function_of_the_template_has_a_sample_and_resolvable_environment():
    template = load_template()
    for fn in functions(template):
        sample = bench._sample(fn)
        assert (EVENTS / fn.handler_module / f"{sample}.json").is_file()
        env = bench.function_env(template, fn, STACK)
        assert env["MODE"] == "enforce"
        assert env["LEDGER_TABLE"] == STACK.table
    # The loop guard recognises the role that the own-action sample event comes from.
    iam = next(f for f in functions(template) if f.handler_module == "iam_policy_least_privilege")
    assert bench.function_env(template, iam, STACK).get("OWN_ROLE_ARNS") == OWN_ROLE_ARN


def test_the_minimum_table_names_existing_events_only():
    for module, table in bench.MINIMUM.items():
        names = {p.stem for p in (EVENTS / module).glob("*.json")}
        assert set(table) <= names, set(table) - names


def test_the_aws_managed_policies_the_events_name_are_found():
    assert "AdministratorAccess" in bench.aws_managed_policies()
