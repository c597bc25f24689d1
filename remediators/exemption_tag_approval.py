"""Exemption approvals: the `autoremediate:exempt` tag counts only when an approver set it.

Anyone who may tag a resource could otherwise exempt it (a role created with the tag and
AdministratorAccess would stay EXEMPT). So every call that sets or removes the tag is a trigger
here: set by a principal matching ExemptionApprovers, with a reason, it is recorded in the ledger
as an approval of exactly that value, ending at its until= date (at most ExemptionMaxDays), and
announced as EXEMPT; set by anyone else (or without a reason), it is reported HIGH, naming who
set it, and any earlier approval is revoked. The runner honours a tag only with a matching,
unexpired approval (core.exemptions.tag_exemption).

The one remediator whose `evaluate` writes: our own ledger's approval record, never the
resource. The event is the evidence of who tagged (the approval binds that exact value: a later
change of it is not approved); the resource itself is not read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from core.declaration import CloudTrail, Declaration, Parameter
from core.event import EventError, Trigger
from core.exemptions import EXEMPT_TAG, approval_key, matching_pattern, tag_terms
from core.handler import lambda_handler
from core.ledger import Ledger
from core.outcome import Change
from core.remediator import Aws, Evaluation, Remediator
from core.settings import SettingsError, comma_list, required_env

IAM_CALLS = ("TagRole", "UntagRole", "TagUser", "UntagUser", "TagPolicy", "UntagPolicy",
             "CreateRole", "CreateUser", "CreatePolicy")  # fmt: skip
DECLARATION = Declaration(
    name="exemption_tag_approval",
    title="Exemption tag approvals",
    description="Records approvals of autoremediate:exempt tags set by ExemptionApprovers",
    cloudtrail=(
        CloudTrail("iam.amazonaws.com", IAM_CALLS, why="IAM: in us-east-1 only."),
        CloudTrail("s3.amazonaws.com", ("PutBucketTagging", "DeleteBucketTagging"), rule="S3"),
        CloudTrail(
            "sns.amazonaws.com", ("TagResource", "UntagResource", "CreateTopic"), rule="Sns"
        ),
        CloudTrail("sqs.amazonaws.com", ("TagQueue", "UntagQueue", "CreateQueue"), rule="Sqs"),
        CloudTrail(
            "dynamodb.amazonaws.com",
            ("TagResource", "UntagResource", "CreateTable"),
            rule="DynamoDb",
        ),
        CloudTrail("apigateway.amazonaws.com", ("TagResource", "UntagResource"), rule="ApiGateway"),
        CloudTrail("appsync.amazonaws.com", ("TagResource", "UntagResource"), rule="AppSync"),
        CloudTrail(
            "cloudfront.amazonaws.com",
            ("TagResource", "UntagResource"),
            rule="CloudFront",
            why="CloudFront: in us-east-1 only.",
        ),
        CloudTrail(
            "rds.amazonaws.com",
            ("AddTagsToResource", "RemoveTagsFromResource", "CreateDBInstance", "CreateDBCluster"),
            rule="Rds",
        ),
    ),
    environment={
        "EXEMPTION_APPROVERS": {"Fn::Join": [",", {"Ref": "ExemptionApprovers"}]},
        "EXEMPTION_MAX_DAYS": {"Ref": "ExemptionMaxDays"},
    },
    parameters=(
        Parameter(
            "ExemptionApprovers",
            "ARNs (patterns as in ExemptPrincipalArns) of the roles and users whose"
            " autoremediate:exempt tags count. Empty: no tag exempts anything.",
            "",
            "CommaDelimitedList",
        ),
        Parameter(
            "ExemptionMaxDays",
            "Longest an approved exemption tag lasts, in days (until= beyond it is cut).",
            90,
            "Number",
            min_value=1,
        ),
    ),
    permissions=(),
)


class TagChange(NamedTuple):
    """The exemption tag set to `value` (None: removed) on `arn` by `actor`, as a call said."""

    arn: str
    value: str | None
    actor: str
    when: str
    event_id: str
    caller: str = ""
    """The caller's own ARN (an assumed role's session), as `autoremediate undo` records it."""

    def __str__(self) -> str:
        return self.arn


class ExemptionTagApproval(Remediator[TagChange]):
    declaration = DECLARATION
    severity = "HIGH"

    def targets(self, trigger: Trigger) -> list[TagChange]:
        if trigger.kind != "cloudtrail" or trigger.actor is None:
            raise EventError("only CloudTrail calls say who set a tag")
        value = exempt_value(trigger)
        if value is _UNTOUCHED:  # most tagging and create calls: not ours to look at
            return []
        arn = resource_arn(trigger)
        actor = trigger.actor.session_issuer_arn or trigger.actor.arn
        event = (trigger.event_time, trigger.event_id, trigger.actor.arn)
        return [TagChange(arn, value, actor, *event)]

    def evaluate(self, target: TagChange, aws: Aws) -> Evaluation:
        ledger = Ledger(aws, required_env("LEDGER_TABLE"))
        key = approval_key(target.arn)
        record = {"resource_arn": target.arn, "by": target.actor, "time": target.when,
                  "event_id": target.event_id}  # fmt: skip
        if target.value is None:  # removed: an approval of it, if any, ends here
            if ledger.approval(key) is not None:
                ledger.put_approval(key, {**record, "value": None, "reason": "tag removed"})
            return Evaluation(target.arn)
        approver = matching_pattern(target.actor, _approvers())
        if not approver and _undo_approved(ledger.approval(key), target):
            summary = "tag set by autoremediate undo, with the approval it recorded"
            after = {EXEMPT_TAG: target.value}
            change = Change(summary, target.arn, None, after, None)
            return Evaluation(target.arn, (change,), {EXEMPT_TAG: target.value})
        today = datetime.now(UTC).date()  # the approval's lifetime starts when it is recorded
        terms = tag_terms(target.value, today, _max_days())
        if not approver or terms.problem:
            why = terms.problem if approver else "who is not in ExemptionApprovers"
            ledger.put_approval(key, {**record, "value": None, "reason": f"not approved: {why}"})
            summary = (
                f"tag {EXEMPT_TAG} set by {target.actor}, {why}: not honoured (remediated as if"
                " untagged): 1. remove the tag, or have an approver set it with a reason;"
                " 2. keep others from setting it (README: the SCP on aws:TagKeys)"
            )
            after = {EXEMPT_TAG: "set by an ExemptionApprover with a reason, or removed"}
            change = Change(summary, target.arn, {EXEMPT_TAG: target.value}, after, None)
            return Evaluation(target.arn, (change,))
        until = terms.until.isoformat() if terms.until else ""
        approval = {**record, "value": target.value, "reason": terms.reason, "until": until,
                    "approver_pattern": approver, "note": terms.note}  # fmt: skip
        ledger.put_approval(key, approval)
        summary = "approval recorded in the ledger" + (f" ({terms.note})" if terms.note else "")
        change = Change(summary, target.arn, None, {EXEMPT_TAG: target.value, "until": until}, None)
        return Evaluation(target.arn, (change,), {EXEMPT_TAG: target.value})


def _undo_approved(approval: Mapping[str, Any] | None, target: TagChange) -> bool:
    """Whether `autoremediate undo` recorded the approval of exactly this value, by the same
    caller, before it set the tag: the tag's own event must not revoke it (the approver's rules
    are for tags that people set; undo exempts what it restored, for UndoExemptionDays)."""
    if not approval or not approval.get("undo") or approval.get("value") != target.value:
        return False
    return approval.get("by") in {target.actor, target.caller} - {""}


_UNTOUCHED = "\0untouched"
"""exempt_value: the call did not touch the exemption tag."""


def exempt_value(trigger: Trigger) -> str | None:
    """The tag's new value, None when the call removed it, _UNTOUCHED when it did neither."""
    request = trigger.request
    name = trigger.event_name
    if name.startswith(("Untag", "RemoveTags")):
        keys = _field(request, "tagKeys", "tag_keys", "tagKeyList") or []
        keys = _field(keys, "items") or [] if isinstance(keys, Mapping) else keys  # CloudFront
        return None if EXEMPT_TAG in keys else _UNTOUCHED
    if name == "DeleteBucketTagging":
        return None
    tags = _tags(_field(request, "tags", "tagging", "tagList"))
    if EXEMPT_TAG in tags:
        return tags[EXEMPT_TAG]
    return None if name == "PutBucketTagging" else _UNTOUCHED  # it replaces every tag


def resource_arn(trigger: Trigger) -> str:
    """The ARN of the tagged resource, as the remediators name it."""
    request, response = trigger.request, trigger.response
    name, account, region = trigger.event_name, trigger.account, trigger.region
    for kind in ("role", "user", "policy"):
        if name.lower().endswith(kind):
            created = _field(_mapping(_field(response, kind)), "arn")
            if created or _field(request, "policyArn"):
                return str(created or _field(request, "policyArn"))
            return f"arn:aws:iam::{account}:{kind}/{_required(request, f'{kind}Name')}"
    if name in ("PutBucketTagging", "DeleteBucketTagging"):
        return f"arn:aws:s3:::{_required(request, 'bucketName')}"
    url = _field(request, "queueUrl") or _field(response, "queueUrl")
    if url:  # https://sqs.<region>.amazonaws.com/<account>/<name>
        parts = str(url).rstrip("/").split("/")
        return f"arn:aws:sqs:{region}:{parts[-2]}:{parts[-1]}"
    table = _field(_mapping(_field(response, "tableDescription")), "tableArn")
    named = _field(request, "resourceArn", "resource_arn", "resourceName", "resource")
    found = table or _field(response, "topicArn", "dBInstanceArn", "dBClusterArn") or named
    if not found and name == "CreateTopic":
        found = f"arn:aws:sns:{region}:{account}:{_required(request, 'name')}"
    if not isinstance(found, str) or not found.startswith("arn:"):
        raise EventError(f"{name} names no resource ARN")
    return found


def _tags(raw: Any) -> dict[str, str]:
    """Tags in any of CloudTrail's shapes: a dict, [{key, value}], S3's {TagSet: {Tag: [...]}}."""
    if isinstance(raw, Mapping) and _field(raw, "items") is not None:  # CloudFront's {items: [...]}
        raw = _field(raw, "items")
    if isinstance(raw, Mapping) and ("TagSet" in raw or "Tag" in raw):
        raw = raw.get("TagSet", raw)
        raw = raw.get("Tag", []) if isinstance(raw, Mapping) else raw
        raw = [raw] if isinstance(raw, Mapping) else raw
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    pairs = (_mapping(t) for t in raw or [])
    return {str(_field(t, "key")): str(_field(t, "value") or "") for t in pairs}


def _field(mapping: Mapping[str, Any], *names: str) -> Any:
    """The first of `names` present, whatever the case of its first letter (CloudTrail's
    parameters follow each service's API: tags, Tags, tagKeys, TagKeys)."""
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    for name in names:
        if lowered.get(name.lower()) is not None:
            return lowered[name.lower()]
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _required(request: Mapping[str, Any], name: str) -> str:
    value = _field(request, name)
    if not isinstance(value, str) or not value:
        raise EventError(f"requestParameters.{name} is missing")
    return value


def _approvers() -> tuple[str, ...]:
    return comma_list(os.environ.get("EXEMPTION_APPROVERS", ""))


def _max_days() -> int:
    raw = os.environ.get("EXEMPTION_MAX_DAYS", "90").strip() or "90"
    if not raw.isdigit() or not 1 <= int(raw) <= 3650:
        raise SettingsError(f"EXEMPTION_MAX_DAYS must be a number of days (1-3650), not {raw!r}")
    return int(raw)


REMEDIATOR = ExemptionTagApproval()
handler = lambda_handler(REMEDIATOR)
