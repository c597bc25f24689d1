"""WAF in front of every public API: REST API stages and AppSync GraphQL APIs get the baseline
REGIONAL web ACL.

The live association (wafv2 GetWebACLForResource) decides, never the event. An API with no web
ACL gets the baseline one. An API with another web ACL keeps it, because a team chose it: the
outcome names that ACL and stays WOULD_REMEDIATE, unless REPLACE_EXISTING_WEB_ACL is "true".
Undo puts back exactly what was there: that ACL, or no ACL at all. HTTP APIs (API Gateway v2)
cannot take a web ACL at all, so they are not watched: put CloudFront in front (README).
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from core.declaration import (
    BASELINE_WEB_ACL,
    ENFORCE,
    REPLACE_EXISTING_WEB_ACL,
    CloudTrail,
    Declaration,
    Policy,
    allow,
    arn,
)
from core.event import EventError, Trigger, required
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator
from core.settings import SettingsError, env_flag, required_env

REST_STAGE = re.compile(r"arn:aws[a-z-]*:apigateway:([a-z0-9-]+)::/restapis/([^/]+)/stages/([^/]+)")
GRAPHQL_API = re.compile(r"arn:aws[a-z-]*:appsync:([a-z0-9-]+):(\d{12}):apis/([^/]+)")
BASELINE = re.compile(r"arn:aws[a-z-]*:wafv2:([a-z0-9-]+):\d{12}:regional/webacl/([^/]+)/([^/]+)")
STAGES = arn("apigateway", "/restapis/*/stages/*", account=False)
GRAPHQL_APIS = arn("appsync", "apis/*")
PROTECTED = [STAGES, GRAPHQL_APIS]
WEB_ACLS = arn("wafv2", "regional/webacl/*/*")
STAGE_EVENTS = ("CreateStage", "CreateDeployment", "UpdateStage")
API_EVENTS = ("CreateGraphqlApi", "UpdateGraphqlApi")
WAF_EVENTS = ("AssociateWebACL", "DisassociateWebACL")

DECLARATION = Declaration(
    name="waf_web_acl_attachment",
    title="WAF web ACL on public APIs",
    description="Associates the baseline WAF web ACL with REST API stages and AppSync APIs",
    cloudtrail=(
        CloudTrail("apigateway.amazonaws.com", STAGE_EVENTS),
        CloudTrail("appsync.amazonaws.com", API_EVENTS, rule="CloudTrailAppSync"),
        CloudTrail(
            "wafv2.amazonaws.com",
            WAF_EVENTS,
            rule="CloudTrailWaf",
            why="Any resource type: only REST stages and AppSync APIs are looked at.",
        ),
    ),
    config_types=("AWS::ApiGateway::Stage", "AWS::AppSync::GraphQLApi"),
    environment={
        "BASELINE_WEB_ACL_ARN": BASELINE_WEB_ACL,
        "REPLACE_EXISTING_WEB_ACL": REPLACE_EXISTING_WEB_ACL,
    },
    inverse_operations=("wafv2.associate_web_acl", "wafv2.disassociate_web_acl"),
    permissions=(
        Policy(
            "waf-attachment-read",
            (
                allow(
                    "ReadStages",
                    "apigateway:GET",
                    STAGES,
                    why="GetStage: the stage exists, and its tags (exemptions).",
                ),
                allow("ReadGraphqlApis", "appsync:GetGraphqlApi", GRAPHQL_APIS),
                allow("ReadAssociations", "wafv2:GetWebACLForResource", [*PROTECTED, WEB_ACLS]),
                allow(
                    "ReadWebAcls",
                    "wafv2:GetWebACL",
                    WEB_ACLS,
                    why="The baseline exists; GetWebACLForResource checks it on the ACL found.",
                ),
            ),
        ),
        Policy(
            "waf-attachment-write",
            (
                allow(
                    "AssociateBaseline",
                    "wafv2:AssociateWebACL",
                    [BASELINE_WEB_ACL, *PROTECTED],
                    why="Only the baseline web ACL: undo, with an administrator's credentials,"
                    " puts back another.",
                ),
                allow(
                    "SetStageWebAcl",
                    "apigateway:SetWebACL",
                    STAGES,
                    why="AssociateWebACL needs the protected resource's own permission too.",
                ),
                allow("SetGraphqlApiWebAcl", "appsync:SetWebACL", GRAPHQL_APIS),
            ),
            when=ENFORCE,
        ),
    ),
)


class WafWebAclAttachment(Remediator[str]):
    """Targets are the protected resources' ARNs (a REST stage, an AppSync API)."""

    declaration = DECLARATION
    # API Gateway and AppSync say NotFoundException for a deleted stage or API; WAF says
    # WAFNonexistentItemException when the resource went between our read and our write.
    gone_errors = ("NotFoundException", "WAFNonexistentItemException")

    def targets(self, trigger: Trigger) -> list[str]:
        if trigger.kind == "config":
            return [_config_target(trigger)]
        name, request = trigger.event_name, trigger.request
        if name in STAGE_EVENTS:
            inputs = ("createStageInput", "createDeploymentInput", "updateStageInput")
            stage = request.get("stageName") or next(
                (i["stageName"] for k in inputs if isinstance(i := request.get(k), dict)
                 and i.get("stageName")), None,
            )  # fmt: skip
            if not stage and name == "CreateDeployment":
                return []  # a deployment to no stage puts no stage on line
            if not stage:
                raise EventError(f"{name} names no stageName")
            api = required(request, "restApiId")
            return [f"arn:aws:apigateway:{trigger.region}::/restapis/{api}/stages/{stage}"]
        if name in API_EVENTS:
            created = trigger.response.get("graphqlApi")
            if isinstance(created, dict) and created.get("arn"):
                return [str(created["arn"])]
            api = required(request, "apiId")
            return [f"arn:aws:appsync:{trigger.region}:{trigger.account}:apis/{api}"]
        if name in WAF_EVENTS:
            resource = required(request, "resourceArn")
            # Load balancers, user pools, App Runner...: not ours (another control's), quietly.
            return [resource] if _protected(resource) else []
        raise EventError(f"{name} is not a trigger of {self.name}")

    def evaluate(self, target: str, aws: Aws) -> Evaluation:
        tags = _tags(target, aws)  # NotFoundException first when the API or stage is gone
        current = associated(target, aws)
        baseline = required_env("BASELINE_WEB_ACL_ARN")
        if current == baseline:
            return Evaluation(target, tags=tags)
        if current and not env_flag("REPLACE_EXISTING_WEB_ACL"):
            kept = Change(
                f"has web ACL {current}, not the baseline {baseline}: kept, a team chose it"
                " (ReplaceExistingWebAcl=false); review it, tag the resource"
                " autoremediate:exempt, or set ReplaceExistingWebAcl=true",
                target, current, baseline, None,
            )  # fmt: skip
            return Evaluation(target, (kept,), tags)
        _check_baseline(baseline, target, aws)
        params = {"ResourceArn": target}
        undo = (
            Call("wafv2", "associate_web_acl", {**params, "WebACLArn": current})
            if current
            else Call("wafv2", "disassociate_web_acl", params)
        )
        change = Change(
            f"associate the baseline web ACL {acl_name(baseline)}"
            + (f" in place of {current} (ReplaceExistingWebAcl=true)" if current else " (none)"),
            target,
            current,
            baseline,
            Call("wafv2", "associate_web_acl", {**params, "WebACLArn": baseline}),
            (undo,),
        )
        return Evaluation(target, (change,), tags)

    def current_state(self, change: Change, aws: Aws) -> Any:
        """The web ACL associated now (None for none), as `after` names it."""
        return associated(change.resource, aws)


def associated(resource: str, aws: Aws) -> str | None:
    """The ARN of the web ACL associated with `resource`, or None."""
    try:
        found = aws("wafv2").get_web_acl_for_resource(ResourceArn=resource)
    except ClientError as error:
        # The resource was just read, so "nonexistent" is its association: none (never a
        # reason to skip an unprotected API). Had it gone since, the write says so.
        if error.response.get("Error", {}).get("Code") == "WAFNonexistentItemException":
            return None
        raise
    acl = found.get("WebACL") or {}
    return str(acl["ARN"]) if acl.get("ARN") else None


def _protected(resource: str) -> bool:
    return bool(REST_STAGE.fullmatch(resource) or GRAPHQL_API.fullmatch(resource))


def _tags(resource: str, aws: Aws) -> dict[str, str]:
    """Read the stage or API (it exists) and its tags, in one call."""
    stage = REST_STAGE.fullmatch(resource)
    if stage:
        found = aws("apigateway").get_stage(restApiId=stage[2], stageName=stage[3])
    else:
        api = GRAPHQL_API.fullmatch(resource)
        if api is None:
            raise EventError(f"{resource} is neither a REST API stage nor an AppSync API")
        found = aws("appsync").get_graphql_api(apiId=api[3])["graphqlApi"]
    return {str(k): str(v) for k, v in (found.get("tags") or {}).items()}


def _check_baseline(baseline: str, resource: str, aws: Aws) -> None:
    """A REGIONAL web ACL of the resource's region that exists: anything else is a
    configuration error (FAILED, nothing changed), not a resource gone."""
    found = BASELINE.fullmatch(baseline)
    region = resource.split(":")[3]
    if found is None or found[1] != region:
        raise SettingsError(
            f"BASELINE_WEB_ACL_ARN {baseline!r} is not a REGIONAL web ACL of {region}"
        )
    try:
        aws("wafv2").get_web_acl(Name=found[2], Scope="REGIONAL", Id=found[3])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "WAFNonexistentItemException":
            raise SettingsError(f"the baseline web ACL {baseline} does not exist") from None
        raise


def _config_target(trigger: Trigger) -> str:
    item = trigger.item
    kind = item.get("resourceType")
    if kind not in DECLARATION.config_types:
        raise EventError(f"resource type {kind!r} is not a REST API stage or an AppSync API")
    found = str(item.get("ARN") or item.get("arn") or required(item, "resourceId"))
    if kind == "AWS::AppSync::GraphQLApi" and not found.startswith("arn:"):
        found = f"arn:aws:appsync:{trigger.region}:{trigger.account}:apis/{found}"
    return found


def acl_name(arn: str) -> str:
    """A web ACL's name, from arn:...:regional/webacl/<name>/<id> (the ARN is in the change)."""
    parts = arn.split("/")
    return parts[-2] if len(parts) >= 3 else arn


REMEDIATOR = WafWebAclAttachment()
handler = lambda_handler(REMEDIATOR)
