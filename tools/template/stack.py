"""Stack-wide resources that name every function's role: rendered, because a hand-written list
of roles would fall behind the first time someone adds a remediator."""

from __future__ import annotations

from typing import Any

from core.declaration import Declaration, get_att, ref
from tools.template import dashboard
from tools.template.functions import IAM_EVENT_REGION, logical_prefix
from tools.template.yaml_text import Commented

TOPIC = "NotificationTopic"
BANNER = "  # " + "-" * 14 + " the ledger, the topic policy and the dashboard: they name every role"


def resources(declared: list[Declaration]) -> dict[str, Any]:
    return {
        "LedgerTable": _ledger_table(declared),
        "LedgerAccessPolicy": _ledger_access(declared),
        "NotificationTopicPolicy": _topic_policy(declared),
        "OperationsDashboard": dashboard.resource(declared),
    }


# Writes of items, in every API that makes one (PartiQL and batches included).
LEDGER_ITEM_WRITES = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
]
# What our functions never do to the table itself (CloudFormation, as the deployer, still may).
LEDGER_TABLE_CHANGES = [
    "dynamodb:UpdateTable",
    "dynamodb:DeleteTable",
    "dynamodb:PutResourcePolicy",
    "dynamodb:DeleteResourcePolicy",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:UpdateContinuousBackups",
]
LEDGER_ACCESS = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"]


def _ledger_table(declared: list[Declaration]) -> Any:
    """The ledger holds the previous state of everything we changed: losing it loses the undo.
    Its resource policy names our roles, so their ledger permission is LedgerAccessPolicy (an
    inline statement on the table would make role and table depend on each other)."""
    roles = [_role_arn(d) for d in declared]
    statements = [
        Commented(
            {
                "Sid": "OnlyOurFunctionsAndUndoOperatorsWriteItems",
                "Effect": "Deny",
                "Principal": "*",
                "Action": LEDGER_ITEM_WRITES,
                "Resource": "*",
                "Condition": {
                    "ArnNotEquals": {"aws:PrincipalArn": roles},
                    "ArnNotLike": {
                        "Fn::If": [
                            "HasUndoOperators",
                            {"aws:PrincipalArn": ref("UndoOperatorArns")},
                            ref("AWS::NoValue"),
                        ]
                    },
                },
            },
            "Undo replays what an entry says: a forged entry would run with an administrator's"
            ' rights. "*" is the table and its index (the policy cannot name its own table).',
        ),
        Commented(
            {
                "Sid": "NeverTouchOwnLedger",
                "Effect": "Deny",
                "Principal": "*",
                "Action": LEDGER_TABLE_CHANGES,
                "Resource": "*",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": roles}},
            },
            "Defence in depth: the DynamoDB remediator may update tables, never this one.",
        ),
    ]
    properties = {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in ("outcome_id", "day", "time")
        ],
        "KeySchema": [{"AttributeName": "outcome_id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": Commented(
            [
                {
                    "IndexName": "by-day",
                    "KeySchema": [
                        {"AttributeName": "day", "KeyType": "HASH"},
                        {"AttributeName": "time", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "History without a scan: the outcomes of one UTC day (YYYY-MM-DD), newest first.",
        ),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": get_att("StackKey", "Arn"),
        },
        "ResourcePolicy": {
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        },
    }
    body = {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }
    return Commented(
        body,
        "The ledger holds the previous state of everything we changed: losing it loses the undo.",
    )


def _ledger_access(declared: list[Declaration]) -> Any:
    """Every function's read and write of ledger entries (outcomes, approvals, breaker counts)."""
    roles = [_role_name(d) for d in declared]
    statement = {
        "Sid": "Ledger",
        "Effect": "Allow",
        "Action": LEDGER_ACCESS,
        "Resource": get_att("LedgerTable", "Arn"),
    }
    return Commented(
        {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "ledger",
                "Roles": roles,
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            },
        },
        "Each function's ledger access, in a policy of its own: the table's resource policy"
        " names the roles, so their inline policies cannot name the table.",
    )


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


def _role_name(declaration: Declaration) -> Any:
    return _where_deployed(declaration, ref(f"{logical_prefix(declaration)}Role"))


def _role_arn(declaration: Declaration) -> Any:
    return _where_deployed(declaration, get_att(f"{logical_prefix(declaration)}Role", "Arn"))


def _where_deployed(declaration: Declaration, node: Any) -> Any:
    """A us-east-1-only role does not exist elsewhere: its name or ARN is left out there."""
    if not declaration.us_east_1_only:
        return node
    return {"Fn::If": [IAM_EVENT_REGION, node, ref("AWS::NoValue")]}
