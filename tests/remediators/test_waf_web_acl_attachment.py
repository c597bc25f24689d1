"""The WAF web ACL remediator in a moto account: REST API stages and AppSync APIs, each trigger,
each mode, the live association before and after, and undo.

moto 5.2 answers wafv2 associate / get_web_acl_for_resource / disassociate on REST stage and
AppSync ARNs, but an AssociateWebACL on a resource that already has a web ACL adds a second one
instead of replacing it, as AWS does (a resource has one web ACL): the `waf_replaces` fixture
makes it replace. moto gives AppSync APIs random ids, so AppSync events are rewritten to name the
API the test created.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autoremediate_cli.undo import undo
from autoremediate_cli.undo_guard import UndoRefusedError
from core.event import parse
from core.ledger import Ledger
from core.outcome import Outcome, Status
from core.runner import TransientError
from tests.contract.test_template import envelope
from tests.remediators.approvals import approve
from tests.remediators.calls import api_calls, ledger_before
from tests.remediators.faults import FailingAws
from tools.scenario import inbox
from waf_web_acl_attachment import REMEDIATOR, associated

MODULE = "waf_web_acl_attachment"
API_ID = "a1b2c3d4e5"
STAGE = f"arn:aws:apigateway:us-east-1::/restapis/{API_ID}/stages/prod"
SAMPLE_GRAPHQL_API = "k5mrxqx3nbdpxb2sgdw6ltfc4e"
OWN_ROLE_ARN = (
    "arn:aws:iam::123456789012:role/autoremediate/"
    "autoremediate-WafWebAclAttachmentRole-1A2B3C4D5E6F"
)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STAGE_TRIGGERS = ["CreateStage", "CreateDeployment", "UpdateStage", "DisassociateWebACL",
                  "Config-Stage"]  # fmt: skip
API_TRIGGERS = ["CreateGraphqlApi", "UpdateGraphqlApi", "Config-GraphQLApi"]
NAMES = {"api-gateway:GetStage": "apigateway:GET"}  # the IAM action of GetStage
SERVICES = ("apigateway", "appsync", "wafv2")

Run = Callable[..., list[Outcome]]


def web_acl(aws: Any, name: str) -> str:
    """Another REGIONAL web ACL in us-east-1, a team's own."""
    waf = aws("wafv2")
    visibility = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False,
                  "MetricName": name}  # fmt: skip
    created = waf.create_web_acl(Name=name, Scope="REGIONAL", DefaultAction={"Allow": {}},
                                 VisibilityConfig=visibility)  # fmt: skip
    return str(created["Summary"]["ARN"])


@pytest.fixture
def waf_replaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS replaces a resource's web ACL on AssociateWebACL; moto 5.2 keeps both."""
    from moto.wafv2.models import WAFV2Backend

    original = WAFV2Backend.associate_web_acl

    def associate(self: Any, web_acl_arn: str, resource_arn: str) -> None:
        if web_acl_arn in self.wacls:
            for acl in self.wacls.values():
                while resource_arn in acl.associated_resources:
                    acl.associated_resources.remove(resource_arn)
        original(self, web_acl_arn, resource_arn)

    monkeypatch.setattr(WAFV2Backend, "associate_web_acl", associate)


@pytest.fixture
def baseline(aws: Any, stack: Any, monkeypatch: pytest.MonkeyPatch, waf_replaces: None) -> str:
    """The stack's baseline web ACL, as BASELINE_WEB_ACL_ARN names it; replacing is off."""
    arn = str(stack.web_acl_arn)
    monkeypatch.setenv("BASELINE_WEB_ACL_ARN", arn)
    monkeypatch.setenv("REPLACE_EXISTING_WEB_ACL", "false")
    return arn


@pytest.fixture
def run(make_run: Callable[..., Run], baseline: str) -> Run:
    return make_run(REMEDIATOR, own_role=OWN_ROLE_ARN)


def make_stage(aws: Any, tags: dict[str, str] | None = None) -> str:
    """REST API a1b2c3d4e5 with stage `prod`, no web ACL (as the sample events describe)."""
    apigw = aws("apigateway")
    api = apigw.create_rest_api(name="orders-api", tags={"_custom_id_": API_ID})
    root = api["rootResourceId"]
    apigw.put_method(restApiId=API_ID, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=API_ID, resourceId=root, httpMethod="GET", type="MOCK")
    apigw.create_deployment(restApiId=API_ID, stageName="prod")
    if tags:
        apigw.tag_resource(resourceArn=STAGE, tags=tags)
    return STAGE


def make_api(aws: Any, tags: dict[str, str] | None = None) -> str:
    found = aws("appsync").create_graphql_api(
        name="orders-graphql", authenticationType="API_KEY", tags=tags or {}
    )
    return str(found["graphqlApi"]["arn"])


def event(name: str, api_arn: str = "") -> dict[str, Any]:
    """Sample `name`; AppSync samples rewritten to name the API moto created."""
    text = (Path(__file__).resolve().parents[2] / "events" / MODULE / f"{name}.json").read_text()
    if api_arn:
        text = text.replace(SAMPLE_GRAPHQL_API, api_arn.rsplit("/", 1)[1])
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def prepare(aws: Any, name: str) -> tuple[str, dict[str, Any]]:
    if name in API_TRIGGERS:
        arn = make_api(aws)
        return arn, event(name, arn)
    return make_stage(aws), event(name)


def writes(seen: list[str]) -> list[str]:
    return [a for a in seen if a in REMEDIATOR.write_actions]


# ------------------------------------------------------------------------------ each trigger


@pytest.mark.parametrize("name", STAGE_TRIGGERS + API_TRIGGERS)
def test_report_mode_reports_and_changes_nothing(aws, stack, run, baseline, name):
    arn, sample = prepare(aws, name)

    with api_calls(aws, *SERVICES, names=NAMES) as seen:
        [outcome] = run(sample, "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == arn
    [change] = outcome.changes
    assert (change.before, change.after) == (None, baseline)
    assert writes(seen) == []
    assert associated(arn, aws) is None
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"


@pytest.mark.parametrize("name", STAGE_TRIGGERS + API_TRIGGERS)
def test_enforce_mode_associates_the_baseline_once_and_undo_removes_it(
    aws, stack, run, baseline, name
):
    arn, sample = prepare(aws, name)

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert associated(arn, aws) == baseline
    assert inbox(aws, stack)[0]["attributes"]["status"] == "REMEDIATED"
    with api_calls(aws, *SERVICES, names=NAMES) as seen:
        [again] = run(sample, "enforce")  # a repeated event: compliant, no second write
    assert again.status is Status.COMPLIANT and again.quiet
    assert writes(seen) == [] and inbox(aws, stack) == []

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert associated(arn, aws) is None
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "UNDONE"


def test_stage_on_the_api_gateway_side_shows_the_baseline_too(aws, stack, run, baseline):
    """The stage itself (GetStage webAclArn) says what WAF says: the fix is real."""
    arn, sample = prepare(aws, "CreateStage")

    run(sample, "enforce")

    stage = aws("apigateway").get_stage(restApiId=API_ID, stageName="prod")
    assert stage["webAclArn"] == baseline == associated(arn, aws)


# ---------------------------------------------------------------- a team's own web ACL, kept


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize("name", ["AssociateWebACL", "Config-GraphQLApi"])
def test_a_teams_own_web_acl_is_reported_and_kept(aws, stack, run, baseline, mode, name):
    arn, sample = prepare(aws, name)
    team = web_acl(aws, "orders-team-acl")
    aws("wafv2").associate_web_acl(WebACLArn=team, ResourceArn=arn)

    with api_calls(aws, *SERVICES, names=NAMES) as seen:
        [outcome] = run(sample, mode)

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    [change] = outcome.changes
    assert change.call is None and change.undo == ()
    assert change.summary.startswith(f"has web ACL {team}, not the baseline {baseline}: kept")
    assert writes(seen) == []
    assert associated(arn, aws) == team
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"
    assert team in note["body"]["changes"][0]["summary"]


def test_replace_existing_swaps_in_the_baseline_and_undo_puts_the_teams_back(
    aws, stack, run, baseline, monkeypatch
):
    monkeypatch.setenv("REPLACE_EXISTING_WEB_ACL", "true")
    arn, sample = prepare(aws, "AssociateWebACL")
    team = web_acl(aws, "orders-team-acl")
    aws("wafv2").associate_web_acl(WebACLArn=team, ResourceArn=arn)

    with ledger_before(aws, stack.table, "wafv2", "AssociateWebACL") as recorded:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert associated(arn, aws) == baseline
    [change] = recorded[0]["changes"]
    assert (change["before"], change["after"]) == (team, baseline)
    assert change["undo"] == [{"service": "wafv2", "operation": "associate_web_acl",
                               "params": {"ResourceArn": arn, "WebACLArn": team}}]  # fmt: skip

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert associated(arn, aws) == team


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_the_baseline_already_there_is_compliant_and_quiet(aws, stack, run, baseline, mode):
    arn, sample = prepare(aws, "UpdateStage")
    aws("wafv2").associate_web_acl(WebACLArn=baseline, ResourceArn=arn)

    with api_calls(aws, *SERVICES, names=NAMES) as seen:
        [outcome] = run(sample, mode)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert writes(seen) == [] and associated(arn, aws) == baseline
    assert inbox(aws, stack) == []


def test_undo_refuses_when_the_association_changed_since(aws, stack, run, baseline):
    arn, sample = prepare(aws, "CreateStage")
    [outcome] = run(sample, "enforce")
    team = web_acl(aws, "orders-team-acl")
    aws("wafv2").associate_web_acl(WebACLArn=team, ResourceArn=arn)  # a later, deliberate edit

    with pytest.raises(UndoRefusedError, match="has changed since the remediation"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert associated(arn, aws) == team


@pytest.mark.parametrize(
    ("forged", "match"),
    [({"operation": "disassociate_web_acl",
       "params": {"ResourceArn": "arn:aws:apigateway:us-east-1::/restapis/zzzzzzzzzz/stages/prod"}},
      "names ResourceArn .* not the entry's"),
     ({"operation": "associate_web_acl", "params": {"ResourceArn": STAGE, "WebACLArn": "team"}},
      "not the change's recorded before")],
)  # fmt: skip
def test_undo_runs_only_the_recorded_inverse_on_the_entrys_own_stage(
    aws, stack, run, baseline, forged, match
):
    """A ledger entry is data to check (autoremediate_cli.undo_guard): another stage, or an ACL
    that was not there before, is refused before anything runs."""
    arn, sample = prepare(aws, "CreateStage")
    [outcome] = run(sample, "enforce")
    ledger = Ledger(aws, stack.table)
    entry = ledger.get(outcome.outcome_id)
    entry["changes"][0]["undo"] = [{"service": "wafv2", **forged}]
    ledger.settle(entry)

    with pytest.raises(UndoRefusedError, match=match):
        undo(outcome.outcome_id, ledger, aws)
    assert associated(arn, aws) == baseline


# ------------------------------------------------------------------ gone, errors, failed calls


def test_stage_deleted_in_between_is_skipped(aws, stack, run):
    _, sample = prepare(aws, "CreateStage")
    aws("apigateway").delete_stage(restApiId=API_ID, stageName="prod")

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (NotFoundException)" in outcome.reason


def test_graphql_api_deleted_in_between_is_skipped(aws, stack, run):
    arn, sample = prepare(aws, "UpdateGraphqlApi")
    aws("appsync").delete_graphql_api(apiId=arn.rsplit("/", 1)[1])

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (NotFoundException)" in outcome.reason


def test_stage_deleted_between_the_read_and_the_write_is_skipped(aws, stack, run):
    """moto does not check that the resource exists; WAF answers WAFNonexistentItemException."""
    _, sample = prepare(aws, "CreateStage")
    gone = FailingAws(aws, "associate_web_acl", "WAFNonexistentItemException", service="wafv2")

    [outcome] = run(sample, "enforce", aws_=gone)

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (WAFNonexistentItemException) while applying" in outcome.reason


@pytest.mark.parametrize(
    ("operation", "service", "doing"),
    [("associate_web_acl", "wafv2", "applying"),
     ("get_web_acl_for_resource", "wafv2", "reading the resource"),
     ("get_stage", "apigateway", "reading the resource")],
)  # fmt: skip
def test_access_denied_fails_loudly_and_changes_nothing(aws, stack, run, operation, service, doing):
    arn, sample = prepare(aws, "CreateStage")
    denied = FailingAws(aws, operation, "AccessDeniedException", service=service)

    [outcome] = run(sample, "enforce", aws_=denied)

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith(f"AccessDeniedException while {doing}")
    assert associated(arn, aws) is None
    assert inbox(aws, stack)[0]["attributes"]["status"] == "FAILED"


@pytest.mark.parametrize(
    ("operation", "code"),
    [("get_web_acl_for_resource", "ThrottlingException"),
     ("associate_web_acl", "WAFUnavailableEntityException")],
)  # fmt: skip
def test_throttling_and_a_stage_waf_does_not_know_yet_are_retried(aws, stack, run, operation, code):
    arn, sample = prepare(aws, "CreateStage")
    busy = FailingAws(aws, operation, code, service="wafv2")

    with pytest.raises(TransientError, match=code):
        run(sample, "enforce", aws_=busy)

    assert associated(arn, aws) is None
    assert inbox(aws, stack)[0]["attributes"]["status"] == "FAILED"


def test_failed_calls_are_skipped_quietly(aws, stack, run):
    arn, sample = prepare(aws, "DisassociateWebACL-failed-call")

    with api_calls(aws, *SERVICES, names=NAMES) as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert seen == [] and associated(arn, aws) is None
    assert inbox(aws, stack) == []


def test_the_echo_of_our_own_fix_is_re_checked_and_quiet(aws, stack, run, baseline):
    arn, sample = prepare(aws, "AssociateWebACL-own-action")
    aws("wafv2").associate_web_acl(WebACLArn=baseline, ResourceArn=arn)  # our fix, as recorded

    with api_calls(aws, *SERVICES, names=NAMES) as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert writes(seen) == [] and "wafv2:GetWebACLForResource" in seen


@pytest.mark.parametrize("resource", [
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/84dc5457e450dba5",
    "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbCdEf123",
])  # fmt: skip
def test_waf_calls_on_other_resource_types_are_not_ours(aws, stack, run, resource):
    """Load balancers, user pools...: no outcome, no call, no notification."""
    sample = event("DisassociateWebACL")
    sample["detail"]["requestParameters"]["resourceArn"] = resource

    with api_calls(aws, *SERVICES, names=NAMES) as seen:
        assert run(sample, "enforce") == []
    assert seen == [] and inbox(aws, stack) == []


def test_a_deployment_to_no_stage_changes_no_stage(aws, stack, run):
    sample = event("CreateDeployment")
    del sample["detail"]["requestParameters"]["createDeploymentInput"]["stageName"]
    assert run(sample, "enforce") == []


# ------------------------------------------------------------------- exemptions, settings


@pytest.mark.parametrize("name", ["CreateStage", "CreateGraphqlApi"])
def test_exempt_by_tag_changes_nothing(aws, stack, run, name):
    tags = {"autoremediate:exempt": "edge handled by CloudFront INC-9"}
    arn = make_api(aws, tags) if name in API_TRIGGERS else make_stage(aws, tags)
    sample = event(name, arn if name in API_TRIGGERS else "")
    approve(aws, stack, arn, tags["autoremediate:exempt"])

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.EXEMPT and "INC-9" in outcome.reason
    assert associated(arn, aws) is None


def test_an_exemption_tag_nobody_approved_is_not_honoured(aws, stack, run, baseline):
    arn = make_stage(aws, {"autoremediate:exempt": "trust me"})

    [outcome] = run(event("CreateStage"), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert associated(arn, aws) == baseline


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [("BASELINE_WEB_ACL_ARN", "", "environment variable BASELINE_WEB_ACL_ARN is not set"),
     ("BASELINE_WEB_ACL_ARN",
      "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/gone/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
      "does not exist"),
     ("BASELINE_WEB_ACL_ARN",
      "arn:aws:wafv2:us-east-1:123456789012:global/webacl/cf/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
      "is not a REGIONAL web ACL of us-east-1"),
     ("REPLACE_EXISTING_WEB_ACL", "yes", "must be 'false' or 'true'")],
)  # fmt: skip
def test_a_configuration_error_fails_once_and_changes_nothing(
    aws, stack, run, monkeypatch, variable, value, reason
):
    monkeypatch.setenv(variable, value)
    arn, sample = prepare(aws, "CreateStage")
    if variable == "REPLACE_EXISTING_WEB_ACL":
        aws("wafv2").associate_web_acl(WebACLArn=web_acl(aws, "team"), ResourceArn=arn)

    [outcome] = run(sample, "enforce")

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("configuration error") and reason in outcome.reason


@pytest.mark.parametrize("name", STAGE_TRIGGERS + API_TRIGGERS)
def test_every_call_is_a_declared_action(aws, stack, run, name):
    _, sample = prepare(aws, name)

    with api_calls(aws, *SERVICES, names=NAMES) as seen:
        [outcome] = run(sample, "enforce")

    assert outcome.status is Status.REMEDIATED
    assert set(seen) - set(writes(seen)) <= set(REMEDIATOR.read_actions)
    assert writes(seen) == ["wafv2:AssociateWebACL"]
    # AWS also checks the protected resource's own permission (DESIGN.md): declared as writes.
    assert {"apigateway:SetWebACL", "appsync:SetWebACL"} <= set(REMEDIATOR.write_actions)


def test_handler_runs_what_lambda_runs(aws, stack, baseline, monkeypatch):
    import waf_web_acl_attachment as module

    for key, value in {**stack.env("enforce"), "OWN_ROLE_ARNS": OWN_ROLE_ARN}.items():
        monkeypatch.setenv(key, value)
    arn, sample = prepare(aws, "CreateStage")

    [result] = module.handler(sample, None)

    assert (result["status"], result["resource"]) == ("REMEDIATED", arn)
    assert associated(arn, aws) == baseline


# ------------------------------------------------- real records (tests/fixtures, with provenance)


def test_real_create_stage_names_its_stage():
    record = json.loads(
        (FIXTURES / "cloudtrail/apigateway.amazonaws.com/CreateStage/1.json").read_text()
    )
    assert REMEDIATOR.targets(parse(envelope(record))) == [
        "arn:aws:apigateway:us-east-1::/restapis/abcdef74gh/stages/latest"
    ]


def test_real_disassociation_from_a_load_balancer_is_not_ours():
    record = json.loads(
        (FIXTURES / "cloudtrail/wafv2.amazonaws.com/DisassociateWebACL/1.json").read_text()
    )
    assert REMEDIATOR.targets(parse(envelope(record))) == []
    record["requestParameters"]["resourceArn"] = STAGE  # the same call on a REST stage is
    assert REMEDIATOR.targets(parse(envelope(record))) == [STAGE]


def test_real_config_item_names_the_stage():
    item = json.loads((FIXTURES / "config/item/AWS_ApiGateway_Stage/1.json").read_text())
    sample = {**event("Config-Stage"), "detail": {"configurationItem": item}}
    assert REMEDIATOR.targets(parse(sample)) == [
        "arn:aws:apigateway:us-east-2::/restapis/test/stages/test"
    ]
