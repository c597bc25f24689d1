"""Encryption at rest for SNS topics: a topic without a KMS key gets the baseline key.

Any key already set (the AWS-managed one, the baseline CMK, a team's own CMK) is compliant: we
only add encryption, never swap one key for another. Our own notification topic is encrypted
with the stack's key, so it is compliant too.

AWS services (CloudWatch alarms, EventBridge, S3 notifications...) cannot publish to a topic
encrypted with the AWS-managed key. Without a configured CMK (EncryptionKmsKeyArn), a topic whose
policy allows a `Service` principal gets a manual change instead (WOULD_REMEDIATE in every mode,
nothing written). With a CMK configured we encrypt as usual: the team owning the CMK makes its
key policy allow those services (kms:GenerateDataKey*, kms:Decrypt).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from core.baseline_key import baseline_key
from core.declaration import (
    BASELINE_KEY,
    ENFORCE,
    CloudTrail,
    Declaration,
    Policy,
    allow,
    arn,
    check_baseline_key,
)
from core.event import EventError, Trigger, required
from core.exemptions import tags_to_dict
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator

AWS_MANAGED_KEY = "alias/aws/sns"
ATTRIBUTE = "KmsMasterKeyId"
TOPICS = arn("sns", "*")

DECLARATION = Declaration(
    name="sns_topic_encryption",
    title="SNS topic encryption",
    description="Restores KMS encryption of SNS topics at the baseline key",
    cloudtrail=(CloudTrail("sns.amazonaws.com", ("CreateTopic", "SetTopicAttributes")),),
    config_types=("AWS::SNS::Topic",),
    environment={"ENCRYPTION_KMS_KEY_ARN": BASELINE_KEY},
    inverse_operations=("sns.set_topic_attributes",),
    permissions=(
        Policy(
            "sns-encryption-read",
            (
                allow("ReadTopics", ("sns:GetTopicAttributes", "sns:ListTagsForResource"), TOPICS),
                check_baseline_key(),
            ),
        ),
        Policy(
            "sns-encryption-write",
            (allow("EncryptTopics", "sns:SetTopicAttributes", TOPICS),),
            when=ENFORCE,
        ),
    ),
)


class SnsTopicEncryption(Remediator[str]):
    """Targets are topic ARNs."""

    declaration = DECLARATION
    # moto and SNS's query protocol say NotFound; botocore models it as NotFoundException.
    gone_errors = ("NotFound", "NotFoundException")

    def targets(self, trigger: Trigger) -> list[str]:
        if trigger.kind == "config":
            item = trigger.item
            if item.get("resourceType") != "AWS::SNS::Topic":
                raise EventError(f"resource type {item.get('resourceType')!r} is not a topic")
            return [str(item.get("ARN") or required(item, "resourceId"))]
        if trigger.event_name == "CreateTopic":
            created = trigger.response.get("topicArn")
            if isinstance(created, str) and created:
                return [created]
            name = required(trigger.request, "name")
            return [f"arn:aws:sns:{trigger.region}:{trigger.account}:{name}"]
        if trigger.event_name == "SetTopicAttributes":
            # Any attribute: whatever changed, the live topic decides (a Policy change on an
            # unencrypted topic is still an unencrypted topic).
            return [required(trigger.request, "topicArn")]
        raise EventError(f"{trigger.event_name} is not a trigger of {self.name}")

    def evaluate(self, target: str, aws: Aws) -> Evaluation:
        sns = aws("sns")
        attributes = sns.get_topic_attributes(TopicArn=target)["Attributes"]
        current = attributes.get(ATTRIBUTE) or ""
        if current:
            return Evaluation(target)
        key = baseline_key(aws, AWS_MANAGED_KEY)
        tags = sns.list_tags_for_resource(ResourceArn=target).get("Tags")
        services = service_principals(attributes.get("Policy"))
        if key == AWS_MANAGED_KEY and services:  # a CMK's key policy is its owners' to set
            why = service_reason("topic", "published to", services, key)
            after = {ATTRIBUTE: "<customer-managed key>", "services": list(services)}
            manual = Change(why, target, {ATTRIBUTE: current}, after, None)
            return Evaluation(target, (manual,), tags_to_dict(tags))
        params = {"TopicArn": target, "AttributeName": ATTRIBUTE}
        change = Change(
            f"encrypt topic with KMS key {key} (it had none)",
            target,
            {ATTRIBUTE: current},
            {ATTRIBUTE: key},
            Call("sns", "set_topic_attributes", {**params, "AttributeValue": key}),
            (Call("sns", "set_topic_attributes", {**params, "AttributeValue": current}),),
        )
        return Evaluation(target, (change,), tags_to_dict(tags))

    def current_state(self, change: Change, aws: Aws) -> Any:
        """The topic's key, as `after` names it ("" for none)."""
        topic = change.call.params["TopicArn"] if change.call else ""
        attributes = aws("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
        return {ATTRIBUTE: attributes.get(ATTRIBUTE) or ""}


def service_principals(policy: str | None) -> dict[str, list[str]]:
    """The `Service` principals (cloudwatch.amazonaws.com, ...) that Allow statements name, each
    with those statements: "Sid 'X'", or "no Sid, statement #n" (a planted one must stand out)."""
    try:
        document: Any = json.loads(policy) if policy else {}
    except ValueError:
        return {}
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    found: dict[str, list[str]] = {}
    listed = statements if isinstance(statements, list) else [statements]
    for index, statement in enumerate(listed, start=1):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        sid = statement.get("Sid")
        label = f"Sid {sid!r}" if isinstance(sid, str) and sid else f"no Sid, statement #{index}"
        for service in services if isinstance(services, list) else [services]:
            if service and label not in found.setdefault(str(service), []):
                found[str(service)].append(label)
    return dict(sorted(found.items()))


def service_reason(noun: str, verb: str, services: Mapping[str, Sequence[str]], key: str) -> str:
    """Why an AWS-managed key is not written to a topic or queue fed by AWS services, naming
    each service with the statements that allow it."""
    names = ", ".join(services)
    named = ", ".join(f"{s} ({'; '.join(labels)})" for s, labels in services.items())
    return (
        f"{noun} is {verb} by {named}: the AWS-managed key {key} would stop their deliveries;"
        f" set EncryptionKmsKeyArn to a customer-managed key whose key policy allows {names}"
        f" (kms:GenerateDataKey*, kms:Decrypt), or exempt the {noun}; a statement your team did"
        f" not write keeps the {noun} unencrypted: remove it"
    )


REMEDIATOR = SnsTopicEncryption()
handler = lambda_handler(REMEDIATOR)
