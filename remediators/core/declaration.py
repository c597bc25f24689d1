"""What a remediator declares about itself, once, as plain data next to its code.

Its triggers (CloudTrail calls, AWS Config resource types), its permissions with their resource
scopes and conditions, and the template parameters it reads as environment variables.
`tools/template` renders template.yaml from these declarations; the runtime (`read_actions`,
`write_actions`, event names) and the contract tests read the same objects, so that the template,
the code and the tests cannot drift apart. This module is on the Lambda import path: immutable
NamedTuples (a frozen dataclass costs ~0.6 ms of cold start each to create, a NamedTuple ~0.08),
no YAML and no template code.

CloudFormation intrinsics are written in their JSON form ({"Ref": ...}, {"Fn::Sub": ...}),
built with `ref`, `sub`, `get_att` and `arn`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

ENFORCE = "EnforceMode"
"""Template condition of write permissions: report mode is enforced by IAM, not only by code."""
HAS_KEY = "HasEncryptionKey"
"""Template condition: EncryptionKmsKeyArn (the baseline customer-managed key) is set."""


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def get_att(resource: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, attribute]}


def arn(service: str, resource: str, *, region: bool = True, account: bool | str = True) -> Any:
    """An ARN of this stack's partition, region and account, e.g. arn("sns", "*"). Global
    services: region=False (IAM); bucket ARNs carry neither (account=False); AWS managed IAM
    policies: account="aws"."""
    where = "${AWS::Region}" if region else ""
    owner = "${AWS::AccountId}" if account is True else (account or "")
    return sub(f"arn:${{AWS::Partition}}:{service}:{where}:{owner}:{resource}")


BASELINE_KEY = ref("EncryptionKmsKeyArn")
OWN_ROLES: dict[str, Any] = {"Autoremediate::OwnRoles": "Arn"}
"""Resource of a statement that applies to exactly the roles of this stack (by ARN, never by a
path that anyone could create a role under). The renderer lists them in a policy resource of its
own: a role's inline policy cannot name the role's own ARN (a circular dependency)."""
BASELINE_WEB_ACL = {
    "Fn::If": ["CreateBaselineWebAcl", get_att("BaselineWebAcl", "Arn"), ref("BaselineWebAclArn")]
}
"""The REGIONAL WAFv2 web ACL that public APIs get: the stack's own, or BaselineWebAclArn."""
BASELINE_CLOUDFRONT_WEB_ACL = {
    "Fn::If": [
        "CreateBaselineCloudFrontWebAcl",
        get_att("BaselineCloudFrontWebAcl", "Arn"),
        ref("BaselineCloudFrontWebAclArn"),
    ]
}
"""The CLOUDFRONT-scope web ACL (us-east-1 only): ours, or BaselineCloudFrontWebAclArn."""
REPLACE_EXISTING_WEB_ACL = ref("ReplaceExistingWebAcl")
"""'true': a resource with another team's web ACL gets the baseline one instead."""
THROTTLING_RATE_LIMIT = ref("ThrottlingRateLimit")
THROTTLING_BURST_LIMIT = ref("ThrottlingBurstLimit")
"""The baseline stage and usage-plan throttling (requests per second, burst)."""
S3_OWN_ACCOUNT = {"StringEquals": {"s3:ResourceAccount": ref("AWS::AccountId")}}
"""Bucket ARNs carry no account: this condition keeps a statement to this account's buckets."""


class Statement(NamedTuple):
    """One IAM statement of a remediator's role. `when` names a template condition under which
    the statement exists (HAS_KEY); `why` is the comment a reader of template.yaml needs."""

    sid: str
    actions: tuple[str, ...]
    resource: Any
    condition: Mapping[str, Any] | None = None
    effect: Literal["Allow", "Deny"] = "Allow"
    when: str | None = None
    why: str = ""


def allow(
    sid: str,
    actions: tuple[str, ...] | str,
    resource: Any,
    condition: Mapping[str, Any] | None = None,
    *,
    when: str | None = None,
    why: str = "",
) -> Statement:
    listed = (actions,) if isinstance(actions, str) else actions
    return Statement(sid, listed, resource, condition, "Allow", when, why)


def deny(sid: str, actions: tuple[str, ...] | str, resource: Any, *, why: str = "") -> Statement:
    listed = (actions,) if isinstance(actions, str) else actions
    return Statement(sid, listed, resource, None, "Deny", None, why)


def check_baseline_key(why: str = "") -> Statement:
    """Read the baseline key (is it Enabled?), only when one is configured."""
    return allow("CheckBaselineKey", "kms:DescribeKey", BASELINE_KEY, when=HAS_KEY, why=why)


def find_aws_managed_key(alias: str) -> Statement:
    """Describe the AWS-managed key of a service, asked for by its alias (its ARN is unknown
    to the template), and no other key of the account."""
    return allow(
        "FindAwsManagedKey",
        "kms:DescribeKey",
        arn("kms", "key/*"),
        {"StringEquals": {"kms:RequestAlias": alias}},
    )


class Policy(NamedTuple):
    """A named inline policy of the role. Under `when=ENFORCE` it holds the writes: it does not
    exist in report mode."""

    name: str
    statements: tuple[Statement, ...]
    when: str | None = None
    why: str = ""


class Parameter(NamedTuple):
    """A template parameter that only this remediator reads."""

    name: str
    description: str
    default: str | int
    type: Literal["String", "Number", "CommaDelimitedList"] = "String"
    allowed: tuple[str, ...] = ()
    min_value: int | None = None


class CloudTrail(NamedTuple):
    """API calls of one service that trigger the remediator (one EventBridge rule). Names are
    matched exactly; a failed call (errorCode) never matches."""

    event_source: str
    names: tuple[str, ...]
    why: str = ""
    rule: str = "CloudTrail"
    prefixes: tuple[str, ...] = ()
    """Names matched by prefix: Lambda's carry API versions (UpdateFunctionCode20150331v2)."""

    def matches(self, event_source: str, event_name: str) -> bool:
        return event_source == self.event_source and (
            event_name in self.names or event_name.startswith(self.prefixes or ("\0",))
        )

    @property
    def source(self) -> str:
        """EventBridge's `source` of CloudTrail events: aws.<service> of the event source."""
        return "aws." + self.event_source.split(".", 1)[0]


class Declaration(NamedTuple):
    """Everything specific to one remediator function. `name` is its module; `title` names it
    in template.yaml's banner and outputs; `description` is the function's Description."""

    name: str
    title: str
    description: str
    permissions: tuple[Policy, ...]
    cloudtrail: tuple[CloudTrail, ...] = ()
    config_types: tuple[str, ...] = ()
    environment: Mapping[str, Any] = {}  # never mutated
    parameters: tuple[Parameter, ...] = ()
    us_east_1_only: bool = False
    """IAM (and CloudFront) publish their CloudTrail events in us-east-1 only."""
    reserved_concurrency: str | None = None
    """A parameter that sets the function's reserved concurrency (0: unset)."""
    inverse_operations: tuple[str, ...] = ()
    """The only calls an undo of this remediator's changes may make, as "service.operation"
    (boto3 names, e.g. "iam.attach_role_policy"). Undo runs with an administrator's credentials,
    so these are not permissions of our role: they bound what a ledger entry can make undo do."""

    @property
    def read_actions(self) -> tuple[str, ...]:
        """Allowed in every mode."""
        return _actions(p for p in self.permissions if p.when != ENFORCE)

    @property
    def write_actions(self) -> tuple[str, ...]:
        """Allowed only in enforce mode."""
        return _actions(p for p in self.permissions if p.when == ENFORCE)

    @property
    def event_names(self) -> frozenset[str]:
        return frozenset(name for calls in self.cloudtrail for name in calls.names)


def _actions(policies: Any) -> tuple[str, ...]:
    found = (
        action
        for policy in policies
        for statement in policy.statements
        if statement.effect == "Allow"
        for action in statement.actions
    )
    return tuple(dict.fromkeys(found))
