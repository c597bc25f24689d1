"""API Gateway stage throttling in a moto account: REST and HTTP API stages, each trigger, each
mode, live state before and after.

moto gaps, each handled for that call only:
- `apigatewayv2.update_stage` is not implemented: StubbedUpdateStage answers it through a botocore
  Stubber (which checks the request against the service model) and applies it to moto's stage.
- `apigateway.update_stage` ignores `op: remove` on a method setting (`/*/*`), which API Gateway
  applies by deleting that method setting: `moto_removes_method_settings` makes moto do so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from apigateway_stage_throttling import REMEDIATOR
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

MODULE = "apigateway_stage_throttling"
OWN_ROLE_ARN = (
    "arn:aws:iam::123456789012:role/autoremediate/"
    "autoremediate-ApigatewayStageThrottlingRole-1A2B3C4D5E6F"
)
API = "a1b2c3d4e5"
STAGE_ARN = f"arn:aws:apigateway:{REGION}::/restapis/{API}/stages/prod"
RATE, BURST = 500.0, 1000
REST_TRIGGERS = ["CreateStage", "UpdateStage", "CreateDeployment", "Config-Stage"]
NAMES = {
    "api-gateway:GetStage": "apigateway:GET",
    "api-gateway:UpdateStage": "apigateway:PATCH",
    "apigatewayv2:GetStage": "apigateway:GET",
    "apigatewayv2:UpdateStage": "apigateway:PATCH",
}
"""API Gateway's IAM actions are HTTP verbs: each call (botocore names the REST API's service
`api-gateway` in its events) as the action IAM checks."""

Run = Callable[..., list[Outcome]]


@pytest.fixture(autouse=True)
def throttling_baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The baseline, as the template sets it (values apart from moto's own defaults)."""
    monkeypatch.setenv("THROTTLING_RATE_LIMIT", f"{RATE:g}")
    monkeypatch.setenv("THROTTLING_BURST_LIMIT", str(BURST))


@pytest.fixture(autouse=True)
def moto_removes_method_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """API Gateway deletes a method setting on `op: remove, path: /<resource>/<METHOD>`; moto
    5.2 ignores that path (it removes only /accessLogSettings)."""
    from moto.apigateway.models import Stage as MotoStage

    original = MotoStage.apply_operations

    def apply_operations(self: Any, patch_operations: list[dict[str, Any]]) -> Any:
        for op in patch_operations:
            key = op["path"][1:]
            if op["op"] == "remove" and key.count("/") == 1:
                self.method_settings.pop(key, None)
        return original(self, [o for o in patch_operations if o["op"] != "remove"])

    monkeypatch.setattr(MotoStage, "apply_operations", apply_operations)


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    return make_run(REMEDIATOR, own_role=OWN_ROLE_ARN)


def event(name: str) -> dict[str, Any]:
    return load_event(name, MODULE)


def rest_stage(aws: Any, patches: list[tuple[str, str]] = (), tags: Any = None) -> None:  # type: ignore[assignment]
    """REST API `orders` (id a1b2c3d4e5) with GET /pets, deployed to stage `prod`, then
    `patches` (path, value) applied to the stage."""
    apigw = aws("apigateway")
    apigw.create_rest_api(name="orders", tags={"_custom_id_": API})
    root = apigw.get_resources(restApiId=API)["items"][0]["id"]
    pets = apigw.create_resource(restApiId=API, parentId=root, pathPart="pets")["id"]
    apigw.put_method(restApiId=API, resourceId=pets, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=API, resourceId=pets, httpMethod="GET", type="MOCK")
    deployment = apigw.create_deployment(restApiId=API)["id"]
    apigw.create_stage(
        restApiId=API, stageName="prod", deploymentId=deployment,
        variables={"backend": "orders-v2"}, tags=tags or {},
    )  # fmt: skip
    if patches:
        operations = [{"op": "replace", "path": p, "value": v} for p, v in patches]
        apigw.update_stage(restApiId=API, stageName="prod", patchOperations=operations)


def stage(aws: Any) -> dict[str, Any]:
    found = aws("apigateway").get_stage(restApiId=API, stageName="prod")
    found.pop("ResponseMetadata", None)
    found.pop("lastUpdatedDate", None)
    return dict(found)


def throttling(aws: Any) -> dict[str, tuple[Any, Any]]:
    return {
        key: (s.get("throttlingRateLimit"), s.get("throttlingBurstLimit"))
        for key, s in stage(aws).get("methodSettings", {}).items()
    }


def writes(seen: list[str]) -> list[str]:
    return [a for a in seen if a in REMEDIATOR.write_actions]


# ------------------------------------------------------------------------------ REST stages


@pytest.mark.parametrize("name", REST_TRIGGERS)
def test_report_mode_reports_and_changes_nothing(aws, stack, run, name):
    rest_stage(aws)
    before = stage(aws)

    with api_calls(aws, "apigateway", names=NAMES) as seen:
        [outcome] = run(event(name), "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == STAGE_ARN
    [change] = outcome.changes
    assert change.before == {"*/*": {"rateLimit": None, "burstLimit": None}}
    assert change.after == {"*/*": {"rateLimit": RATE, "burstLimit": BURST}}
    assert writes(seen) == [] and stage(aws) == before
    assert inbox(aws, stack)[0]["attributes"]["status"] == "WOULD_REMEDIATE"


@pytest.mark.parametrize("name", REST_TRIGGERS)
def test_enforce_mode_sets_missing_throttling_and_undo_removes_it(aws, stack, run, name):
    rest_stage(aws)
    before = stage(aws)
    assert before["methodSettings"] == {}

    with api_calls(aws, "apigateway", names=NAMES) as seen:
        [outcome] = run(event(name), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert throttling(aws) == {"*/*": (RATE, BURST)}
    assert writes(seen) == ["apigateway:PATCH"]
    assert set(seen) - {"apigateway:PATCH"} <= set(REMEDIATOR.read_actions)
    [echo] = run(event(name), "enforce")  # a repeated event: compliant, no second write
    assert echo.status is Status.COMPLIANT and echo.quiet
    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert stage(aws) == before  # the `*/*` method setting is gone again, as before


def test_too_high_is_lowered_stricter_kept_overrides_lowered_other_settings_stay(aws, stack, run):
    rest_stage(
        aws,
        [
            ("/*/*/metrics/enabled", "true"),
            ("/*/*/logging/loglevel", "INFO"),
            ("/*/*/logging/dataTrace", "true"),
            ("/*/*/throttling/rateLimit", "10000"),  # above the baseline
            ("/*/*/throttling/burstLimit", "200"),  # the team's stricter burst
            ("/~1pets/GET/throttling/rateLimit", "-1"),  # an override with throttling off
            ("/~1pets/GET/throttling/burstLimit", "50"),
        ],
    )
    aws("apigateway").update_stage(
        restApiId=API, stageName="prod",
        patchOperations=[{"op": "replace", "path": "/cacheClusterEnabled", "value": "true"}],
    )  # fmt: skip
    before = stage(aws)

    [outcome] = run(event("UpdateStage"), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    [change] = outcome.changes
    assert change.before == {
        "*/*": {"rateLimit": 10000.0, "burstLimit": 200},
        "~1pets/GET": {"rateLimit": -1.0, "burstLimit": 50},
    }
    assert change.call is not None
    assert [p["path"] for p in change.call.params["patchOperations"]] == [
        "/*/*/throttling/rateLimit", "/~1pets/GET/throttling/rateLimit"
    ]  # fmt: skip
    after = stage(aws)
    assert throttling(aws) == {"*/*": (RATE, 200), "~1pets/GET": (RATE, 50)}
    for key in ("metricsEnabled", "loggingLevel", "dataTraceEnabled"):
        assert after["methodSettings"]["*/*"][key] == before["methodSettings"]["*/*"][key]
    assert after["methodSettings"]["*/*"]["metricsEnabled"] is True
    assert (after["cacheClusterEnabled"], after["variables"]) == (True, {"backend": "orders-v2"})

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert stage(aws) == before


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_a_stricter_team_throttle_is_untouched(aws, stack, run, mode):
    rest_stage(aws, [("/*/*/throttling/rateLimit", "20"), ("/*/*/throttling/burstLimit", "40")])
    before = stage(aws)

    with api_calls(aws, "apigateway", names=NAMES) as seen:
        [outcome] = run(event("UpdateStage"), mode)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert writes(seen) == [] and stage(aws) == before
    assert inbox(aws, stack) == []


def test_undo_refuses_when_the_team_changed_throttling_since(aws, stack, run):
    rest_stage(aws, [("/*/*/throttling/rateLimit", "9000")])
    [outcome] = run(event("UpdateStage"), "enforce")
    assert outcome.status is Status.REMEDIATED
    aws("apigateway").update_stage(
        restApiId=API, stageName="prod",
        patchOperations=[{"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "10"}],
    )  # fmt: skip

    with pytest.raises(ValueError, match="has changed since the remediation"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert throttling(aws)["*/*"][0] == 10.0


def test_stage_deleted_in_between_is_skipped(aws, stack, run):
    rest_stage(aws)
    aws("apigateway").delete_stage(restApiId=API, stageName="prod")

    [outcome] = run(event("CreateStage"), "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (NotFoundException)" in outcome.reason


def test_access_denied_fails_loudly_and_changes_nothing(aws, stack, run):
    rest_stage(aws)
    denied = FailingAws(aws, "update_stage", "AccessDeniedException", service="apigateway")

    [outcome] = run(event("CreateStage"), "enforce", aws_=denied)

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("AccessDeniedException while applying")
    assert stage(aws)["methodSettings"] == {}


def test_throttling_is_retried(aws, stack, run):
    rest_stage(aws)
    busy = FailingAws(aws, "get_stage", "TooManyRequestsException", service="apigateway")

    with pytest.raises(TransientError, match="TooManyRequestsException"):
        run(event("CreateStage"), "enforce", aws_=busy)
    assert stage(aws)["methodSettings"] == {}


@pytest.mark.parametrize(
    ("rate", "burst"), [("", "2000"), ("fast", "2000"), ("0", "2000"), ("1000", "1.5"),
                        ("1000", "-1"), ("nan", "2000")],
)  # fmt: skip
def test_bad_baseline_values_fail_with_a_configuration_error(
    aws, stack, run, monkeypatch, rate, burst
):
    monkeypatch.setenv("THROTTLING_RATE_LIMIT", rate)
    monkeypatch.setenv("THROTTLING_BURST_LIMIT", burst)
    rest_stage(aws)

    [outcome] = run(event("CreateStage"), "enforce")

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("configuration error:")
    assert "THROTTLING_" in outcome.reason
    assert stage(aws)["methodSettings"] == {}


def test_failed_calls_are_skipped_quietly(aws, stack, run):
    rest_stage(aws)

    [outcome] = run(event("UpdateStage-failed-call"), "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert stage(aws)["methodSettings"] == {}


def test_the_echo_of_our_own_fix_is_re_checked_and_quiet(aws, stack, run):
    rest_stage(
        aws,
        [("/*/*/throttling/rateLimit", f"{RATE:g}"), ("/*/*/throttling/burstLimit", str(BURST))],
    )

    [outcome] = run(event("UpdateStage-own-action"), "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert inbox(aws, stack) == []


def test_exempt_by_tag_changes_nothing(aws, stack, run):
    rest_stage(aws, tags={"autoremediate:exempt": "load test INC-9"})
    approve(aws, stack, STAGE_ARN, "load test INC-9")

    [outcome] = run(event("CreateStage"), "enforce")

    assert outcome.status is Status.EXEMPT and "load test INC-9" in outcome.reason
    assert stage(aws)["methodSettings"] == {}


def test_a_deployment_to_no_stage_is_not_looked_at(aws, stack, run):
    sample = event("CreateDeployment")
    sample["detail"]["requestParameters"]["createDeploymentInput"].pop("stageName")

    assert run(sample, "enforce") == []


# ------------------------------------------------------------------------------ HTTP APIs


class StubbedUpdateStage(StubbedAws):
    """apigatewayv2.update_stage, which moto lacks: checked by a Stubber against the model,
    then applied to moto's stage (route settings objects replaced whole, as sent)."""

    SERVICE, OPERATIONS = "apigatewayv2", ("update_stage",)

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        from moto.apigatewayv2.models import apigatewayv2_backends

        response = self.reply(operation, params, {"StageName": params["StageName"]})
        found = apigatewayv2_backends[ACCOUNT][REGION].get_stage(
            params["ApiId"], params["StageName"]
        )
        if "DefaultRouteSettings" in params:
            found.default_route_settings = _camel(params["DefaultRouteSettings"])
        if "RouteSettings" in params:
            found.route_settings = {k: _camel(v) for k, v in params["RouteSettings"].items()}
        return response


def _camel(settings: dict[str, Any]) -> dict[str, Any]:
    return {k[0].lower() + k[1:]: v for k, v in settings.items()}


@pytest.fixture
def http_api(aws: Any) -> Iterator[str]:
    v2 = aws("apigatewayv2")
    api = v2.create_api(Name="orders-http", ProtocolType="HTTP")["ApiId"]
    v2.create_stage(
        ApiId=api, StageName="$default", StageVariables={"backend": "v2"}, Tags={"team": "orders"},
        DefaultRouteSettings={"DetailedMetricsEnabled": True, "LoggingLevel": "INFO"},
        RouteSettings={
            "GET /pets": {"DataTraceEnabled": True, "ThrottlingRateLimit": 20000.0,
                          "ThrottlingBurstLimit": 10},
            "POST /pets": {"DetailedMetricsEnabled": True, "ThrottlingRateLimit": 5.0},
        },
    )  # fmt: skip
    yield api


def http_event(name: str, api: str) -> dict[str, Any]:
    sample = event(name)
    if sample["detail-type"].startswith("Config"):
        arn = f"arn:aws:apigateway:{REGION}::/apis/{api}/stages/$default"
        sample["detail"]["configurationItem"].update(resourceId=arn, arn=arn)
    else:
        sample["detail"]["requestParameters"]["apiId"] = api
    return sample


def http_settings(aws: Any, api: str) -> dict[str, Any]:
    found = aws("apigatewayv2").get_stage(ApiId=api, StageName="$default")
    return {k: found.get(k) for k in ("DefaultRouteSettings", "RouteSettings", "StageVariables")}


@pytest.mark.parametrize("name", ["CreateStage-http", "Config-StageV2"])
def test_http_api_report_mode_changes_nothing(aws, stack, run, http_api, name):
    before = http_settings(aws, http_api)
    stubbed = StubbedUpdateStage(aws)

    [outcome] = run(http_event(name, http_api), "report", aws_=stubbed)

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == f"arn:aws:apigateway:{REGION}::/apis/{http_api}/stages/$default"
    assert http_settings(aws, http_api) == before


@pytest.mark.parametrize("name", ["CreateStage-http", "UpdateStage-http", "Config-StageV2"])
def test_http_api_default_route_set_routes_lowered_other_settings_stay_undo(
    aws, stack, run, http_api, name
):
    before = http_settings(aws, http_api)
    stubbed = StubbedUpdateStage(aws)

    with api_calls(stubbed, "apigatewayv2", names=NAMES) as seen:
        [outcome] = run(http_event(name, http_api), "enforce", aws_=stubbed)

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert writes(seen) == []  # the Stubber's own client: the write is checked below
    after = http_settings(aws, http_api)
    assert after["DefaultRouteSettings"] == {
        "DetailedMetricsEnabled": True, "LoggingLevel": "INFO",
        "ThrottlingRateLimit": RATE, "ThrottlingBurstLimit": BURST,
    }  # fmt: skip
    assert after["RouteSettings"] == {
        "GET /pets": {"DataTraceEnabled": True, "ThrottlingRateLimit": RATE,
                      "ThrottlingBurstLimit": 10},  # the team's stricter burst stays
        "POST /pets": {"DetailedMetricsEnabled": True, "ThrottlingRateLimit": 5.0},
    }  # fmt: skip
    assert after["StageVariables"] == {"backend": "v2"}
    [echo] = run(http_event(name, http_api), "enforce", aws_=stubbed)
    assert echo.status is Status.COMPLIANT

    undo(outcome.outcome_id, Ledger(aws, stack.table), cast(Clients, stubbed))
    assert http_settings(aws, http_api) == before


def test_http_stage_deleted_in_between_is_skipped(aws, stack, run, http_api):
    aws("apigatewayv2").delete_stage(ApiId=http_api, StageName="$default")

    [outcome] = run(http_event("UpdateStage-http", http_api), "enforce")

    assert outcome.status is Status.SKIPPED


def test_real_create_stage_record_names_the_rest_stage():
    import json
    from pathlib import Path

    from core.event import parse
    from tests.contract.test_template import envelope

    path = Path(__file__).resolve().parents[1] / "fixtures" / "cloudtrail"
    record = json.loads((path / "apigateway.amazonaws.com" / "CreateStage" / "1.json").read_text())
    [target] = REMEDIATOR.targets(parse(envelope(record)))
    assert (target.kind, target.api, target.name) == ("restapis", "abcdef74gh", "latest")
