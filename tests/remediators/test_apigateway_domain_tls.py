"""The API Gateway domain TLS remediator in a moto account: REST and v2 triggers, each mode.

moto 5.2.5 implements neither `apigateway.update_domain_name` nor `apigatewayv2.update_domain_name`
(both raise NotImplementedError). Those two calls, and only they, go to a botocore Stubber (which
validates the request against the service's model, as AWS would); the test then applies the
change to moto's domain name as API Gateway does. Every read is moto's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from apigateway_domain_tls import DECLARATION, REMEDIATOR, DomainName
from autoremediate_cli.undo import undo
from autoremediate_cli.undo_guard import UndoRefusedError, plan
from core.clients import Clients
from core.event import EventError, parse
from core.ledger import Ledger
from core.outcome import Outcome, Status
from core.runner import TransientError
from tests.contract.test_template import envelope
from tests.remediators.approvals import approve
from tests.remediators.faults import FailingAws
from tests.remediators.stubs import StubbedAws
from tools.scenario import ACCOUNT, REGION, inbox, load_event

M = "apigateway_domain_tls"
OWN_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/autoremediate/autoremediate-ApigatewayDomainTlsRole-1A2B3C4D5E6F"
)
CERT = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b"
REST_NAME, V2_NAME = "api.example.com", "chat.example.com"
REST_TRIGGERS = ["CreateDomainName", "UpdateDomainName"]
V2_TRIGGERS = ["CreateDomainName-http-api", "UpdateDomainName-http-api"]
TRIGGERS = REST_TRIGGERS + V2_TRIGGERS
# IAM names API Gateway's permissions by HTTP verb (Call.iam_action).
ACTIONS = {"GetDomainName": "apigateway:GET", "UpdateDomainName": "apigateway:PATCH"}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cloudtrail"

Run = Callable[..., list[Outcome]]


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    return make_run(REMEDIATOR, own_role=OWN_ROLE)


def arn(name: str) -> str:
    return f"arn:aws:apigateway:{REGION}::/domainnames/{name}"


def rest_domain(
    aws: Any, policy: str | None = "TLS_1_0", tags: dict[str, str] | None = None
) -> None:
    extra = {"securityPolicy": policy} if policy else {}
    aws("apigateway").create_domain_name(
        domainName=REST_NAME, regionalCertificateArn=CERT,
        endpointConfiguration={"types": ["REGIONAL"]}, tags=tags or {}, **extra,
    )  # fmt: skip


def v2_configurations(policy: str = "TLS_1_0") -> list[dict[str, str]]:
    return [{"CertificateArn": CERT, "EndpointType": "REGIONAL", "SecurityPolicy": policy}]


def v2_domain(aws: Any, policy: str = "TLS_1_0") -> None:
    aws("apigatewayv2").create_domain_name(
        DomainName=V2_NAME, DomainNameConfigurations=v2_configurations(policy)
    )


def prepare(aws: Any, name: str) -> dict[str, Any]:
    """The domain name at TLS_1_0 that sample `name` names."""
    (v2_domain if name in V2_TRIGGERS else rest_domain)(aws)
    return load_event(name, M)


def policy_of(aws: Any, name: str = REST_NAME) -> Any:
    if name == REST_NAME:
        return aws("apigateway").get_domain_name(domainName=name).get("securityPolicy")
    live = aws("apigatewayv2").get_domain_name(DomainName=name)["DomainNameConfigurations"]
    return [c["SecurityPolicy"] for c in live]


def weak(name: str) -> Any:
    return "TLS_1_0" if name in REST_TRIGGERS else ["TLS_1_0"]


def strong(name: str) -> Any:
    return "TLS_1_2" if name in REST_TRIGGERS else ["TLS_1_2"]


def domain_of(name: str) -> str:
    return V2_NAME if name in V2_TRIGGERS else REST_NAME


class StubbedUpdate(StubbedAws):
    """`aws` as the runner sees it, with one API's update_domain_name stubbed and emulated."""

    OPERATIONS = ("update_domain_name",)

    def __init__(self, aws: Any) -> None:
        super().__init__(aws)
        self.calls: list[dict[str, Any]] = []


class StubbedRest(StubbedUpdate):
    SERVICE = "apigateway"

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        from moto.apigateway.models import apigateway_backends

        self.calls.append(params)
        domain = apigateway_backends[ACCOUNT][REGION].get_domain_name(params["domainName"])
        [patch] = params["patchOperations"]
        assert (patch["op"], patch["path"]) == ("replace", "/securityPolicy")
        response = self.reply(operation, params, {"domainName": domain.domain_name})
        domain.security_policy = patch["value"]
        return response


class StubbedV2(StubbedUpdate):
    SERVICE = "apigatewayv2"

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        from moto.apigatewayv2.models import apigatewayv2_backends

        self.calls.append(params)
        domain = apigatewayv2_backends[ACCOUNT][REGION].get_domain_name(params["DomainName"])
        response = self.reply(operation, params, {"DomainName": params["DomainName"]})
        wire = [{k[0].lower() + k[1:]: v for k, v in c.items()}
                for c in params["DomainNameConfigurations"]]  # fmt: skip
        domain.domain_name_configurations = wire  # moto keeps the wire's lowerCamel keys
        return response


def stubbed(aws: Any, name: str) -> StubbedUpdate:
    return StubbedV2(aws) if name in V2_TRIGGERS else StubbedRest(aws)


@contextmanager
def reads(aws: Any) -> Iterator[list[str]]:
    """The IAM actions of the calls moto answers on both APIs' clients (botocore names REST
    API Gateway's events `api-gateway`, so calls.api_calls cannot watch it)."""
    seen: list[str] = []

    def record(event_name: str, **_: Any) -> None:
        seen.append(ACTIONS.get(event_name.rsplit(".", 1)[1], event_name))

    hooks = [
        ("apigateway", "before-call.api-gateway"),
        ("apigatewayv2", "before-call.apigatewayv2"),
    ]
    for service, hook in hooks:
        aws(service).meta.events.register(hook, record)
    try:
        yield seen
    finally:
        for service, hook in hooks:
            aws(service).meta.events.unregister(hook, record)


# ------------------------------------------------------------------------------ each trigger


@pytest.mark.parametrize("name", TRIGGERS)
def test_report_mode_reports_and_changes_nothing(aws, stack, run, name):
    sample = prepare(aws, name)
    fake = stubbed(aws, name)

    with reads(aws) as seen:
        [outcome] = run(sample, "report", aws_=fake)

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == arn(domain_of(name))
    [change] = outcome.changes
    assert (
        change.summary == "raise the security policy from TLS_1_0 to TLS_1_2 (TLS 1.0 was allowed)"
    )
    assert seen == ["apigateway:GET"] and fake.calls == []
    assert policy_of(aws, domain_of(name)) == weak(name)
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"


@pytest.mark.parametrize("name", TRIGGERS)
def test_enforce_mode_raises_the_policy_and_undo_restores_it_exactly(aws, stack, run, name):
    sample = prepare(aws, name)
    domain = domain_of(name)
    before = (
        aws("apigatewayv2").get_domain_name(DomainName=domain)["DomainNameConfigurations"]
        if name in V2_TRIGGERS else None
    )  # fmt: skip
    fake = stubbed(aws, name)

    [outcome] = run(sample, "enforce", aws_=fake)

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert policy_of(aws, domain) == strong(name)
    assert len(fake.calls) == 1
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "REMEDIATED"
    [echo] = run(sample, "enforce", aws_=fake)  # the same event again: nothing left to do
    assert echo.status is Status.COMPLIANT and echo.quiet
    assert len(fake.calls) == 1 and inbox(aws, stack) == []

    undo(outcome.outcome_id, Ledger(aws, stack.table), cast(Clients, fake))

    assert policy_of(aws, domain) == weak(name)
    if before is not None:  # v2: the whole configuration back, certificate and endpoint too
        live = aws("apigatewayv2").get_domain_name(DomainName=domain)["DomainNameConfigurations"]
        assert live == before
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "UNDONE"


def test_v2_update_writes_back_the_whole_configuration_with_only_the_policy_changed(
    aws, stack, run
):
    sample = prepare(aws, "UpdateDomainName-http-api")
    fake = StubbedV2(aws)

    [outcome] = run(sample, "enforce", aws_=fake)

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert fake.calls == [
        {"DomainName": V2_NAME, "DomainNameConfigurations": v2_configurations("TLS_1_2")}
    ]
    [change] = outcome.changes
    assert change.before == {"DomainNameConfigurations": v2_configurations("TLS_1_0")}
    assert change.undo[0].params["DomainNameConfigurations"] == v2_configurations("TLS_1_0")


# ---------------------------------------------------------------- what is kept, what is reported


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize(
    "policy", ["TLS_1_2", "SecurityPolicy_TLS13_1_3_2025_09", "SecurityPolicy_TLS12_2018_EDGE"]
)
def test_tls_1_2_or_above_is_kept(aws, stack, run, mode, policy):
    rest_domain(aws, policy)
    fake = StubbedRest(aws)

    [outcome] = run(load_event("UpdateDomainName", M), mode, aws_=fake)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert fake.calls == [] and policy_of(aws) == policy
    assert inbox(aws, stack) == []


def test_a_v2_domain_name_at_tls_1_2_is_kept(aws, stack, run):
    v2_domain(aws, "TLS_1_2")
    fake = StubbedV2(aws)

    [outcome] = run(load_event("UpdateDomainName-http-api", M), "enforce", aws_=fake)

    assert outcome.status is Status.COMPLIANT and fake.calls == []


@pytest.mark.parametrize("policy", ["SecurityPolicy_TLS14_2030_01", None])
def test_an_unknown_or_missing_policy_is_reported_never_changed(aws, stack, run, policy):
    rest_domain(aws, policy)
    fake = StubbedRest(aws)

    [outcome] = run(load_event("CreateDomainName", M), "enforce", aws_=fake)

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    [change] = outcome.changes
    assert change.call is None and change.undo == ()
    assert change.summary.startswith(f"security policy {policy!r} is not one this remediator knows")
    assert fake.calls == [] and policy_of(aws) == policy
    [note] = inbox(aws, stack)
    assert note["body"]["changes"][0]["manual"] is True


def test_exempt_by_tag_changes_nothing(aws, stack, run):
    rest_domain(aws, tags={"autoremediate:exempt": "legacy clients INC-9"})
    approve(
        aws,
        stack,
        f"arn:aws:apigateway:us-east-1::/domainnames/{REST_NAME}",
        "legacy clients INC-9",
    )
    fake = StubbedRest(aws)

    [outcome] = run(load_event("CreateDomainName", M), "enforce", aws_=fake)

    assert outcome.status is Status.EXEMPT and "legacy clients INC-9" in outcome.reason
    assert fake.calls == [] and policy_of(aws) == "TLS_1_0"


# ------------------------------------------------------------------------------ failures


@pytest.mark.parametrize("name", ["CreateDomainName", "CreateDomainName-http-api"])
def test_domain_name_deleted_in_between_is_skipped(aws, stack, run, name):
    sample = load_event(name, M)  # nothing created: deleted before we looked

    [outcome] = run(sample, "enforce", aws_=stubbed(aws, name))

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (NotFoundException)" in outcome.reason


def test_access_denied_on_the_write_fails_loudly_and_changes_nothing(aws, stack, run):
    sample = prepare(aws, "UpdateDomainName")
    denied = FailingAws(aws, "update_domain_name", "AccessDeniedException", service="apigateway")

    [outcome] = run(sample, "enforce", aws_=denied)

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("AccessDeniedException while applying")
    assert policy_of(aws) == "TLS_1_0"
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "FAILED"


def test_throttling_is_retried_and_changes_nothing(aws, stack, run):
    sample = prepare(aws, "UpdateDomainName-http-api")
    throttled = FailingAws(aws, "get_domain_name", "TooManyRequestsException", "apigatewayv2")

    with pytest.raises(TransientError, match="TooManyRequestsException"):
        run(sample, "enforce", aws_=throttled)

    assert policy_of(aws, V2_NAME) == ["TLS_1_0"]
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "FAILED" and "will retry" in note["body"]["reason"]


def test_failed_calls_are_skipped_quietly(aws, stack, run):
    sample = prepare(aws, "UpdateDomainName-failed-call")
    fake = StubbedRest(aws)

    with reads(aws) as seen:
        [outcome] = run(sample, "enforce", aws_=fake)

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert seen == [] and fake.calls == [] and inbox(aws, stack) == []


def test_the_echo_of_our_own_fix_is_re_checked_and_quiet(aws, stack, run):
    rest_domain(aws, "TLS_1_2")  # as our fix leaves it
    fake = StubbedRest(aws)

    with reads(aws) as seen:
        [outcome] = run(load_event("UpdateDomainName-own-action", M), "enforce", aws_=fake)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert seen == ["apigateway:GET"] and fake.calls == []


# ------------------------------------------------------------------------- permissions, undo


@pytest.mark.parametrize("name", TRIGGERS)
def test_every_call_is_a_declared_action(aws, stack, run, name):
    sample = prepare(aws, name)
    fake = stubbed(aws, name)

    with reads(aws) as seen:
        [outcome] = run(sample, "enforce", aws_=fake)

    assert outcome.status is Status.REMEDIATED
    assert set(seen) <= set(REMEDIATOR.read_actions) == {"apigateway:GET"}
    made = {c.call.action for c in outcome.changes if c.call}
    assert made == set(REMEDIATOR.write_actions) == {"apigateway:PATCH"}
    assert len(fake.calls) == 1


def test_undo_refuses_when_the_domain_name_changed_since(aws, stack, run):
    sample = prepare(aws, "UpdateDomainName-http-api")
    fake = StubbedV2(aws)
    [outcome] = run(sample, "enforce", aws_=fake)
    other = CERT.replace("0f1e2d3c", "1a2b3c4d")  # the team moved to a new certificate
    fake.answer("update_domain_name", {"DomainName": V2_NAME, "DomainNameConfigurations": [
        {**v2_configurations("TLS_1_2")[0], "CertificateArn": other}]})  # fmt: skip

    with pytest.raises(ValueError, match="changed since the remediation"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), cast(Clients, fake))

    live = aws("apigatewayv2").get_domain_name(DomainName=V2_NAME)["DomainNameConfigurations"]
    assert live[0]["CertificateArn"] == other and live[0]["SecurityPolicy"] == "TLS_1_2"


@pytest.mark.parametrize(
    ("params", "refused"),
    [
        ({"domainName": "other.example.com"}, "not the entry's resource"),
        ({"domainNameId": "abc123"}, "not the entry's resource"),
    ],
)
def test_undo_runs_only_on_the_entrys_own_domain_name(aws, stack, run, params, refused):
    [outcome] = run(prepare(aws, "UpdateDomainName"), "enforce", aws_=StubbedRest(aws))
    report = Ledger(aws, stack.table).get(outcome.outcome_id)
    [change] = report["changes"]
    change["undo"][0]["params"].update(params)

    with pytest.raises(UndoRefusedError, match=refused):
        plan(report, DECLARATION)


# ---------------------------------------------------------------------- reading the records


@pytest.mark.parametrize(
    ("name", "api"),
    [(n, "apigateway") for n in REST_TRIGGERS] + [(n, "apigatewayv2") for n in V2_TRIGGERS],
)
def test_samples_name_the_domain_name_and_its_api(name, api):
    [target] = REMEDIATOR.targets(parse(load_event(name, M)))
    assert target == DomainName(api, domain_of(name), REGION, ACCOUNT)


def test_a_private_domain_name_is_read_with_its_id():
    sample = load_event("UpdateDomainName", M)
    sample["detail"]["requestParameters"]["domainNameId"] = "abc123"
    [target] = REMEDIATOR.targets(parse(sample))
    assert target.domain_id == "abc123"


def test_a_record_without_a_domain_name_is_malformed(aws, stack, run):
    sample = load_event("CreateDomainName", M)
    sample["detail"]["requestParameters"] = {}
    sample["detail"]["responseElements"] = None

    with pytest.raises(EventError, match="domainName"):
        REMEDIATOR.targets(parse(sample))
    [outcome] = run(sample, "enforce")
    assert outcome.status is Status.SKIPPED and "malformed event" in outcome.reason


def test_the_real_api_gateway_record_is_not_a_trigger():
    record = json.loads(
        (FIXTURES / "apigateway.amazonaws.com" / "CreateStage" / "1.json").read_text()
    )
    with pytest.raises(EventError, match="CreateStage is not a trigger"):
        REMEDIATOR.targets(parse(envelope(record)))
