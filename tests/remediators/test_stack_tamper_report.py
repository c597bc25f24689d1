"""The stack tampering reporter in a moto account: report-only in both modes.

Every call on our stack's rules, functions and topic, and any stopped or deleted trail, is
WOULD_REMEDIATE (HIGH) in report AND enforce mode, with the live state the call left (a resource
deleted in between is still reported) and the steps that restore it; nothing is written. Other
teams' resources and CloudFormation's updates of our stack are compliant and quiet.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

import stack_tamper_report as module
from core.ledger import Ledger
from core.outcome import Outcome, Status
from stack_tamper_report import REMEDIATOR
from tests.remediators.calls import api_calls
from tests.remediators.faults import FailingAws
from tools.samples import samples_of
from tools.scenario import ACCOUNT, REGION, inbox, load_event, prepare

M = "stack_tamper_report"
OWN_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/autoremediate/autoremediate-StackTamperReportRole-1A2B3C4D5E6F"
)
RULE = "autoremediate-IamPolicyLeastPrivilegeFunctionCl-9ZQ4X7RLT2KD"
FUNCTION = "autoremediate-iam-policy-least-privilege"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:autoremediate-notifications"  # tools.scenario's stack
TRAIL = "management-events"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{RULE}"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
SUBSCRIPTION = f"{TOPIC}:3c5e7a9b-1d2f-4a6b-8c0d-2e4f6a8b0c1d"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}"
LEDGER = "autoremediate-ledger"  # tools.scenario's stack
LEDGER_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{LEDGER}"
TEMPLATE_POLICY = "<the LedgerTable ResourcePolicy of aws cloudformation get-template"
SERVICES = ("events", "lambda", "sns", "cloudtrail", "dynamodb")
# What the runner calls for every outcome (the notification, the ledger): not the finding's.
RUNNER_CALLS = {"sns:Publish", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"}
# botocore names the EventBridge API `eventbridge`; IAM says `events`.
NAMES = {f"eventbridge:{op}": f"events:{op}" for op in ("DescribeRule", "ListTargetsByRule")}
# sample -> (resource, the `before` it must report once its seed ran, a restore step it names)
CASES = {
    "DisableRule": (RULE_ARN, {"State": "DISABLED", "Targets": [FUNCTION_ARN]},
                    f"1. aws events enable-rule --name {RULE}"),
    "DeleteRule": (RULE_ARN, {"deleted": True}, "1. sam delete, then sam deploy"),
    "RemoveTargets": (RULE_ARN, {"State": "ENABLED", "Targets": []},
                      f"aws events put-targets --rule {RULE} --targets"
                      " Id=IamPolicyLeastPrivilegeFunctionCloudTrailLambdaTarget"),
    "PutTargets": (RULE_ARN, {"State": "ENABLED", "Targets": [
                       f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:alice-noop"]},
                   f"aws events put-targets --rule {RULE}"),
    "PutRule": (RULE_ARN, {"State": "ENABLED", "Targets": [FUNCTION_ARN]},
                f"aws events put-rule --name {RULE} --state ENABLED"),
    "UpdateFunctionCode20150331v2": (FUNCTION_ARN, "function",
                                     f"aws lambda update-function-code --function-name {FUNCTION}"),
    "UpdateFunctionConfiguration20150331v2": (FUNCTION_ARN, "function",
                                              "aws lambda update-function-configuration"),
    "DeleteFunction20150331": (FUNCTION_ARN, {"deleted": True}, "1. sam delete, then sam deploy"),
    "PutFunctionConcurrency20171031": (FUNCTION_ARN, "function",
                                       f"aws lambda delete-function-concurrency --function-name"
                                       f" {FUNCTION}"),
    "AddPermission20150331v2": (FUNCTION_ARN, "function", f"aws lambda remove-permission"
                                f" --function-name {FUNCTION} --statement-id debug-invoke"),
    "RemovePermission20150331v2": (FUNCTION_ARN, "function", "aws lambda add-permission"),
    "DeleteTopic": (TOPIC, {"deleted": True}, "1. sam delete, then sam deploy"),
    "Unsubscribe": (SUBSCRIPTION, "topic", f"aws sns subscribe --topic-arn {TOPIC}"),
    "SetSubscriptionAttributes": (SUBSCRIPTION, "topic",
                                  "--attribute-name FilterPolicy --attribute-value"),
    "RemovePermission": (TOPIC, "topic", "--attribute-name Policy"),
    "StopLogging": (TRAIL_ARN, {"IsLogging": False},
                    f"1. aws cloudtrail start-logging --name {TRAIL_ARN}"),
    "DeleteTrail": (f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}", {"deleted": True},
                    f"aws cloudtrail create-trail --name {TRAIL}"),
    "PutResourcePolicy": (LEDGER_ARN, {"ResourcePolicy": ["AliceWritesTheLedger"]},
                          f"1. aws dynamodb put-resource-policy --resource-arn {LEDGER_ARN}"
                          f" --policy {TEMPLATE_POLICY}"),
    "DeleteResourcePolicy": (LEDGER_ARN, {"ResourcePolicy": "none"},
                             f"1. aws dynamodb put-resource-policy --resource-arn {LEDGER_ARN}"),
}  # fmt: skip
# A sample of each kind, and what names the resource in its requestParameters.
KINDS = {"DisableRule": "name", "UpdateFunctionConfiguration20150331v2": "functionName",
         "Unsubscribe": "subscriptionArn", "RemovePermission": "topicArn",
         "StopLogging": "name", "DeleteResourcePolicy": "resourceArn"}  # fmt: skip
OTHER_TEAMS = {
    "DisableRule": "billing-nightly-export",
    "UpdateFunctionConfiguration20150331v2": "billing-export",
    "Unsubscribe": f"arn:aws:sns:{REGION}:{ACCOUNT}:billing-events:0a1b2c3d",
    "RemovePermission": f"arn:aws:sns:{REGION}:{ACCOUNT}:billing-events",
    "DeleteResourcePolicy": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/billing-events",
}

Run = Callable[..., list[Outcome]]


@pytest.fixture(autouse=True)
def environment(stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the template sets on the function: the stack's name and its topic."""
    assert stack.topic_arn == TOPIC
    monkeypatch.setenv("STACK_NAME", "autoremediate")
    monkeypatch.setenv("TOPIC_ARN", stack.topic_arn)
    monkeypatch.setenv("LEDGER_TABLE", stack.table)


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    """The real runner with the stack's settings, and this function's own role for the guard."""
    return make_run(REMEDIATOR, own_role=OWN_ROLE)


def live(aws: Any) -> dict[str, Any]:
    """Everything a tampering sample touches, as it stands: must not change when we run."""
    state: dict[str, Any] = {}
    events = aws("events")
    state["rules"] = [(r["Name"], r.get("State"), r.get("EventPattern"),
                       events.list_targets_by_rule(Rule=r["Name"])["Targets"])
                      for r in events.list_rules()["Rules"]]  # fmt: skip
    lam = aws("lambda")
    state["functions"] = []
    for f in lam.list_functions()["Functions"]:
        concurrency = lam.get_function_concurrency(FunctionName=f["FunctionName"])
        state["functions"].append((f, concurrency.get("ReservedConcurrentExecutions")))
    state["topics"] = [
        aws("sns").get_topic_attributes(TopicArn=t["TopicArn"])["Attributes"]
        for t in aws("sns").list_topics()["Topics"]
    ]
    trails = aws("cloudtrail").describe_trails()["trailList"]
    try:
        state["ledger_policy"] = aws("dynamodb").get_resource_policy(ResourceArn=LEDGER_ARN)[
            "Policy"
        ]
    except aws("dynamodb").exceptions.PolicyNotFoundException:
        state["ledger_policy"] = None
    state["trails"] = [(t["Name"], aws("cloudtrail").get_trail_status(Name=t["Name"])["IsLogging"])
                       for t in trails]  # fmt: skip
    return state


def expected_before(aws: Any, kind: Any) -> Any:
    """`before` as read independently of the remediator, for the samples whose values moto makes
    (code hashes, times)."""
    if kind == "function":
        found = aws("lambda").get_function_configuration(FunctionName=FUNCTION)
        keys = ("CodeSha256", "LastModified", "Role", "Timeout", "State")
        before = {k: found[k] for k in keys}
        concurrency = aws("lambda").get_function_concurrency(FunctionName=FUNCTION)
        if "ReservedConcurrentExecutions" in concurrency:
            before["ReservedConcurrentExecutions"] = concurrency["ReservedConcurrentExecutions"]
        return before
    if kind == "topic":
        attributes = aws("sns").get_topic_attributes(TopicArn=TOPIC)["Attributes"]
        return {"SubscriptionsConfirmed": attributes["SubscriptionsConfirmed"]}
    return kind


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_tampering_is_reported_with_the_live_state_in_every_mode(aws, stack, run, name, mode):
    event = prepare(aws, name, M)
    resource, before, step = CASES[name]
    expected = expected_before(aws, before)
    topic_gone = name == "DeleteTopic"  # its own notification cannot be delivered, as in AWS
    state = live(aws)

    with api_calls(aws, *SERVICES, names=NAMES) as calls:
        [outcome] = run(event, mode)

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.reason == (
        "report mode" if mode == "report" else "cannot be fixed in place: manual steps needed"
    )
    assert outcome.resource_arn == resource
    assert live(aws) == state  # nothing written, in either mode
    assert set(calls) - RUNNER_CALLS <= set(REMEDIATOR.read_actions)
    assert len([c for c in calls if c not in RUNNER_CALLS]) == samples_of(M)[name].calls
    [change] = outcome.changes
    assert change.call is None and change.undo == ()
    assert change.before == expected
    assert step in change.summary
    assert step.removeprefix("1. ") in "; ".join(change.after["steps"])
    assert ": 1. " in change.summary  # the steps, numbered (the demo lists them)
    entry = Ledger(aws, stack.table).get(outcome.outcome_id)
    assert entry["status"] == "WOULD_REMEDIATE" and entry["severity"] == "HIGH"
    assert entry["changes"][0]["manual"] is True and "undo" not in entry
    if not topic_gone:
        [note] = inbox(aws, stack)
        assert note["attributes"]["severity"] == "HIGH"
        assert note["attributes"]["mode"] == mode
        assert note["body"]["actor"]["arn"].endswith("assumed-role/DeveloperRole/alice")


@pytest.mark.parametrize(("name", "kind"), [
    ("DisableRule", "rule"), ("UpdateFunctionCode20150331v2", "function"),
    ("Unsubscribe", "topic"), ("StopLogging", "trail"),
])  # fmt: skip
def test_a_resource_deleted_in_between_is_still_reported(aws, stack, run, name, kind):
    """Not SKIPPED (the other remediators' gone_errors): the deletion is the finding."""
    if kind == "topic":
        aws("sns").delete_topic(TopicArn=TOPIC)

    [outcome] = run(load_event(name, M), "enforce")  # nothing seeded: no such rule, function...

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.changes[0].before == {"deleted": True}
    assert ", now deleted; restore: 1. " in outcome.changes[0].summary
    assert REMEDIATOR.gone_errors == ()


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize("name", sorted(OTHER_TEAMS))
def test_other_teams_resources_are_compliant_and_quiet(aws, stack, run, name, mode):
    event = prepare(aws, name, M)
    event["detail"]["requestParameters"][KINDS[name]] = OTHER_TEAMS[name]

    with api_calls(aws, *SERVICES, names=NAMES) as calls:
        [outcome] = run(event, mode)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert calls == [] and inbox(aws, stack) == []


def test_a_rule_of_our_name_on_another_bus_is_not_ours(aws, stack, run):
    event = prepare(aws, "DisableRule", M)
    event["detail"]["requestParameters"]["eventBusName"] = "billing-bus"

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.COMPLIANT
    assert outcome.resource_arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/billing-bus/{RULE}"


def test_another_stack_of_a_longer_name_is_not_ours(aws, stack, run, monkeypatch):
    """The prefix is the stack name and its dash: stack `autoremediate-dev` owns none of ours."""
    monkeypatch.setenv("STACK_NAME", "autoremediate-dev")

    [outcome] = run(prepare(aws, "DisableRule", M), "enforce")

    assert outcome.status is Status.COMPLIANT


@pytest.mark.parametrize("name", [
    f"{ACCOUNT}:function:{FUNCTION}", f"{FUNCTION}:live", f"{FUNCTION_ARN}:7", FUNCTION,
])  # fmt: skip
def test_a_function_is_named_by_name_or_arn_with_or_without_qualifier(aws, stack, run, name):
    event = prepare(aws, "UpdateFunctionConfiguration20150331v2", M)
    event["detail"]["requestParameters"]["functionName"] = name

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.WOULD_REMEDIATE
    assert outcome.resource_arn == FUNCTION_ARN
    assert outcome.changes[0].before["Timeout"] == 1


def test_any_trail_counts_not_only_ours(aws, stack, run):
    """A stopped trail blinds every rule of ours: any trail of the account is reported."""
    aws("s3").create_bucket(Bucket="billing-trail-logs")
    aws("cloudtrail").create_trail(Name="billing-trail", S3BucketName="billing-trail-logs")
    event = load_event("StopLogging", M)
    event["detail"]["requestParameters"]["name"] = "billing-trail"

    [outcome] = run(event, "report")

    assert outcome.status is Status.WOULD_REMEDIATE
    assert outcome.changes[0].before == {"IsLogging": False}


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize(
    "name",
    [
        "UpdateFunctionCode20150331v2-cloudformation",
        "DisableRule",
        "DeleteFunction20150331",
        "DeleteTopic",
        "Unsubscribe",
    ],
)
def test_cloudformation_updating_our_stack_is_compliant_and_quiet(aws, stack, run, name, mode):
    """The deployer's `sam deploy` makes these very calls, through CloudFormation."""
    event = prepare(aws, name, M)
    event["detail"]["userIdentity"]["invokedBy"] = "cloudformation.amazonaws.com"

    with api_calls(aws, *SERVICES, names=NAMES) as calls:
        [outcome] = run(event, mode)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert calls == [] and inbox(aws, stack) == []


def test_a_trail_stopped_through_cloudformation_is_still_reported(aws, stack, run):
    """Another team's stack is not our deployer: a trail is no part of our stack."""
    event = prepare(aws, "StopLogging", M)
    event["detail"]["userIdentity"]["invokedBy"] = "cloudformation.amazonaws.com"

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.WOULD_REMEDIATE


@pytest.mark.parametrize(
    "name", ["DeleteFunctionConcurrency20171031", "DeleteFunctionEventInvokeConfig20190925"]
)
def test_other_calls_the_delete_function_prefix_matches_are_reported_too(aws, stack, run, name):
    """The rule matches `DeleteFunction*`: these undo our retries or concurrency."""
    event = prepare(aws, "DeleteFunction20150331", M)
    aws("lambda").create_function(
        FunctionName=FUNCTION, Runtime="python3.13", Handler="a.handler", Code={"ZipFile": "x"},
        Role=f"arn:aws:iam::{ACCOUNT}:role/autoremediate/autoremediate-IamPolicyLeastPrivilegeRole-1A2B3C4D5E6F",
    )  # fmt: skip
    event["detail"]["eventName"] = name

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.WOULD_REMEDIATE
    assert outcome.changes[0].before != {"deleted": True}
    assert f"was changed ({name[:-8]})" in outcome.changes[0].summary


def test_access_denied_fails_loudly(aws, stack, run):
    event = prepare(aws, "DisableRule", M)
    failing = FailingAws(aws, "describe_rule", "AccessDeniedException", service="events")

    [outcome] = run(event, "enforce", aws_=failing)

    assert outcome.status is Status.FAILED
    assert outcome.reason.startswith("AccessDeniedException while reading the resource")
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "FAILED" and note["attributes"]["severity"] == "HIGH"


def test_a_failed_call_is_skipped_quietly(aws, stack, run):
    event = prepare(aws, "DisableRule-failed-call", M)

    with api_calls(aws, *SERVICES, names=NAMES) as calls:
        [outcome] = run(event, "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert calls == [] and inbox(aws, stack) == []


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_tampering_with_our_own_role_is_reported_high(aws, stack, run, mode):
    """No fix of ours makes this call: done with our role, it is someone using the role."""
    event = prepare(aws, "DisableRule-own-action", M)
    before = live(aws)

    [outcome] = run(event, mode)

    assert outcome.status is Status.WOULD_REMEDIATE and not outcome.quiet
    assert outcome.reason.startswith("changed with autoremediate's own role")
    [note] = inbox(aws, stack)
    assert note["attributes"]["severity"] == "HIGH"
    assert live(aws) == before


def test_without_the_stack_name_it_fails_loudly(aws, stack, run, monkeypatch):
    monkeypatch.delenv("STACK_NAME")

    [outcome] = run(prepare(aws, "DisableRule", M), "enforce")

    assert outcome.status is Status.FAILED
    assert outcome.reason == "configuration error: environment variable STACK_NAME is not set"


def test_event_without_the_resource_is_malformed(aws, stack, run):
    event = copy.deepcopy(load_event("RemoveTargets", M))
    del event["detail"]["requestParameters"]["rule"]

    [outcome] = run(event, "enforce")

    assert (
        outcome.status is Status.SKIPPED and outcome.reason == "malformed event: event lacks name"
    )


def test_an_event_of_another_service_is_malformed(aws, stack, run):
    event = load_event("DisableRule", M)
    event["detail"]["eventSource"] = "scheduler.amazonaws.com"

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.SKIPPED
    assert "is not a trigger of stack_tamper_report" in outcome.reason


def test_it_holds_no_write_and_no_undo():
    assert REMEDIATOR.write_actions == ()
    assert module.DECLARATION.inverse_operations == ()
    assert REMEDIATOR.severity == "HIGH"


def test_handler_runs_what_lambda_runs(aws, stack, monkeypatch):
    for key, value in {**stack.env("enforce"), "OWN_ROLE_ARNS": OWN_ROLE}.items():
        monkeypatch.setenv(key, value)
    event = prepare(aws, "StopLogging", M)

    [result] = module.handler(event, None)

    assert result["status"] == "WOULD_REMEDIATE" and result["resource"] == TRAIL_ARN
