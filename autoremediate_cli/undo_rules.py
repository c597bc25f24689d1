"""The inverse operations undo knows, and what each may carry (autoremediate_cli.undo_guard checks
entries against them). One rule per "service.operation" that a remediator declares as an inverse."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

from core.outcome import Call
from core.remediator import Aws

NOTHING = "-"
"""`Rule.restores` of an inverse that removes the whole configuration: right only when the
change's `before` was None (there was none)."""


class Rule(NamedTuple):
    """What one inverse operation may carry, and what it must agree with."""

    answers: tuple[str, ...]
    """The forward operations (the change's own call) that this one undoes."""
    keys: frozenset[str]
    """The only parameters it may carry."""
    same: tuple[str, ...] = ()
    """Parameters that must be what the change's own call named."""
    restores: str = ""
    """The parameter that writes back the change's `before` (NOTHING: it removes)."""
    within: str = ""
    """A map parameter whose keys the change's own call must have set too."""
    mirrors: tuple[tuple[str, Any], ...] = ()
    """Parameters (with their default when absent) that must be what the change's own call
    set: a deleted non-default version comes back non-default, an old default as default."""
    patches: str = ""
    """A list of patch operations (API Gateway): each only replaces or removes a path that the
    change's own call replaced, or the method setting or throttle that holds it."""
    resolved: bool = False
    """Recorded as a patch that the remediator's `resolve_undo` makes the real call of."""


@runtime_checkable
class ResolvesUndo(Protocol):
    """A remediator whose inverse calls are patches resolved against the live resource."""

    def resolve_undo(self, call: Call, aws: Aws) -> Call:
        """The real call that puts back `call`'s patch on the resource as it is now (read-only)."""
        ...  # pragma: no cover


def _rules() -> dict[str, Rule]:
    doc = "PolicyDocument"
    rules = {
        "iam.update_assume_role_policy": Rule(
            ("update_assume_role_policy",), frozenset({"RoleName", doc}), ("RoleName",), doc
        ),
        "iam.set_default_policy_version": Rule(
            ("create_policy_version",), frozenset({"PolicyArn", "VersionId"}), ("PolicyArn",)
        ),
        "iam.delete_policy_version": Rule(
            ("create_policy_version",), frozenset({"PolicyArn", "VersionId"}), ("PolicyArn",)
        ),
        "iam.create_policy_version": Rule(
            ("delete_policy_version", "create_policy_version"),
            frozenset({"PolicyArn", doc, "SetAsDefault"}),
            ("PolicyArn",),
            doc,
            mirrors=(("SetAsDefault", False),),
        ),
        "s3.put_bucket_encryption": Rule(
            ("put_bucket_encryption",),
            frozenset({"Bucket", "ServerSideEncryptionConfiguration"}),
            ("Bucket",),
            "ServerSideEncryptionConfiguration",
        ),
        "s3.delete_bucket_encryption": Rule(
            ("put_bucket_encryption",), frozenset({"Bucket"}), ("Bucket",), NOTHING
        ),
        "s3.put_bucket_policy": Rule(
            ("put_bucket_policy",), frozenset({"Bucket", "Policy"}), ("Bucket",), "Policy"
        ),
        "s3.delete_bucket_policy": Rule(
            ("put_bucket_policy",), frozenset({"Bucket"}), ("Bucket",), NOTHING
        ),
        "sns.set_topic_attributes": Rule(
            ("set_topic_attributes",),
            frozenset({"TopicArn", "AttributeName", "AttributeValue"}),
            ("TopicArn", "AttributeName"),
        ),
        "sqs.set_queue_attributes": Rule(
            ("set_queue_attributes",),
            frozenset({"QueueUrl", "Attributes"}),
            ("QueueUrl",),
            within="Attributes",
        ),
        "dynamodb.update_table": Rule(
            ("update_table",), frozenset({"TableName", "SSESpecification"}), ("TableName",)
        ),
        "ec2.disable_ebs_encryption_by_default": Rule(
            ("enable_ebs_encryption_by_default",), frozenset()
        ),
        "ec2.reset_ebs_default_kms_key_id": Rule(("modify_ebs_default_kms_key_id",), frozenset()),
        "apigateway.update_domain_name": Rule(
            ("update_domain_name",),
            frozenset({"domainName", "domainNameId", "patchOperations"}),
            ("domainName", "domainNameId"),
        ),
        "apigatewayv2.update_domain_name": Rule(
            ("update_domain_name",),
            frozenset({"DomainName", "DomainNameConfigurations"}),
            ("DomainName",),
        ),
        "apigateway.update_stage": Rule(
            ("update_stage",), frozenset({"restApiId", "stageName", "patchOperations"}),
            ("restApiId", "stageName"), patches="patchOperations",
        ),
        "apigateway.update_usage_plan": Rule(
            ("update_usage_plan",), frozenset({"usagePlanId", "patchOperations"}),
            ("usagePlanId",), patches="patchOperations",
        ),
        "apigatewayv2.update_stage": Rule(
            ("update_stage",), frozenset({"ApiId", "StageName", "DefaultRouteSettings",
                                          "RouteSettings"}), ("ApiId", "StageName"),
        ),
        "cloudfront.update_distribution": Rule(
            ("update_distribution",),
            frozenset({"Id", "Patch"}),
            ("Id",),
            "Patch",
            within="Patch",
            resolved=True,
        ),
        "wafv2.associate_web_acl": Rule(
            ("associate_web_acl",),
            frozenset({"ResourceArn", "WebACLArn"}),
            ("ResourceArn",),
            "WebACLArn",
        ),
        "wafv2.disassociate_web_acl": Rule(
            ("associate_web_acl",), frozenset({"ResourceArn"}), ("ResourceArn",), NOTHING
        ),
    }  # fmt: skip
    for kind in ("role", "user", "group"):
        name = f"{kind.title()}Name"
        rules[f"iam.put_{kind}_policy"] = Rule(
            (f"put_{kind}_policy", f"delete_{kind}_policy"),
            frozenset({name, "PolicyName", doc}), (name, "PolicyName"), doc,
        )  # fmt: skip
        rules[f"iam.attach_{kind}_policy"] = Rule(
            (f"detach_{kind}_policy",), frozenset({name, "PolicyArn"}), (name, "PolicyArn"),
            "PolicyArn",
        )  # fmt: skip
    return rules


RULES = _rules()
