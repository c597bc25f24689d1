"""Encryption at rest and in transit for SQS queues.

At rest: SSE-SQS or SSE-KMS at the baseline level (SqsEncryptionLevel); any KMS key already set
is compliant, so a team's own CMK is never swapped. In transit: the queue policy gets one
statement denying requests without TLS; every other statement stays as it is.

AWS services (EventBridge, S3 notifications, SNS subscriptions...) cannot send to a queue
encrypted with the AWS-managed key. At SSE-KMS without a configured CMK (EncryptionKmsKeyArn), a
queue whose policy allows a `Service` principal gets a manual at-rest change instead
(WOULD_REMEDIATE in every mode); SSE-SQS works for them and is applied as usual. With a CMK
configured we encrypt as usual: the team owning the CMK makes its key policy allow those services.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from core.baseline_key import baseline_key
from core.declaration import (
    BASELINE_KEY,
    ENFORCE,
    CloudTrail,
    Declaration,
    Parameter,
    Policy,
    allow,
    arn,
    check_baseline_key,
    ref,
)
from core.event import EventError, Trigger, required
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator
from core.settings import SettingsError
from sns_topic_encryption import service_principals, service_reason

AWS_MANAGED_KEY = "alias/aws/sqs"
LEVELS = ("SSE-SQS", "SSE-KMS")
TLS_SID = "AutoremediateDenyInsecureTransport"
QUEUES = arn("sqs", "*")

DECLARATION = Declaration(
    name="sqs_queue_encryption",
    title="SQS queue encryption and TLS-only policy",
    description="Restores SQS encryption at the baseline and adds a TLS-only queue policy",
    cloudtrail=(CloudTrail("sqs.amazonaws.com", ("CreateQueue", "SetQueueAttributes")),),
    config_types=("AWS::SQS::Queue",),
    environment={
        "SQS_ENCRYPTION_LEVEL": ref("SqsEncryptionLevel"),
        "ENCRYPTION_KMS_KEY_ARN": BASELINE_KEY,
    },
    parameters=(
        Parameter(
            "SqsEncryptionLevel",
            "Minimum encryption of SQS queues: SSE-SQS (SQS-managed keys) or SSE-KMS (with"
            " EncryptionKmsKeyArn or alias/aws/sqs).",
            default="SSE-SQS",
            allowed=LEVELS,
        ),
    ),
    inverse_operations=("sqs.set_queue_attributes",),
    permissions=(
        Policy(
            "sqs-encryption-read",
            (
                allow(
                    "ReadQueues",
                    ("sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ListQueueTags"),
                    QUEUES,
                ),
                check_baseline_key(),
            ),
        ),
        Policy(
            "sqs-encryption-write",
            (allow("EncryptQueuesAndAddTlsDeny", "sqs:SetQueueAttributes", QUEUES),),
            when=ENFORCE,
        ),
    ),
)


@dataclass(frozen=True)
class Queue:
    name: str
    account: str

    def __str__(self) -> str:
        return f"sqs queue {self.name} (account {self.account})"


class SqsQueueEncryption(Remediator[Queue]):
    declaration = DECLARATION
    gone_errors = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")

    @property
    def level(self) -> str:
        raw = os.environ.get("SQS_ENCRYPTION_LEVEL", "SSE-SQS").strip() or "SSE-SQS"
        if raw not in LEVELS:
            raise SettingsError(f"SQS_ENCRYPTION_LEVEL must be one of {LEVELS}, not {raw!r}")
        return raw

    def targets(self, trigger: Trigger) -> list[Queue]:
        """Only the queue's name: the live URL comes from GetQueueUrl (records hold odd hosts)."""
        if trigger.kind == "config":
            item = trigger.item
            if item.get("resourceType") != "AWS::SQS::Queue":
                raise EventError(f"resource type {item.get('resourceType')!r} is not a queue")
            return [Queue(required(item, "resourceName"), trigger.account)]
        if trigger.event_name == "CreateQueue":
            url = trigger.response.get("queueUrl")
            if isinstance(url, str) and url:
                return [_from_url(url)]
            return [Queue(required(trigger.request, "queueName"), trigger.account)]
        if trigger.event_name == "SetQueueAttributes":
            return [_from_url(required(trigger.request, "queueUrl"))]
        raise EventError(f"{trigger.event_name} is not a trigger of {self.name}")

    def evaluate(self, target: Queue, aws: Aws) -> Evaluation:
        sqs = aws("sqs")
        found = sqs.get_queue_url(QueueName=target.name, QueueOwnerAWSAccountId=target.account)
        url = found["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        arn = str(attributes["QueueArn"])
        planned = (self._at_rest(aws, url, arn, attributes), _in_transit(url, arn, attributes))
        changes = tuple(c for c in planned if c)
        if not changes:
            return Evaluation(arn)
        return Evaluation(arn, changes, dict(sqs.list_queue_tags(QueueUrl=url).get("Tags") or {}))

    def _at_rest(self, aws: Aws, url: str, arn: str, attributes: Any) -> Change | None:
        kms_key = attributes.get("KmsMasterKeyId") or ""
        sse_sqs = attributes.get("SqsManagedSseEnabled", "false")
        level = self.level
        if kms_key or (level == "SSE-SQS" and sse_sqs == "true"):
            return None
        before = {"SqsManagedSseEnabled": sse_sqs, "KmsMasterKeyId": kms_key}
        if level == "SSE-SQS":
            after, how = {"SqsManagedSseEnabled": "true"}, "SSE-SQS"
            undo = [_set(url, {"SqsManagedSseEnabled": sse_sqs})]
        else:  # one SSE type at a time: SSE-SQS goes off as the KMS key goes on
            key = baseline_key(aws, AWS_MANAGED_KEY)
            services = service_principals(attributes.get("Policy"))
            if key == AWS_MANAGED_KEY and services:  # a CMK's key policy is its owners' to set
                why = service_reason("queue", "sent to", services, key)
                wanted = {"KmsMasterKeyId": "<customer-managed key>", "services": list(services)}
                return Change(why, arn, before, wanted, None)
            after, how = {"KmsMasterKeyId": key, "SqsManagedSseEnabled": "false"}, f"KMS key {key}"
            undo = [_set(url, {"KmsMasterKeyId": ""})]
            if sse_sqs == "true":
                undo.append(_set(url, {"SqsManagedSseEnabled": "true"}))
        summary = f"encrypt queue at rest with {how}"
        return Change(summary, arn, before, after, _set(url, after), tuple(undo))

    def current_state(self, change: Change, aws: Aws) -> Any:
        """The attributes the change set: the policy as a document, the rest as SQS says them."""
        params = change.call.params if change.call else {}
        written = params["Attributes"]
        attributes = aws("sqs").get_queue_attributes(
            QueueUrl=params["QueueUrl"], AttributeNames=["All"]
        )["Attributes"]
        if "Policy" in written:
            policy = attributes.get("Policy")
            return json.loads(policy) if policy else None
        unset = {"SqsManagedSseEnabled": "false"}  # what SQS leaves out means off
        return {key: attributes.get(key, unset.get(key, "")) for key in written}


def _in_transit(url: str, arn: str, attributes: Any) -> Change | None:
    """Add the TLS-only Deny to the queue policy (created when there is none)."""
    policy = attributes.get("Policy") or None
    try:
        document: dict[str, Any] = json.loads(policy) if policy else {"Version": "2012-10-17"}
    except ValueError:  # SQS stores valid JSON; never rewrite what we cannot read
        return None
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    if any(_denies_insecure_transport(s) for s in statements):
        return None
    deny = {"Sid": TLS_SID, "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
            "Resource": arn, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
    after = {**document, "Statement": [*statements, deny]}
    summary = "queue policy: deny requests without TLS (aws:SecureTransport false)"
    restore = _set(url, {"Policy": policy or ""})  # "" removes a policy we created
    return Change(summary, f"{arn}/policy", policy, after,
                  _set(url, {"Policy": json.dumps(after)}), (restore,))  # fmt: skip


def _set(url: str, attributes: dict[str, str]) -> Call:
    return Call("sqs", "set_queue_attributes", {"QueueUrl": url, "Attributes": attributes})


def _denies_insecure_transport(statement: Any) -> bool:
    """A Deny for everyone on every SQS action when aws:SecureTransport is false."""
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return False
    if statement.get("Principal") not in ("*", {"AWS": "*"}, {"AWS": ["*"]}):
        return False
    actions = statement.get("Action")
    actions = actions if isinstance(actions, list) else [actions]
    if not {str(a).lower() for a in actions} & {"*", "sqs:*"}:
        return False
    condition = {k.lower(): v for k, v in (statement.get("Condition") or {}).items()}
    flags = {k.lower(): v for k, v in (condition.get("bool") or {}).items()}
    value = flags.get("aws:securetransport")
    values = value if isinstance(value, list) else [value]
    return [str(v).lower() for v in values] == ["false"]


def _from_url(url: str) -> Queue:
    """https://sqs.<region>.amazonaws.com/<account>/<name> (hosts vary; the path does not)."""
    parts = url.rstrip("/").split("/")
    if len(parts) < 5 or not parts[-1] or not parts[-2].isdigit():
        raise EventError(f"not a queue URL: {url!r}")
    return Queue(parts[-1], parts[-2])


REMEDIATOR = SqsQueueEncryption()
handler = lambda_handler(REMEDIATOR)
