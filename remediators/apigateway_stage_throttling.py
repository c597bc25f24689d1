"""Baseline throttling on API Gateway stages (REST and HTTP APIs): one API cannot starve the rest.

The account's limit (10,000 requests/s, burst 5,000 by default) is shared by every API of the
region. A REST stage's `*/*` method settings, or an HTTP API stage's default route, get the
baseline (THROTTLING_RATE_LIMIT, THROTTLING_BURST_LIMIT) when they have none or more; overrides
(per method, per route) above it are lowered; a lower value a team chose stays. One module for
both kinds: CloudTrail logs apigatewayv2 under apigateway.amazonaws.com with the same event
names (`restApiId` or `apiId` tells them apart), and only the read and the write differ.
REST: update_stage replaces the throttling paths only; undo replaces the previous values, and
removes (`op: remove, path: /*/*`) a `*/*` method setting the fix created. HTTP: update_stage
takes whole route-settings objects, so we send those just read with only throttling changed
(detailed metrics, logging level, data trace stay); undo sends the objects read before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from core.declaration import (
    ENFORCE,
    THROTTLING_BURST_LIMIT,
    THROTTLING_RATE_LIMIT,
    CloudTrail,
    Declaration,
    Policy,
    allow,
    arn,
)
from core.event import EventError, Trigger
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator
from throttling_baseline import Baseline, baseline, lowered, text

STAGES = (
    arn("apigateway", "/restapis/*/stages/*", account=False),
    arn("apigateway", "/apis/*/stages/*", account=False),
)
STAGE_ARN = re.compile(r"arn:aws[\w-]*:apigateway:([\w-]+)::/(restapis|apis)/([^/]+)/stages/(.+)")
PATCH = "apigateway:PATCH"
"""API Gateway's IAM actions are HTTP verbs: UpdateStage (v1 and v2) needs apigateway:PATCH."""
REST_FIELDS = ("throttlingRateLimit", "throttlingBurstLimit")
HTTP_FIELDS = ("ThrottlingRateLimit", "ThrottlingBurstLimit")

DECLARATION = Declaration(
    name="apigateway_stage_throttling",
    title="API Gateway stage throttling",
    description="Keeps REST and HTTP API stage throttling at or below the baseline",
    cloudtrail=(
        CloudTrail(
            "apigateway.amazonaws.com",
            ("CreateStage", "UpdateStage", "CreateDeployment"),
            why="REST and HTTP APIs (apigatewayv2) both log under apigateway.amazonaws.com",
        ),
    ),
    config_types=("AWS::ApiGateway::Stage", "AWS::ApiGatewayV2::Stage"),
    environment={
        "THROTTLING_RATE_LIMIT": THROTTLING_RATE_LIMIT,
        "THROTTLING_BURST_LIMIT": THROTTLING_BURST_LIMIT,
    },
    inverse_operations=("apigateway.update_stage", "apigatewayv2.update_stage"),
    permissions=(
        Policy(
            "stage-throttling-read",
            (allow("ReadStages", "apigateway:GET", STAGES, why="GetStage, REST and HTTP"),),
        ),
        Policy("stage-throttling-write", (allow("ThrottleStages", PATCH, STAGES),), when=ENFORCE),
    ),
)


class Stage(NamedTuple):
    kind: str  # "restapis" (REST) or "apis" (HTTP)
    api: str
    name: str
    arn: str


class ApigatewayStageThrottling(Remediator[Stage]):
    declaration = DECLARATION
    gone_errors = ("NotFoundException",)

    def targets(self, trigger: Trigger) -> list[Stage]:
        if trigger.kind == "config":
            item = trigger.item
            if item.get("resourceType") not in DECLARATION.config_types:
                raise EventError(f"resource type {item.get('resourceType')!r} is not a stage")
            found = STAGE_ARN.fullmatch(str(item.get("arn") or item.get("resourceId") or ""))
            if not found:
                raise EventError("configuration item names no API Gateway stage ARN")
            _region, kind, api, name = found.groups()
            return [Stage(kind, api, name, found.group(0))]
        request = trigger.request
        kind, api = ("restapis", request.get("restApiId")) if "restApiId" in request else (
            "apis", request.get("apiId")
        )  # fmt: skip
        nested = [v for k, v in request.items() if k.endswith("Input") and isinstance(v, Mapping)]
        names = [request.get("stageName"), *(v.get("stageName") for v in nested)]
        name = next((n for n in names if isinstance(n, str) and n), "")
        if not isinstance(api, str) or not api:
            raise EventError(f"{trigger.event_name} names neither restApiId nor apiId")
        if not name:
            if trigger.event_name == "CreateDeployment":
                return []  # a deployment to no stage changes no stage's settings
            raise EventError(f"{trigger.event_name} names no stage")
        where = f"arn:aws:apigateway:{trigger.region}::/{kind}/{api}/stages/{name}"
        return [Stage(kind, api, name, where)]

    def evaluate(self, target: Stage, aws: Aws) -> Evaluation:
        limits = baseline()
        if target.kind == "apis":
            return self._http(target, aws, limits)
        live = aws("apigateway").get_stage(restApiId=target.api, stageName=target.name)
        settings = live.get("methodSettings") or {}
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        patches: list[dict[str, str]] = []
        undo: list[dict[str, str]] = []
        for key in dict.fromkeys(("*/*", *sorted(settings))):
            old = {f: (settings.get(key) or {}).get(f) for f in REST_FIELDS}
            new = lowered(old, REST_FIELDS, limits, missing=key == "*/*")
            if new == old:
                continue
            before[key], after[key] = _limits(old), _limits(new)
            path = _method_path(key)
            for field, name in zip(REST_FIELDS, ("rateLimit", "burstLimit"), strict=True):
                if new[field] != old[field]:
                    value = f"{path}/throttling/{name}"
                    patches.append({"op": "replace", "path": value, "value": text(new[field])})
                    previous = old[field]
                    if previous is not None:
                        undo.append({"op": "replace", "path": value, "value": text(previous)})
            if key not in settings:
                undo.append({"op": "remove", "path": path})
        tags = live.get("tags") or {}
        if not patches:
            return Evaluation(target.arn, (), tags)
        params = {"restApiId": target.api, "stageName": target.name}
        change = Change(
            f"stage throttling at most {limits.rate:g} requests/s, burst {limits.burst}, on"
            f" {', '.join(after)} (the method settings that had none or more)",
            target.arn,
            before,
            after,
            Call("apigateway", "update_stage", {**params, "patchOperations": patches}, PATCH),
            (Call("apigateway", "update_stage", {**params, "patchOperations": undo}, PATCH),),
        )
        return Evaluation(target.arn, (change,), tags)

    def _http(self, target: Stage, aws: Aws, limits: Baseline) -> Evaluation:
        live = aws("apigatewayv2").get_stage(ApiId=target.api, StageName=target.name)
        before = _route_settings(live)
        after = {
            "DefaultRouteSettings": lowered(
                before["DefaultRouteSettings"], HTTP_FIELDS, limits, missing=True
            ),
            "RouteSettings": {
                route: lowered(settings, HTTP_FIELDS, limits, missing=False)
                for route, settings in before["RouteSettings"].items()
            },
        }
        tags = live.get("Tags") or {}
        if after == before:
            return Evaluation(target.arn, (), tags)
        params = {"ApiId": target.api, "StageName": target.name}
        change = Change(
            f"HTTP API stage throttling at most {limits.rate:g} requests/s, burst {limits.burst}"
            " (default route and each route above it; other route settings unchanged)",
            target.arn,
            before,
            after,
            Call("apigatewayv2", "update_stage", {**params, **after}, PATCH),
            (Call("apigatewayv2", "update_stage", {**params, **before}, PATCH),),
        )
        return Evaluation(target.arn, (change,), tags)

    def current_state(self, change: Change, aws: Aws) -> Any:
        """The throttling values `after` names (REST), or the route settings whole (HTTP)."""
        params = change.call.params if change.call else {}
        if "ApiId" in params:
            stage = {"ApiId": params["ApiId"], "StageName": params["StageName"]}
            return _route_settings(aws("apigatewayv2").get_stage(**stage))
        live = aws("apigateway").get_stage(
            restApiId=params["restApiId"], stageName=params["stageName"]
        )
        settings = live.get("methodSettings") or {}
        return {key: _limits(settings.get(key) or {}) for key in change.after}


def _limits(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {"rateLimit": settings.get(REST_FIELDS[0]), "burstLimit": settings.get(REST_FIELDS[1])}


def _route_settings(stage: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "DefaultRouteSettings": dict(stage.get("DefaultRouteSettings") or {}),
        "RouteSettings": {k: dict(v) for k, v in (stage.get("RouteSettings") or {}).items()},
    }


def _method_path(key: str) -> str:
    """The patch path of a method-settings key: `*/*`, or `<resource>/<METHOD>` with the
    resource path's slashes escaped as `~1` (GetStage may give it escaped already)."""
    if key == "*/*":
        return "/*/*"
    resource, method = key.rsplit("/", 1)
    if not resource.startswith("~1"):
        resource = "/" + resource.lstrip("/")
    return f"/{resource.replace('/', '~1')}/{method}"


REMEDIATOR = ApigatewayStageThrottling()
handler = lambda_handler(REMEDIATOR)
