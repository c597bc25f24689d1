"""The embedded default account: our stack's resources and an IAM estate with wildcard grants.

Shared by `make demo`, the benchmark and the tests, so that all three show the same thing. The
IAM state is produced by *replaying* the sample events' API calls, so a sample event and the
state it describes cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
ACCOUNT = "123456789012"
# The IAM function's role as CloudFormation would name it (events/...-own-action.json acts as it).
OWN_ROLE = "autoremediate-IamPolicyLeastPrivilegeRole-1A2B3C4D5E6F"
OWN_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/autoremediate/{OWN_ROLE}"
REGION = "us-east-1"
CODEBUILD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"},
         "Action": "sts:AssumeRole"}
    ],
}  # fmt: skip

# What must exist before a sample event's call can be replayed.
PREREQUISITES: dict[str, tuple[str, ...]] = {
    "CreatePolicyVersion": ("CreatePolicy",),
    "SetDefaultPolicyVersion": ("CreatePolicy", "CreatePolicyVersion"),
    "AttachUserPolicy": ("CreatePolicy",),
    "UpdateAssumeRolePolicy": ("CreateRole",),
    "Config-Role": ("PutRolePolicy", "AttachRolePolicy"),
    "Config-User": ("PutUserPolicy", "CreatePolicy", "AttachUserPolicy"),
    "Config-Group": ("PutGroupPolicy", "AttachGroupPolicy"),
    "Config-Policy": ("CreatePolicy",),
}

Aws = Callable[[str], Any]

# The AWS-managed policies the scenario attaches or that tests compare against. moto can load all
# ~1,300 of them, but that takes seconds on every reset; these few keep the real documents.
MANAGED_POLICIES = (
    "AdministratorAccess",
    "PowerUserAccess",
    "ReadOnlyAccess",
    "AmazonS3FullAccess",
)


def load_few_managed_policies() -> None:
    """Make moto's IAM know the AWS-managed policies in MANAGED_POLICIES (call before mocking)."""
    import os

    import moto.iam.models as iam_models

    every = json.loads(iam_models.aws_managed_policies_data)  # type: ignore[attr-defined]
    iam_models.aws_managed_policies_data = json.dumps({k: every[k] for k in MANAGED_POLICIES})  # type: ignore[attr-defined]
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"


@dataclass(frozen=True)
class Stack:
    """What `sam deploy` creates that the functions use: ledger table and topic (+ a test inbox)."""

    table: str
    topic_arn: str
    inbox_url: str

    def env(self, mode: str = "report") -> dict[str, str]:
        return {
            "MODE": mode,
            "LEDGER_TABLE": self.table,
            "TOPIC_ARN": self.topic_arn,
            "EXEMPT_PRINCIPALS": "",
            "OWN_ROLE_ARNS": OWN_ROLE_ARN,
            "WILDCARD_LEVEL": "service",
        }


def deploy_stack(aws: Aws) -> Stack:
    """The stack's ledger and topic, and an SQS queue subscribed to the topic to read notices."""
    table = "autoremediate-ledger"
    aws("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "outcome_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "outcome_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    topic_arn = aws("sns").create_topic(Name="autoremediate-notifications")["TopicArn"]
    inbox = aws("sqs").create_queue(QueueName="autoremediate-inbox")["QueueUrl"]
    queue_arn = aws("sqs").get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    aws("sns").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
    )
    return Stack(table, topic_arn, inbox)


def seed_principals(aws: Aws) -> None:
    """The principals the sample events act on, before anyone grants them anything."""
    iam = aws("iam")
    iam.create_role(
        RoleName="app-deploy-role", AssumeRolePolicyDocument=json.dumps(CODEBUILD_TRUST)
    )
    iam.create_user(UserName="ci-bot")
    iam.create_group(GroupName="developers")


def load_event(name: str, remediator: str = "iam_policy_least_privilege") -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / remediator / f"{name}.json").read_text())
    return event


def replay(aws: Aws, event: dict[str, Any]) -> None:
    """Make the API call a CloudTrail sample event records, with its own request parameters."""
    detail = event["detail"]
    service = detail["eventSource"].split(".")[0]
    operation = re.sub(r"(?<!^)(?=[A-Z])", "_", detail["eventName"]).lower()
    params = {k[0].upper() + k[1:]: v for k, v in (detail["requestParameters"] or {}).items()}
    getattr(aws(service), operation)(**params)


def prepare(aws: Aws, name: str) -> dict[str, Any]:
    """Seed what sample event `name` needs, replay its call (CloudTrail), and return the event."""
    for before in PREREQUISITES.get(name, ()):
        replay(aws, load_event(before))
    event = load_event(name)
    if event["detail-type"] == "AWS API Call via CloudTrail" and not event["detail"].get(
        "errorCode"
    ):
        replay(aws, event)
    return event


def inbox(aws: Aws, stack: Stack) -> list[dict[str, Any]]:
    """Drain the notifications published so far: subject, JSON body and message attributes."""
    notes: list[dict[str, Any]] = []
    while True:
        got = aws("sqs").receive_message(QueueUrl=stack.inbox_url, MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        if not messages:
            return notes
        for message in messages:
            envelope = json.loads(message["Body"])
            notes.append(
                {
                    "subject": envelope.get("Subject"),
                    "body": json.loads(envelope["Message"]),
                    "attributes": {
                        k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()
                    },
                }
            )
            aws("sqs").delete_message(
                QueueUrl=stack.inbox_url, ReceiptHandle=message["ReceiptHandle"]
            )
