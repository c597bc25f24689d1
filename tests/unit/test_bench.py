"""The benchmark's pure helpers, that it can read what the template and events say, and that
each sample's facts (events/<module>/samples.toml) hold: a minimum with a reason, and a seed that
puts the resource in the state its expected status needs, for every sample of every function."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from core.runner import Runner
from core.settings import Settings
from registry import REMEDIATORS
from tools.bench.config import COLD_RUNS, WARM_RUNS
from tools.bench.environment import function_env, resolve
from tools.bench.report import BenchError, Stats
from tools.bench.samples import expected_status, representative_sample
from tools.bench.startup_cost import importtime_above_boto3
from tools.routing import functions, load_template
from tools.samples import STATUSES, SamplesError, parse, samples_of
from tools.scenario import (
    EVENTS,
    OWN_ROLE_ARN,
    Stack,
    load_event,
    moto_as_aws,
    prepare,
    prepare_quiet,
    seed,
)

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
    stats = Stats.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (stats.n, stats.median, stats.q1, stats.q3, stats.low, stats.high) == (
        5,
        3.0,
        2.0,
        4.0,
        1.0,
        5.0,
    )
    with pytest.raises(BenchError):
        Stats.of([1.0])


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
    assert resolve(value, TEMPLATE, STACK) == expected


def test_an_unknown_intrinsic_breaks_the_bench_loudly():
    with pytest.raises(BenchError, match="cannot resolve"):
        resolve({"Fn::GetAtt": ["LedgerTable", "Arn"]}, TEMPLATE, STACK)


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
    assert importtime_above_boto3(stderr) == [
        (30, 30, "     core.outcome"),
        (50, 20, "   core.runner"),
    ]


def test_every_function_of_the_template_has_a_sample_and_resolvable_environment():
    template = load_template()
    for fn in functions(template):
        sample = representative_sample(fn)
        assert (EVENTS / fn.handler_module / f"{sample}.json").is_file()
        env = function_env(template, fn, STACK)
        assert env["MODE"] == "enforce"
        assert env["LEDGER_TABLE"] == STACK.table
        # The loop guard recognises the role that the own-action sample event comes from.
        [own] = (EVENTS / fn.handler_module).glob("*-own-action.json")
        identity = load_event(own.stem, fn.handler_module)["detail"]["userIdentity"]
        assert env["OWN_ROLE_ARNS"] == identity["sessionContext"]["sessionIssuer"]["arn"]
        # The sample is a fix (REMEDIATED), but for the report-only function.
        report_only = not importlib.import_module(fn.handler_module).REMEDIATOR.write_actions
        assert expected_status(fn, sample) == ("WOULD_REMEDIATE" if report_only else "REMEDIATED")
    iam = next(f for f in functions(template) if f.handler_module == "iam_policy_least_privilege")
    assert function_env(template, iam, STACK).get("OWN_ROLE_ARNS") == OWN_ROLE_ARN
    s3 = next(f for f in functions(template) if f.logical_id == "S3BucketEncryptionFunction")
    assert function_env(template, s3, STACK)["S3_ENCRYPTION_LEVEL"] == "SSE-KMS"
    assert template["Parameters"]["S3EncryptionLevel"]["Default"] == "SSE-S3"  # hence the override


def test_every_registered_remediator_has_its_samples_facts():
    """One samples.toml per remediator of the registry, and per function of the template."""
    modules = [fn.handler_module for fn in functions(load_template())]
    assert sorted(modules) == sorted(REMEDIATORS)
    on_disk = sorted(p.parent.name for p in EVENTS.glob("*/samples.toml"))
    assert on_disk == sorted(REMEDIATORS)
    for module in REMEDIATORS:
        facts = samples_of(module)
        assert facts.representative in facts.samples and set(facts.demo) <= set(facts.samples)


def test_the_minimum_table_names_existing_events_only():
    for module in REMEDIATORS:
        names = {p.stem for p in (EVENTS / module).glob("*.json")}
        table = samples_of(module).samples
        assert set(table) <= names, set(table) - names


def test_every_sample_event_of_every_function_has_a_minimum_with_a_reason():
    for fn in functions(load_template()):
        names = {p.stem for p in (EVENTS / fn.handler_module).glob("*.json")}
        table = samples_of(fn.handler_module).samples
        assert set(table) == names, names ^ set(table)
        for name, minimum in table.items():
            assert minimum.why.strip(), name
            assert minimum.status in STATUSES, name
            if name.endswith("-failed-call"):
                assert (minimum.calls, minimum.status) == (0, "SKIPPED"), name
            elif name.endswith("-own-action"):  # re-checked, never skipped (core.loop_guard)
                reads = importlib.import_module(fn.handler_module).REMEDIATOR.read_actions
                assert minimum.status != "SKIPPED", name  # without reads it has none to make
                assert (minimum.calls > 0) == bool(reads), name
                assert minimum.seed, f"{fn.handler_module} {name}: no seed"
                writes = importlib.import_module(fn.handler_module).REMEDIATOR.write_actions
                if writes:  # the echo of our own fix: its seed is the state the fix leaves
                    assert minimum.status == "COMPLIANT", name
            elif minimum.status != "SKIPPED":  # a change to make or report: it has a state
                assert minimum.seed, f"{fn.handler_module} {name}: no seed"


def test_the_statuses_a_sample_may_expect_are_outcome_statuses():
    from core.outcome import Status

    assert set(STATUSES) == {s.value for s in Status} - {"FAILED"}


SNS = 'representative = "CreateTopic"\n[samples.CreateTopic]\ncalls = 1\nwhy = "x"\n'


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (SNS + 'stat = "SKIPPED"', "unknown keys"),
        (SNS.replace("calls = 1", "calls = -1"), "calls"),
        (SNS.replace('why = "x"', 'why = " "'), "why"),
        (SNS + 'status = "FIXED"', "status"),
        (SNS.replace('= "CreateTopic"', '= "SetTopicAttributes"'), "representative"),
        (SNS.replace("[samples.CreateTopic]", "[samples.Nope]"), "names no events"),
        (SNS + 'seed = ["topic"]', "no state"),
        (SNS + 'seed = [{ replay = "Nope" }]', "replay"),
        (SNS + 'seed = [{ service = "sns" }]', "a step is"),
        ('demo = ["Nope"]\n' + SNS, "demo"),
        ("settings = { A = 1 }\n" + SNS, "settings"),
    ],
)
def test_a_samples_file_that_says_something_wrong_is_refused(text, complaint):
    """Typos break the tools loudly, where they are, instead of seeding something else."""
    import tomllib

    with pytest.raises(SamplesError, match=complaint):
        parse("sns_topic_encryption", tomllib.loads(text))


def test_a_seed_substitutes_earlier_results_and_tolerates_its_ok_codes(aws):
    facts = parse(
        "sqs_queue_encryption",
        {
            "representative": "CreateQueue",
            "samples": {
                "CreateQueue": {
                    "calls": 1,
                    "why": "x",
                    "seed": [
                        {"service": "sqs", "operation": "create_queue",
                         "params": {"QueueName": "q-${ACCOUNT}-${REGION}"}},
                        {"service": "sqs", "operation": "tag_queue",
                         "params": {"QueueUrl": "${create_queue.QueueUrl}", "Tags": {"a": "b"}}},
                        {"service": "sqs", "operation": "get_queue_url", "ok": ["QueueDoesNotExist",
                         "AWS.SimpleQueueService.NonExistentQueue"], "params": {"QueueName": "no"}},
                    ],
                }
            },
        },
    )  # fmt: skip
    seed(aws, "sqs_queue_encryption", facts["CreateQueue"].seed)
    url = aws("sqs").get_queue_url(QueueName="q-123456789012-us-east-1")["QueueUrl"]
    assert aws("sqs").list_queue_tags(QueueUrl=url)["Tags"] == {"a": "b"}


def _cases() -> list[tuple[str, str]]:
    """Every sample of every registered remediator (a missing or wrong samples.toml is
    test_every_registered_remediator_has_its_samples_facts's failure, not a collection error)."""
    cases = []
    for module in REMEDIATORS:
        try:
            cases += [(module, name) for name in samples_of(module).samples]
        except SamplesError:
            continue
    return cases


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture
def moto_like_the_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto as the bench's server runs it (tools.scenario.moto_as_aws), undone after the test:
    each patched attribute is put back (or removed) by monkeypatch."""
    from moto.apigateway.models import APIGatewayBackend
    from moto.apigateway.responses import APIGatewayResponse
    from moto.apigatewayv2.responses import ApiGatewayV2Response
    from moto.cloudfront.models import CloudFrontBackend
    from moto.dynamodb.responses import DynamoHandler

    patched = [
        (DynamoHandler, "update_table"),
        (CloudFrontBackend, "create_distribution_with_tags"),
        (APIGatewayBackend, "create_usage_plan"),
        (APIGatewayResponse, "update_domain_name"),
        (ApiGatewayV2Response, "update_domain_name"),
    ]
    for owner, name in patched:
        monkeypatch.setattr(owner, name, getattr(owner, name, None), raising=False)
        if getattr(owner, name) is None:  # added by the patch: removed after the test
            monkeypatch.delattr(owner, name)
    moto_as_aws()


@pytest.mark.parametrize(("module", "name"), _cases())
def test_seeding_gives_each_sample_its_expected_status_again_and_again(
    aws: Any, stack: Stack, template: dict[str, Any], moto_like_the_bench: None,
    monkeypatch: pytest.MonkeyPatch, module: str, name: str,
) -> None:  # fmt: skip
    """What the bench's sections rely on: seed, run (enforce), re-seed (the warm runs), run;
    once only where samples.toml says the seeds do not repeat, four times for the
    representative."""
    [fn] = [f for f in functions(template) if f.handler_module == module]
    env = function_env(template, fn, stack)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = Runner(importlib.import_module(module).REMEDIATOR, Settings.from_env(env), aws)
    facts = samples_of(module)
    expected = facts[name].status
    representative = name == facts.representative
    # The representative is remediated over and over (cold and warm runs): more often here than
    # the circuit breaker's default of 3 allows, which the bench's environment lifts.
    assert int(env["CIRCUIT_BREAKER_REMEDIATIONS"]) > COLD_RUNS + WARM_RUNS
    for _ in range(4 if representative else 2 if facts.repeatable else 1):
        event = prepare(aws, name, module)
        assert [o.status for o in runner.run(event)] == [expected]
    if not representative:
        return
    # The warm "compliant" runs: the same event after the fix, or after seeding a compliant
    # resource for a report-only function (whose event stays WOULD_REMEDIATE).
    event = prepare_quiet(aws, module, event)
    assert [o.status for o in runner.run(event)] == ["COMPLIANT"]
