"""Baseline throttling on API Gateway usage plans: what an API key may send stays within it.

A usage plan's throttle is what each of its API keys may send: a plan without one, or above the
baseline (THROTTLING_RATE_LIMIT, THROTTLING_BURST_LIMIT), lets one client use up the stage's and
the account's shared limit. The plan throttle gets the baseline when it has none or more; each
per-method throttle of its API stages (`apiStages[].throttle`) above it is lowered; a lower value
a team chose stays, and quota, stages and keys are untouched. One update_usage_plan replaces the
throttling paths only; undo replaces the previous values, and removes (`op: remove, path:
/throttle`) a plan throttle the fix created.
"""

from __future__ import annotations

from typing import Any

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
from core.event import EventError, Trigger, required
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator
from throttling_baseline import baseline, lowered, text

PLANS = arn("apigateway", "/usageplans/*", account=False)
PATCH = "apigateway:PATCH"
"""API Gateway's IAM actions are HTTP verbs: UpdateUsagePlan needs apigateway:PATCH."""
FIELDS = ("rateLimit", "burstLimit")

DECLARATION = Declaration(
    name="apigateway_usage_plan_throttling",
    title="API Gateway usage plan throttling",
    description="Keeps API Gateway usage plan throttling at or below the baseline",
    cloudtrail=(CloudTrail("apigateway.amazonaws.com", ("CreateUsagePlan", "UpdateUsagePlan")),),
    config_types=("AWS::ApiGateway::UsagePlan",),
    environment={
        "THROTTLING_RATE_LIMIT": THROTTLING_RATE_LIMIT,
        "THROTTLING_BURST_LIMIT": THROTTLING_BURST_LIMIT,
    },
    inverse_operations=("apigateway.update_usage_plan",),
    permissions=(
        Policy("usage-plan-throttling-read", (allow("ReadUsagePlans", "apigateway:GET", PLANS),)),
        Policy(
            "usage-plan-throttling-write",
            (allow("ThrottleUsagePlans", PATCH, PLANS),),
            when=ENFORCE,
        ),
    ),
)


class ApigatewayUsagePlanThrottling(Remediator[str]):
    """Targets are usage plan ARNs (`arn:aws:apigateway:<region>::/usageplans/<id>`)."""

    declaration = DECLARATION
    gone_errors = ("NotFoundException",)

    def targets(self, trigger: Trigger) -> list[str]:
        if trigger.kind == "config":
            item = trigger.item
            if item.get("resourceType") != "AWS::ApiGateway::UsagePlan":
                raise EventError(f"resource type {item.get('resourceType')!r} is not a usage plan")
            named = str(item.get("arn") or required(item, "resourceId"))
            plan, region = named.rsplit("/usageplans/", 1)[-1], item.get("awsRegion")
        elif trigger.event_name == "CreateUsagePlan":
            plan, region = required(trigger.response, "id"), trigger.region
        elif trigger.event_name == "UpdateUsagePlan":
            plan, region = required(trigger.request, "usagePlanId"), trigger.region
        else:
            raise EventError(f"{trigger.event_name} is not a trigger of {self.name}")
        return [f"arn:aws:apigateway:{region or trigger.region}::/usageplans/{plan}"]

    def evaluate(self, target: str, aws: Aws) -> Evaluation:
        limits = baseline()
        where, target = target, target.rsplit("/", 1)[-1]
        plan = aws("apigateway").get_usage_plan(usagePlanId=target)
        old = {f: (plan.get("throttle") or {}).get(f) for f in FIELDS}
        new = lowered(old, FIELDS, limits, missing=True)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        patches: list[dict[str, str]] = []
        undo: list[dict[str, str]] = []
        if new != old:
            before["throttle"], after["throttle"] = old, new
            _patch(patches, undo, "/throttle", old, new)
            if not plan.get("throttle"):
                undo = [{"op": "remove", "path": "/throttle"}]
        for stage in plan.get("apiStages") or []:
            name = f"{stage.get('apiId')}:{stage.get('stage')}"
            for key, settings in sorted((stage.get("throttle") or {}).items()):
                old = {f: settings.get(f) for f in FIELDS}
                new = lowered(old, FIELDS, limits, missing=False)
                if new != old:
                    before.setdefault(name, {})[key] = old
                    after.setdefault(name, {})[key] = new
                    _patch(patches, undo, f"/apiStages/{name}/throttle/{_escaped(key)}", old, new)
        tags = plan.get("tags") or {}
        if not patches:
            return Evaluation(where, (), tags)
        change = Change(
            f"usage plan throttling at most {limits.rate:g} requests/s, burst {limits.burst}, on"
            f" {', '.join(after)} (the throttles that had none or more)",
            where,
            before,
            after,
            Call("apigateway", "update_usage_plan", _params(target, patches), PATCH),
            (Call("apigateway", "update_usage_plan", _params(target, undo), PATCH),),
        )
        return Evaluation(where, (change,), tags)

    def current_state(self, change: Change, aws: Aws) -> Any:
        """The throttles `after` names, as they are now."""
        target = change.call.params["usagePlanId"] if change.call else ""
        plan = aws("apigateway").get_usage_plan(usagePlanId=target)
        stages = {f"{s.get('apiId')}:{s.get('stage')}": s for s in plan.get("apiStages") or []}
        found: dict[str, Any] = {}
        for name, keys in change.after.items():
            if name == "throttle":
                found[name] = {f: (plan.get("throttle") or {}).get(f) for f in FIELDS}
                continue
            throttle = stages.get(name, {}).get("throttle") or {}
            found[name] = {k: {f: (throttle.get(k) or {}).get(f) for f in FIELDS} for k in keys}
        return found


def _patch(
    patches: list[dict[str, str]],
    undo: list[dict[str, str]],
    path: str,
    old: dict[str, Any],
    new: dict[str, Any],
) -> None:
    """Replace each changed value under `path`; undo replaces the previous one back."""
    for field in FIELDS:
        if new[field] != old[field]:
            patches.append({"op": "replace", "path": f"{path}/{field}", "value": text(new[field])})
            if old[field] is not None:
                undo.append({"op": "replace", "path": f"{path}/{field}", "value": text(old[field])})


def _escaped(key: str) -> str:
    """A per-method throttle key `/pets/GET` as a patch path: `~1pets/GET` (JSON Pointer)."""
    resource, method = key.rsplit("/", 1)
    return f"{resource.replace('~', '~0').replace('/', '~1')}/{method}"


def _params(target: str, operations: list[dict[str, str]]) -> dict[str, Any]:
    return {"usagePlanId": target, "patchOperations": operations}


REMEDIATOR = ApigatewayUsagePlanThrottling()
handler = lambda_handler(REMEDIATOR)
