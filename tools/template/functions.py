"""One remediator's declaration as template data: its log group, role and function, its
parameters, conditions and output. What every function shares (the trust policy, the core
permissions, retries and dead-letter wiring, the checkov reasons) is written here once."""

from __future__ import annotations

from typing import Any

from core.declaration import (
    ENFORCE,
    OWN_ROLES,
    Declaration,
    Parameter,
    Policy,
    Statement,
    get_att,
    ref,
    sub,
)
from tools.template.yaml_text import Commented

NO_VALUE = ref("AWS::NoValue")
IAM_EVENT_REGION = "InIamEventRegion"
DEAD_LETTER_QUEUE = "RemediationDeadLetterQueue"
RETRY_POLICY = {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600}
CLOUDTRAIL = "AWS API Call via CloudTrail"
CONFIG = "Config Configuration Item Change"
KILL_SWITCH_ARN = (  # the parameter /${AWS::StackName}/kill-switch (shared.yaml)
    "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
    ":parameter/${AWS::StackName}/kill-switch"
)
# How a service is called in the checkov reason of each function (others: short prefixes in
# upper case, e.g. EC2, longer ones capitalised, e.g. Kinesis).
SERVICE_NAMES = {
    "dynamodb": "DynamoDB",
    "cloudfront": "CloudFront",
    "apigateway": "API Gateway",
    "appsync": "AppSync",
    "wafv2": "WAF",
    "cloudtrail": "CloudTrail",
    "secretsmanager": "Secrets Manager",
}


def logical_prefix(declaration: Declaration) -> str:
    """iam_policy_least_privilege -> IamPolicyLeastPrivilege (logical ids never change)."""
    return "".join(part.capitalize() for part in declaration.name.split("_"))


def banner(declaration: Declaration) -> str:
    where = "us-east-1 only" if declaration.us_east_1_only else "any region"
    text = f" {declaration.title}, {where}"
    return "  # " + "-" * max(8, 92 - len(text)) + text


def parameters(declaration: Declaration) -> dict[str, Any]:
    return {p.name: _parameter(p) for p in declaration.parameters}


def _parameter(parameter: Parameter) -> dict[str, Any]:
    spec: dict[str, Any] = {"Type": parameter.type, "Default": parameter.default}
    if parameter.min_value is not None:
        spec["MinValue"] = parameter.min_value
    if parameter.allowed:
        spec["AllowedValues"] = list(parameter.allowed)
    spec["Description"] = parameter.description
    return spec


def conditions(declaration: Declaration) -> dict[str, Any]:
    if not declaration.reserved_concurrency:
        return {}
    name = declaration.reserved_concurrency
    return {f"Has{name}": {"Fn::Not": [{"Fn::Equals": [ref(name), "0"]}]}}


def resources(declaration: Declaration, stack: list[Declaration]) -> dict[str, Any]:
    """The function's log group, role, guard policies (statements on OWN_ROLES) and function;
    `stack` is every declaration of the template (whose roles OWN_ROLES names)."""
    prefix = logical_prefix(declaration)
    placed = {"Condition": IAM_EVENT_REGION} if declaration.us_east_1_only else {}
    log_group = {
        "Type": "AWS::Logs::LogGroup",
        **placed,
        "Properties": {
            "LogGroupName": sub(f"/aws/lambda/{_name(declaration)}"),
            "RetentionInDays": ref("LogRetentionDays"),
            "KmsKeyId": get_att("StackKey", "Arn"),
        },
    }
    role = {"Type": "AWS::IAM::Role", **placed, "Properties": _role(declaration, prefix)}
    function = {
        "Type": "AWS::Serverless::Function",
        **placed,
        # Not invoked before it may write the ledger: no change is made without a record.
        "DependsOn": "LedgerAccessPolicy",
        "Metadata": {"checkov": {"skip": _checkov_skips(declaration)}},
        "Properties": _function(declaration, prefix),
    }
    guards = {
        prefix + "".join(part.capitalize() for part in policy.name.split("-")): _guard(
            policy, prefix, placed, stack, declaration.us_east_1_only
        )
        for policy in declaration.permissions
        if _guards_own_roles(policy)
    }
    return {
        f"{prefix}LogGroup": log_group,
        f"{prefix}Role": role,
        **guards,
        f"{prefix}Function": function,
        f"{prefix}ErrorsAlarm": _errors_alarm(declaration, prefix, placed),
    }


def _errors_alarm(declaration: Declaration, prefix: str, placed: dict[str, str]) -> Any:
    """Any error of the function, published to the topic. Errors include the transient
    failures that Lambda retries (the runner raises after notifying them): those too are
    worth a look, and the dead-letter alarm says when every retry failed."""
    return {
        "Type": "AWS::CloudWatch::Alarm",
        **placed,
        "Properties": {
            "AlarmDescription": f"The {declaration.title} function ({declaration.name}) failed"
            " in the last 5 minutes: read its log group.",
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": ref(f"{prefix}Function")}],
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [ref("NotificationTopic")],
        },
    }


def _guards_own_roles(policy: Policy) -> bool:
    targets = [s.resource == OWN_ROLES for s in policy.statements]
    if any(targets) and not all(targets):
        raise ValueError(f"policy {policy.name}: OWN_ROLES statements need a policy of their own")
    return bool(targets) and all(targets)


OPERATING_ROLES = (("HasSlack", "SlackNotifierRole"),)
"""(condition, role) of the functions of shared.yaml that are not remediators: guarded too."""


def _guard(
    policy: Policy, prefix: str, placed: dict[str, str], stack: list[Declaration], east: bool
) -> Any:
    """A policy attached to the role that names every role of the stack by ARN (an inline
    policy cannot name its own role). In another region the us-east-1-only roles do not exist."""
    roles = [
        get_att(f"{logical_prefix(d)}Role", "Arn") for d in stack if east or not d.us_east_1_only
    ]
    roles += [
        {"Fn::If": [condition, get_att(role, "Arn"), ref("AWS::NoValue")]}
        for condition, role in OPERATING_ROLES
    ]
    statements = [
        _statement(s.sid, list(s.actions), roles, s.condition, s.effect) for s in policy.statements
    ]
    properties = {
        "PolicyName": policy.name,
        "Roles": [ref(f"{prefix}Role")],
        "PolicyDocument": _document(statements),
    }
    body = {"Type": "AWS::IAM::Policy", **placed, "Properties": properties}
    return Commented(body, policy.why) if policy.why else body


def outputs(declaration: Declaration) -> dict[str, Any]:
    prefix = logical_prefix(declaration)
    placed = {"Condition": IAM_EVENT_REGION} if declaration.us_east_1_only else {}
    where = " (us-east-1 only)" if declaration.us_east_1_only else ""
    return {
        f"{prefix}FunctionName": {
            **placed,
            "Description": f"The {declaration.title} remediator{where}.",
            "Value": ref(f"{prefix}Function"),
        }
    }


def _role(declaration: Declaration, prefix: str) -> dict[str, Any]:
    trust = {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
    }
    return {
        "Path": Commented(
            "/autoremediate/",
            "Our roles live under one path, which the enforce-mode Deny of the"
            " IAM remediator protects.",
        ),
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [trust]},
        "Policies": [
            _core_policy(prefix),
            *(_policy(declaration, p) for p in declaration.permissions if not _guards_own_roles(p)),
        ],
    }


def _core_policy(prefix: str) -> dict[str, Any]:
    """What every function needs besides the ledger (LedgerAccessPolicy, shared by all): the
    topic, the kill switch, the stack key, its dead-letter queue, its own log group and X-Ray."""
    statements: list[Any] = [
        _statement("Notify", ["sns:Publish"], ref("NotificationTopic")),
        Commented(
            _statement("KillSwitch", ["ssm:GetParameter"], sub(KILL_SWITCH_ARN)),
            "Read only: the kill switch can turn enforce into report, and nothing of ours sets it.",
        ),
        _statement("StackKey", ["kms:GenerateDataKey", "kms:Decrypt"], get_att("StackKey", "Arn")),
        _statement("AsyncDeadLetterQueue", ["sqs:SendMessage"], get_att(DEAD_LETTER_QUEUE, "Arn")),
        _statement(
            "OwnLogGroup",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            get_att(f"{prefix}LogGroup", "Arn"),
        ),
        Commented(
            _statement("Tracing", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*"),
            'X-Ray has no resource-level permissions: "*" is the only valid Resource.',
        ),
    ]
    return {"PolicyName": "core", "PolicyDocument": _document(statements)}


def _statement(
    sid: str, actions: list[str], resource: Any, condition: Any = None, effect: str = "Allow"
) -> dict[str, Any]:
    statement = {
        "Sid": sid,
        "Effect": effect,
        "Action": actions[0] if len(actions) == 1 else actions,
        "Resource": resource,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _document(statements: list[Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _name(declaration: Declaration) -> str:
    """`${AWS::StackName}-<remediator>`: the function's name, and its log group's."""
    return f"${{AWS::StackName}}-{declaration.name.replace('_', '-')}"


def function_name(declaration: Declaration) -> Any:
    """Named, not generated: the role's write statements name the function by ARN, which a
    generated name would make a circular dependency. The log group has the same name."""
    return sub(_name(declaration))


def function_arn(declaration: Declaration) -> Any:
    partition = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}"
    return sub(f"{partition}:function:{_name(declaration)}")


def _only_from(declaration: Declaration, statement: Statement, policy_when: str | None) -> Any:
    """A write holds only for calls from our function's own code: whoever passes our role to
    another function (or runs its session elsewhere) gets no write. Calls a service forwards
    for us (kms:ViaService) carry no source function, so those stay as declared."""
    condition = dict(statement.condition or {})
    forwarded = any("kms:ViaService" in keys for keys in condition.values())
    if policy_when != ENFORCE or statement.effect != "Allow" or forwarded:
        return statement.condition
    pinned = {"lambda:SourceFunctionArn": function_arn(declaration)}
    condition["ArnEquals"] = {**condition.get("ArnEquals", {}), **pinned}
    return condition


def _declared(declaration: Declaration, statement: Statement, policy_when: str | None) -> Any:
    body = _statement(
        statement.sid,
        list(statement.actions),
        statement.resource,
        _only_from(declaration, statement, policy_when),
        statement.effect,
    )
    # Inside a policy under the same condition, the statement needs no condition of its own.
    when = statement.when if statement.when != policy_when else None
    node: Any = {"Fn::If": [when, body, NO_VALUE]} if when else body
    return Commented(node, statement.why) if statement.why else node


def _policy(declaration: Declaration, policy: Policy) -> Any:
    statements = [_declared(declaration, s, policy.when) for s in policy.statements]
    body = {"PolicyName": policy.name, "PolicyDocument": _document(statements)}
    node: Any = {"Fn::If": [policy.when, body, NO_VALUE]} if policy.when else body
    why = [policy.why] if policy.why else []
    if policy.when == ENFORCE:
        why.insert(0, "Report mode is enforced by IAM: without EnforceMode the role cannot write.")
    return Commented(node, " ".join(why)) if why else node


def _checkov_skips(declaration: Declaration) -> list[dict[str, Any]]:
    services = [
        _service_name(action.split(":", 1)[0])
        for policy in declaration.permissions
        for statement in policy.statements
        for action in statement.actions
    ]
    apis = ", ".join(dict.fromkeys([*services, "DynamoDB", "SNS"]))
    concurrency = (
        f"Reserved concurrency is opt-in ({declaration.reserved_concurrency}, 5 suggested): an"
        " account at the minimum Lambda concurrency quota rejects any reservation, and the"
        " default must deploy everywhere."
        if declaration.reserved_concurrency
        else "Reserved concurrency is not set: an account at the minimum Lambda concurrency"
        " quota rejects any reservation, and the default must deploy everywhere."
    )
    return [
        {
            "id": "CKV_AWS_117",
            "comment": f"Calls only public AWS APIs ({apis}); a VPC would add NAT or interface"
            " endpoints and cost without protecting anything.",
        },
        {"id": "CKV_AWS_115", "comment": concurrency},
    ]


def _service_name(prefix: str) -> str:
    return SERVICE_NAMES.get(prefix, prefix.upper() if len(prefix) <= 3 else prefix.capitalize())


def _function(declaration: Declaration, prefix: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "FunctionName": function_name(declaration),
        "Description": declaration.description,
        "Handler": f"{declaration.name}.handler",
        "Role": get_att(f"{prefix}Role", "Arn"),
        "LoggingConfig": {"LogGroup": ref(f"{prefix}LogGroup")},
    }
    if declaration.reserved_concurrency:
        name = declaration.reserved_concurrency
        properties["ReservedConcurrentExecutions"] = {"Fn::If": [f"Has{name}", ref(name), NO_VALUE]}
    own_role = Commented(
        get_att(f"{prefix}Role", "Arn"),
        "The loop guard recognises calls made with this role: the echo of our own fix is"
        " re-checked and quiet; anything else done with it is reported HIGH.",
    )
    variables = {**declaration.environment, "OWN_ROLE_ARNS": own_role}
    properties["Environment"] = {"Variables": variables}
    properties["Events"] = _events(declaration)
    return properties


def _events(declaration: Declaration) -> dict[str, Any]:
    events: dict[str, Any] = {}
    for calls in declaration.cloudtrail:
        names: Any = [*calls.names, *({"prefix": p} for p in calls.prefixes)]
        detail = {
            "eventSource": [calls.event_source],
            "eventName": Commented(names, calls.why) if calls.why else names,
            "errorCode": Commented(
                [{"exists": False}],
                "A failed call changed nothing (the code checks again anyway).",
            ),
        }
        pattern = {"source": [calls.source], "detail-type": [CLOUDTRAIL], "detail": detail}
        events[calls.rule] = _rule(pattern)
    if declaration.config_types:
        item = {"resourceType": list(declaration.config_types)}
        detail = {"messageType": ["ConfigurationItemChangeNotification"], "configurationItem": item}
        events["Config"] = _rule(
            {"source": ["aws.config"], "detail-type": [CONFIG], "detail": detail}
        )
    return events


def _rule(pattern: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "EventBridgeRule",
        "Properties": {
            "Pattern": pattern,
            "DeadLetterConfig": {"Arn": get_att(DEAD_LETTER_QUEUE, "Arn")},
            "RetryPolicy": dict(RETRY_POLICY),
        },
    }
