"""Tampering with this stack (its rules, functions, topic, ledger policy) or any trail: report.

The finding is the call itself, and what it broke is the template's to define, not ours to
guess: so each call gives one manual change (no call; the role cannot write at all) that says
what was done to which resource, how it stands now (read live: a resource deleted in between is
the finding itself, never SKIPPED) and what restores it. The outcome is WOULD_REMEDIATE in every
mode, severity HIGH. Other teams' rules, functions and topics are compliant and quiet.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from core.declaration import CloudTrail, Declaration, Policy, allow, arn, ref
from core.event import EventError, Trigger, required
from core.handler import lambda_handler
from core.outcome import Change
from core.remediator import Aws, Evaluation, Remediator
from core.settings import required_env

# fmt: off
FUNCTION_CALLS = ("UpdateFunctionCode", "UpdateFunctionConfiguration", "DeleteFunction",
                  "PutFunctionConcurrency", "AddPermission", "RemovePermission")
SNS_CALLS = ("DeleteTopic", "Unsubscribe", "SetSubscriptionAttributes", "RemovePermission")
DECLARATION = Declaration(
    name="stack_tamper_report",
    title="Stack tampering (report only)",
    description="Reports changes to this stack's rules, functions and topic, and stopped trails",
    cloudtrail=(
        CloudTrail("events.amazonaws.com",
                   ("DisableRule", "DeleteRule", "RemoveTargets", "PutTargets", "PutRule")),
        CloudTrail("lambda.amazonaws.com", (), rule="CloudTrailLambda", prefixes=FUNCTION_CALLS,
                   why="Lambda's event names carry API versions: UpdateFunctionCode20150331v2."),
        CloudTrail("sns.amazonaws.com", SNS_CALLS, rule="CloudTrailSns"),
        CloudTrail("cloudtrail.amazonaws.com", ("StopLogging", "DeleteTrail"),
                   rule="CloudTrailTrail", why="Any trail: a stopped trail blinds us."),
        CloudTrail("dynamodb.amazonaws.com", ("PutResourcePolicy", "DeleteResourcePolicy"),
                   rule="CloudTrailLedger", why="The ledger's resource policy keeps forged"
                   " entries out of the ledger (undo replays what an entry says)."),
    ),
    environment={"STACK_NAME": ref("AWS::StackName")},
    permissions=(Policy("stack-tamper-read", (
        allow("ReadRules", ("events:DescribeRule", "events:ListTargetsByRule"),
              arn("events", "rule/*")),
        allow("ReadFunctions", ("lambda:GetFunctionConfiguration", "lambda:GetFunctionConcurrency"),
              arn("lambda", "function:*")),
        allow("ReadOurTopic", "sns:GetTopicAttributes", ref("NotificationTopic")),
        allow("ReadTrails", "cloudtrail:GetTrailStatus", arn("cloudtrail", "trail/*")),
        allow("ReadLedgerPolicy", "dynamodb:GetResourcePolicy", arn("dynamodb", "table/*"),
              why="Any table: the ledger's policy names this role, so naming the ledger here"
              " would be a circular dependency."),
    ), why="Report-only in every mode: it reads what the call left and never writes."),),
)
KINDS = {"CloudTrail": "rule", "CloudTrailLambda": "function", "CloudTrailSns": "topic",
         "CloudTrailTrail": "trail", "CloudTrailLedger": "ledger"}
NAMED_BY = {"rule": ("name", "rule"), "function": ("functionName",),
            "topic": ("topicArn", "subscriptionArn"), "trail": ("name",),
            "ledger": ("resourceArn",)}
ARNS = {"rule": ("events", "rule/"), "function": ("lambda", "function:"),
        "trail": ("cloudtrail", "trail/"), "ledger": ("dynamodb", "table/")}
GONE = ("ResourceNotFoundException", "NotFound", "NotFoundException", "TrailNotFoundException")
TEMPLATE_POLICY = "<the LedgerTable ResourcePolicy of aws cloudformation get-template" \
    " --stack-name {stack} --template-stage Processed>"
FUNCTION_STATE = ("CodeSha256", "LastModified", "Role", "Timeout", "State",
                  "ReservedConcurrentExecutions")
UNSAID = ("CodeSha256", "Role", "deleted")  # in `before`, too long for the summary
CLOUDFORMATION = "cloudformation.amazonaws.com"
DETAIL = ("ids", "targets", "statementId", "label", "attributeName", "reservedConcurrentExecutions")
# CloudFormation compares templates, not live state: a deploy without changes repairs nothing.
AGAIN = "sam delete, then sam deploy (CloudFormation does not recreate what was deleted behind" \
        " its back; the ledger table and key are retained)"
DRIFT = "aws cloudformation detect-stack-drift --stack-name {stack}: what else differs"
# (kind, call) -> what happened, what restores it ({name}, {detail}, {stack}, {topic}).
SAY = {
    ("rule", "DisableRule"): ("was disabled", "aws events enable-rule --name {name}"),
    ("rule", "DeleteRule"): ("was deleted", AGAIN),
    ("rule", "RemoveTargets"): ("lost target {detail}", "aws events put-targets --rule {name}"
                                " --targets Id={detail},Arn=<its function's ARN>"),
    ("rule", "PutTargets"): ("got target {detail}", "aws events put-targets --rule {name}"
        " --targets Id={detail},Arn=<its function's ARN>, or remove-targets --ids {detail}"),
    ("rule", "PutRule"): ("was redefined", "aws events put-rule --name {name} --state ENABLED"
                          " --event-pattern <its Pattern in template.yaml>"),
    ("function", "UpdateFunctionCode"): ("got other code", "aws lambda update-function-code"
        " --function-name {name} --s3-bucket/--s3-key <its Code in aws cloudformation"
        " get-template --stack-name {stack} --template-stage Processed>"),
    ("function", "UpdateFunctionConfiguration"): ("was reconfigured", "aws lambda"
        " update-function-configuration --function-name {name} <as template.yaml sets it>"),
    ("function", "DeleteFunction"): ("was deleted", AGAIN),
    ("function", "PutFunctionConcurrency"): ("got reserved concurrency {detail}", "aws lambda"
        " delete-function-concurrency --function-name {name} (IAM: IamReservedConcurrency)"),
    ("function", "AddPermission"): ("was opened by statement {detail}", "aws lambda"
        " remove-permission --function-name {name} --statement-id {detail}"),
    ("function", "RemovePermission"): ("lost statement {detail}", "aws lambda add-permission"
        " --function-name {name} --statement-id {detail} --action lambda:InvokeFunction"
        " --principal events.amazonaws.com --source-arn <its rule's ARN>"),
    ("topic", "DeleteTopic"): ("was deleted", AGAIN),
    ("topic", "Unsubscribe"): ("was unsubscribed", "aws sns subscribe --topic-arn {topic}"
        " --protocol <its protocol> --notification-endpoint <its endpoint>"),
    ("topic", "SetSubscriptionAttributes"): ("got another {detail}", "aws sns"
        " set-subscription-attributes --subscription-arn {name} --attribute-name {detail}"
        " --attribute-value <the previous one> (a FilterPolicy can mute every outcome)"),
    ("topic", "RemovePermission"): ("lost policy statement {detail}", "aws sns"
        " set-topic-attributes --topic-arn {name} --attribute-name Policy --attribute-value"
        " <its NotificationTopicPolicy in template.yaml>"),
    # CloudFormation does not put back a resource policy changed behind its back (no drift
    # detection for it): the restore is the put itself.
    ("ledger", "PutResourcePolicy"): ("got another resource policy", "aws dynamodb"
        " put-resource-policy --resource-arn {arn} --policy " + TEMPLATE_POLICY),
    ("ledger", "DeleteResourcePolicy"): ("lost its resource policy: anyone IAM allows may write"
        " (forge) entries", "aws dynamodb put-resource-policy --resource-arn {arn} --policy "
        + TEMPLATE_POLICY),
    ("trail", "StopLogging"): ("stopped logging", "aws cloudtrail start-logging --name {name}"),
    ("trail", "DeleteTrail"): ("was deleted", "aws cloudtrail create-trail --name {name}"
        " --s3-bucket-name <its bucket>, then aws cloudtrail start-logging --name {name}"),
}
# fmt: on


@dataclass(frozen=True)
class Tampered:
    """One resource a call changed. `call` is the event name without Lambda's API version;
    `name` a rule (<bus>/<rule> off the default bus), function or trail name (or a trail ARN),
    or a topic or subscription ARN; `detail` what else the call named (target ids...)."""

    kind: str
    name: str
    call: str
    region: str
    account: str
    detail: str = ""
    by_cloudformation: bool = False

    def __str__(self) -> str:
        if self.kind == "topic" or self.name.startswith("arn:"):
            return self.name
        service, path = ARNS[self.kind]
        return f"arn:aws:{service}:{self.region}:{self.account}:{path}{self.name}"


class StackTamperReport(Remediator[Tampered]):
    """gone_errors stays empty: our resource deleted in between is the finding, not a skip."""

    declaration = DECLARATION
    severity = "HIGH"

    def targets(self, trigger: Trigger) -> list[Tampered]:
        source, request = str(trigger.detail.get("eventSource") or ""), trigger.request
        matched = [c for c in DECLARATION.cloudtrail if c.matches(source, trigger.event_name)]
        if not matched:
            raise EventError(f"{source} {trigger.event_name} is not a trigger of {self.name}")
        kind = KINDS[matched[0].rule]
        key = next((k for k in NAMED_BY[kind] if request.get(k)), NAMED_BY[kind][0])
        name = required(request, key)
        if kind == "function":  # a name, a full or partial ARN, maybe with a qualifier
            name = name.split(":function:", 1)[-1].split(":", 1)[0]
        if kind == "ledger":  # a table (or its stream's) ARN: the table's name
            name = name.split(":table/", 1)[-1].split("/", 1)[0]
        bus = str(request.get("eventBusName") or "default").rsplit("/", 1)[-1]
        if kind == "rule" and bus != "default":  # our rules are on the default bus
            name = f"{bus}/{name}"
        # CloudFormation acts for whoever deploys a stack: on ours, the deployer (the README's
        # SCPs keep it so), updating it. A trail is no part of our stack: any stop counts.
        actor = trigger.actor
        by_cfn = kind != "trail" and bool(actor and actor.invoked_by == CLOUDFORMATION)
        call = re.sub(r"\d{8}(v\d+)?$", "", trigger.event_name)
        region, account = trigger.region, trigger.account
        return [Tampered(kind, name, call, region, account, _detail(request), by_cfn)]

    def evaluate(self, target: Tampered, aws: Aws) -> Evaluation:
        # The template sets both on every function of ours; without one we cannot tell ours.
        stack, topic = required_env("STACK_NAME"), required_env("TOPIC_ARN")
        ours = {
            "rule": "/" not in target.name and target.name.startswith(f"{stack}-"),
            "function": target.name.startswith(f"{stack}-"),
            "topic": target.name == topic or target.name.startswith(f"{topic}:"),
            "trail": True,
            "ledger": target.name == required_env("LEDGER_TABLE"),
        }[target.kind]
        if target.by_cloudformation or not ours:
            return Evaluation(str(target))
        now = _live(aws, target, topic)
        what, restore = SAY.get(
            (target.kind, target.call), ("was changed", "as template.yaml sets it")
        )
        fields = {"name": target.name, "detail": target.detail or "?", "stack": stack,
                  "arn": str(target)}  # fmt: skip
        steps = [restore.format(topic=topic, **fields)]
        if target.kind != "trail":
            steps.append(DRIFT.format(**fields))
        state = ", ".join(f"{k} {_text(v)}" for k, v in now.items() if k not in UNSAID)
        numbered = "; ".join(f"{i}. {step}" for i, step in enumerate(steps, 1))
        noun = "subscription" if target.name.count(":") > 5 else target.kind
        summary = f"{noun} {target.name} {what.format(**fields)} ({target.call})"
        summary += f", now {'deleted' if now.get('deleted') else state}; restore: {numbered}"
        change = Change(summary, str(target), now, {"steps": steps}, None)
        return Evaluation(str(target), (change,))


def _live(aws: Aws, target: Tampered, topic: str) -> dict[str, Any]:
    """The resource as the call left it; {"deleted": True} when it no longer exists."""
    try:
        if target.kind == "rule":
            state = aws("events").describe_rule(Name=target.name).get("State")
            listed = aws("events").list_targets_by_rule(Rule=target.name)["Targets"]
            return {"State": state, "Targets": [t["Arn"] for t in listed]}
        if target.kind == "function":
            found = aws("lambda").get_function_configuration(FunctionName=target.name)
            if "Concurrency" in target.call:  # 0 throttles it: no invocation runs
                found |= aws("lambda").get_function_concurrency(FunctionName=target.name)
            return {k: found[k] for k in FUNCTION_STATE if k in found}
        if target.kind == "ledger":
            return {"ResourcePolicy": _ledger_policy(aws, str(target))}
        if target.kind == "topic":
            attributes = aws("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
            return {"SubscriptionsConfirmed": attributes.get("SubscriptionsConfirmed")}
        return {"IsLogging": aws("cloudtrail").get_trail_status(Name=target.name)["IsLogging"]}
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in GONE:
            return {"deleted": True}
        raise


def _ledger_policy(aws: Aws, arn: str) -> list[str] | str:
    """The Sids of the ledger's resource policy as it stands, or "none"."""
    try:
        policy = aws("dynamodb").get_resource_policy(ResourceArn=arn)["Policy"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "PolicyNotFoundException":
            return "none"
        raise
    statements = json.loads(policy).get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return [str(s.get("Sid", "?")) for s in statements]


def _detail(request: Any) -> str:
    """What the call named besides the resource, e.g. RemoveTargets' ids."""
    for key in DETAIL:
        value = request.get(key)
        if isinstance(value, list):
            value = ",".join(str(v.get("id") if isinstance(v, dict) else v) for v in value)
        if value not in (None, ""):
            return str(value)
    return ""


def _text(value: Any) -> str:
    """A value for the summary: targets by their names (`before` keeps the ARNs)."""
    if not isinstance(value, list):
        return str(value)
    return ",".join(str(v).rsplit(":", 1)[-1] for v in value) or "none"


REMEDIATOR = StackTamperReport()
handler = lambda_handler(REMEDIATOR)
