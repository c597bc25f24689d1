"""API Gateway usage plan throttling in a moto account: each trigger, each mode, before/after.

moto gap, handled for that call only: `apigateway.update_usage_plan` ignores the per-method
throttle paths (`/apiStages/<api>:<stage>/throttle/<resource>/<METHOD>/rateLimit`) and stores
rates as integers. StubbedUpdateUsagePlan answers update_usage_plan through a botocore Stubber
(which checks the request against the service model) and applies each patch to moto's plan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from apigateway_usage_plan_throttling import REMEDIATOR
from autoremediate_cli.undo import undo
from core.clients import Clients
from core.ledger import Ledger
from core.outcome import Outcome, Status
from core.runner import TransientError
from tests.remediators.approvals import approve
from tests.remediators.calls import api_calls
from tests.remediators.faults import FailingAws
from tests.remediators.stubs import StubbedAws
from tools.scenario import ACCOUNT, REGION, inbox, load_event

MODULE = "apigateway_usage_plan_throttling"
OWN_ROLE_ARN = (
    "arn:aws:iam::123456789012:role/autoremediate/"
    "autoremediate-ApigatewayUsagePlanThrottlingRole-1A2B3C4D5E6F"
)
RATE, BURST = 500.0, 1000
TRIGGERS = ["CreateUsagePlan", "UpdateUsagePlan", "Config-UsagePlan"]
NAMES = {
    "api-gateway:GetUsagePlan": "apigateway:GET",
    "api-gateway:UpdateUsagePlan": "apigateway:PATCH",
}
"""API Gateway's IAM actions are HTTP verbs (botocore names the service `api-gateway`)."""

Run = Callable[..., list[Outcome]]


@pytest.fixture(autouse=True)
def throttling_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THROTTLING_RATE_LIMIT", f"{RATE:g}")
    monkeypatch.setenv("THROTTLING_BURST_LIMIT", str(BURST))


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    return make_run(REMEDIATOR, own_role=OWN_ROLE_ARN)


class StubbedUpdateUsagePlan(StubbedAws):
    """update_usage_plan, checked by a Stubber, then applied to moto's plan as API Gateway
    applies it (moto ignores per-method throttle paths)."""

    SERVICE, OPERATIONS = "apigateway", ("update_usage_plan",)

    def __init__(self, aws: Any) -> None:
        super().__init__(aws)
        self.calls: list[dict[str, Any]] = []

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        from moto.apigateway.models import apigateway_backends

        self.calls.append(params)
        response = self.reply(operation, params, {"id": params["usagePlanId"]})
        plan = apigateway_backends[ACCOUNT][REGION].usage_plans[params["usagePlanId"]]
        for op in params["patchOperations"]:
            parts = op["path"].strip("/").split("/")
            if parts[0] == "throttle" and op["op"] == "remove":
                plan.throttle = {}
            elif parts[0] == "throttle":
                plan.throttle[parts[1]] = _number(parts[1], op["value"])
            else:  # apiStages/<api>:<stage>/throttle/<resource>/<METHOD>/<field>
                api, stage = parts[1].split(":")
                [found] = [s for s in plan.api_stages if (s["apiId"], s["stage"]) == (api, stage)]
                key = parts[3].replace("~1", "/").replace("~0", "~") + "/" + parts[4]
                found["throttle"][key][parts[5]] = _number(parts[5], op["value"])
        return response


def _number(field: str, value: str) -> float | int:
    return float(value) if field == "rateLimit" else int(value)


def plan(aws: Any, throttle: Any = None, methods: Any = None, tags: Any = None) -> str:
    """Usage plan `partners` on stage prod of a REST API, with API keys' throttles."""
    apigw = aws("apigateway")
    api = apigw.create_rest_api(name="orders")["id"]
    stage: dict[str, Any] = {"apiId": api, "stage": "prod"}
    if methods:
        stage["throttle"] = methods
    extra = {"throttle": throttle} if throttle else {}
    created = apigw.create_usage_plan(
        name="partners", apiStages=[stage], quota={"limit": 5000, "period": "DAY"},
        tags=tags or {}, **extra,
    )  # fmt: skip
    return str(created["id"])


def event(name: str, plan_id: str) -> dict[str, Any]:
    sample = load_event(name, MODULE)
    detail = sample["detail"]
    if name.startswith("Config"):
        detail["configurationItem"]["resourceId"] = plan_id
        detail["configurationItem"]["arn"] = f"arn:aws:apigateway:{REGION}::/usageplans/{plan_id}"
    elif name.startswith("Create"):
        detail["responseElements"]["id"] = plan_id
    else:
        detail["requestParameters"]["usagePlanId"] = plan_id
    return sample


def live(aws: Any, plan_id: str) -> dict[str, Any]:
    found = aws("apigateway").get_usage_plan(usagePlanId=plan_id)
    found.pop("ResponseMetadata", None)
    return dict(found)


@pytest.mark.parametrize("name", TRIGGERS)
def test_report_mode_reports_and_changes_nothing(aws, stack, run, name):
    plan_id = plan(aws)
    before = live(aws, plan_id)

    with api_calls(aws, "apigateway", names=NAMES) as seen:
        [outcome] = run(event(name, plan_id), "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == f"arn:aws:apigateway:{REGION}::/usageplans/{plan_id}"
    [change] = outcome.changes
    assert change.before == {"throttle": {"rateLimit": None, "burstLimit": None}}
    assert "apigateway:PATCH" not in seen and live(aws, plan_id) == before
    assert inbox(aws, stack)[0]["attributes"]["status"] == "WOULD_REMEDIATE"


@pytest.mark.parametrize("name", TRIGGERS)
def test_enforce_sets_a_missing_plan_throttle_and_undo_removes_it(aws, stack, run, name):
    plan_id = plan(aws)
    before = live(aws, plan_id)
    stubbed = StubbedUpdateUsagePlan(aws)

    with api_calls(aws, "apigateway", names=NAMES) as seen:
        [outcome] = run(event(name, plan_id), "enforce", aws_=stubbed)

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert live(aws, plan_id)["throttle"] == {"rateLimit": RATE, "burstLimit": BURST}
    assert set(seen) <= set(REMEDIATOR.read_actions)  # the write goes to the Stubber:
    assert len(stubbed.calls) == 1  # one update_usage_plan
    assert {c.call.action for c in outcome.changes if c.call} == {"apigateway:PATCH"}
    [echo] = run(event(name, plan_id), "enforce", aws_=stubbed)  # repeated: no second write
    assert echo.status is Status.COMPLIANT and len(stubbed.calls) == 1

    undo(outcome.outcome_id, Ledger(aws, stack.table), cast(Clients, stubbed))
    assert live(aws, plan_id) == before


def test_too_high_lowered_stricter_kept_per_method_lowered_quota_untouched(aws, stack, run):
    plan_id = plan(
        aws,
        throttle={"rateLimit": 10000.0, "burstLimit": 100},
        methods={"/pets/GET": {"rateLimit": 9000.0, "burstLimit": 5000},
                 "/pets/POST": {"rateLimit": 10.0, "burstLimit": 20}},
    )  # fmt: skip
    before = live(aws, plan_id)
    stubbed = StubbedUpdateUsagePlan(aws)

    [outcome] = run(event("UpdateUsagePlan", plan_id), "enforce", aws_=stubbed)

    assert outcome.status is Status.REMEDIATED, outcome.reason
    after = live(aws, plan_id)
    assert after["throttle"] == {"rateLimit": RATE, "burstLimit": 100}
    [stage] = after["apiStages"]
    assert stage["throttle"] == {
        "/pets/GET": {"rateLimit": RATE, "burstLimit": BURST},
        "/pets/POST": {"rateLimit": 10.0, "burstLimit": 20},
    }
    assert (after["quota"], after["name"]) == (before["quota"], "partners")
    paths = [p["path"] for p in stubbed.calls[0]["patchOperations"]]
    assert paths == [
        "/throttle/rateLimit",
        f"/apiStages/{stage['apiId']}:prod/throttle/~1pets/GET/rateLimit",
        f"/apiStages/{stage['apiId']}:prod/throttle/~1pets/GET/burstLimit",
    ]

    undo(outcome.outcome_id, Ledger(aws, stack.table), cast(Clients, stubbed))
    assert live(aws, plan_id) == before


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_a_stricter_team_throttle_is_untouched(aws, stack, run, mode):
    plan_id = plan(aws, throttle={"rateLimit": 50.0, "burstLimit": 100})
    stubbed = StubbedUpdateUsagePlan(aws)

    [outcome] = run(event("UpdateUsagePlan", plan_id), mode, aws_=stubbed)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert stubbed.calls == [] and inbox(aws, stack) == []


def test_plan_deleted_in_between_is_skipped(aws, stack, run):
    plan_id = plan(aws)
    aws("apigateway").delete_usage_plan(usagePlanId=plan_id)

    [outcome] = run(event("UpdateUsagePlan", plan_id), "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (NotFoundException)" in outcome.reason


def test_access_denied_fails_and_changes_nothing(aws, stack, run):
    plan_id = plan(aws)
    denied = FailingAws(aws, "update_usage_plan", "AccessDeniedException", service="apigateway")

    [outcome] = run(event("CreateUsagePlan", plan_id), "enforce", aws_=denied)

    assert outcome.status is Status.FAILED and not outcome.transient
    assert "throttle" not in live(aws, plan_id)


def test_throttling_is_retried(aws, stack, run):
    plan_id = plan(aws)
    busy = FailingAws(aws, "get_usage_plan", "TooManyRequestsException", service="apigateway")

    with pytest.raises(TransientError):
        run(event("CreateUsagePlan", plan_id), "enforce", aws_=busy)


def test_bad_baseline_fails_with_a_configuration_error(aws, stack, run, monkeypatch):
    monkeypatch.setenv("THROTTLING_BURST_LIMIT", "lots")
    plan_id = plan(aws)

    [outcome] = run(event("CreateUsagePlan", plan_id), "enforce")

    assert outcome.status is Status.FAILED
    assert outcome.reason.startswith("configuration error: THROTTLING_RATE_LIMIT must be")


def test_exempt_by_tag_changes_nothing(aws, stack, run):
    plan_id = plan(aws, tags={"autoremediate:exempt": "partner SLA INC-3"})
    approve(aws, stack, f"arn:aws:apigateway:us-east-1::/usageplans/{plan_id}", "partner SLA INC-3")

    [outcome] = run(event("CreateUsagePlan", plan_id), "enforce")

    assert outcome.status is Status.EXEMPT and "partner SLA INC-3" in outcome.reason
    assert "throttle" not in live(aws, plan_id)


def test_the_echo_of_our_own_fix_is_quiet(aws, stack, run):
    plan_id = plan(aws, throttle={"rateLimit": RATE, "burstLimit": BURST})

    [outcome] = run(event("UpdateUsagePlan-own-action", plan_id), "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet


def test_failed_calls_are_skipped_quietly(aws, stack, run):
    plan_id = plan(aws)

    [outcome] = run(event("UpdateUsagePlan-failed-call", plan_id), "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
