"""Stack-wide resources that name every function's role: rendered, because a hand-written list
of roles would fall behind the first time someone adds a remediator."""

from __future__ import annotations

from typing import Any

from core.declaration import Declaration, get_att, ref
from tools.template import dashboard
from tools.template.functions import IAM_EVENT_REGION, logical_prefix
from tools.template.yaml_text import Commented

TOPIC = "NotificationTopic"
BANNER = "  # " + "-" * 30 + " the topic policy and the dashboard: they name every function"


def resources(declared: list[Declaration]) -> dict[str, Any]:
    return {
        "NotificationTopicPolicy": _topic_policy(declared),
        "OperationsDashboard": dashboard.resource(declared),
    }


def _topic_policy(declared: list[Declaration]) -> Any:
    """Only our functions (and CloudWatch alarms of this account) publish; with
    TopicAdministratorArns set, only those principals change who receives the outcomes."""
    roles: list[Any] = [_role_arn(d) for d in declared]
    statements = [
        Commented(
            {
                "Sid": "OnlyOurFunctionsPublish",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": ref(TOPIC),
                "Condition": {
                    "ArnNotEquals": {"aws:PrincipalArn": roles},
                    "StringNotEquals": {"aws:PrincipalServiceName": "cloudwatch.amazonaws.com"},
                },
            },
            "A fake outcome (with a fake undo line) would be believed: nobody else publishes.",
        ),
        {
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": ref(TOPIC),
            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
        },
        Commented(
            {
                "Fn::If": [
                    "HasTopicAdministrators",
                    {
                        "Sid": "OnlyNamedAdministratorsChangeSubscribers",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": [
                            "sns:Subscribe",
                            "sns:SetTopicAttributes",
                            "sns:AddPermission",
                            "sns:RemovePermission",
                            "sns:DeleteTopic",
                        ],
                        "Resource": ref(TOPIC),
                        "Condition": {
                            "ArnNotLike": {"aws:PrincipalArn": ref("TopicAdministratorArns")}
                        },
                    },
                    ref("AWS::NoValue"),
                ]
            },
            "Policy documents travel in the outcomes: only the named administrators (include the"
            " role that deploys this stack) may subscribe or change the topic.",
        ),
    ]
    return {
        "Type": "AWS::SNS::TopicPolicy",
        "Properties": {
            "Topics": [ref(TOPIC)],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        },
    }


def _role_arn(declaration: Declaration) -> Any:
    """A us-east-1-only role does not exist elsewhere: its ARN is left out there."""
    arn = get_att(f"{logical_prefix(declaration)}Role", "Arn")
    if not declaration.us_east_1_only:
        return arn
    return {"Fn::If": [IAM_EVENT_REGION, arn, ref("AWS::NoValue")]}
