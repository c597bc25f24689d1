"""The CloudFront edge-protection remediator in a moto account: each trigger, each mode, the live
distribution configuration before and after, the ETag retries, and undo of exactly its fields.

moto 5.2 keeps CloudFront distribution configurations (WebACLId included) but ignores IfMatch:
PreconditionFailed is produced with botocore's Stubber (PreconditionStub), for that call only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autoremediate_cli.undo import undo
from autoremediate_cli.undo_guard import UndoRefusedError
from cloudfront_distribution_protection import REMEDIATOR, fields
from core.ledger import Ledger
from core.outcome import Outcome, Status
from core.runner import TransientError
from tests.remediators.approvals import approve
from tests.remediators.calls import api_calls, ledger_before
from tests.remediators.faults import FailingAws
from tests.remediators.stubs import StubbedAws
from tools.scenario import ACCOUNT, inbox, load_event

MODULE = "cloudfront_distribution_protection"
SAMPLE_ID = "E2QWRUHAPOMQZL"
ACL = f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/autoremediate-baseline-cloudfront/a1b2"
TEAM_ACL = f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/web-team-acl/b2c3"
CERT = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/12345678-1234-1234-1234-123456789012"
OWN_ROLE_ARN = (
    f"arn:aws:iam::{ACCOUNT}:role/autoremediate/"
    "autoremediate-CloudfrontDistributionProtectionRole-1A2B3C4D5E6F"
)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRIGGERS = [
    "CreateDistribution",
    "CreateDistributionWithTags",
    "UpdateDistribution",
    "AssociateDistributionWebACL",
    "DisassociateDistributionWebACL",
    "DisassociateWebACL",
    "Config-Distribution",
]
DEFAULT, TLS = (
    "DefaultCacheBehavior/ViewerProtocolPolicy",
    "ViewerCertificate/MinimumProtocolVersion",
)
IMG, API = (
    "CacheBehaviors/images/*/ViewerProtocolPolicy",
    "CacheBehaviors/api/*/ViewerProtocolPolicy",
)
BEFORE = {"WebACLId": "", DEFAULT: "allow-all", IMG: "allow-all", TLS: "TLSv1"}
AFTER = {"WebACLId": ACL, DEFAULT: "redirect-to-https", IMG: "redirect-to-https",
         TLS: "TLSv1.2_2021"}  # fmt: skip

Run = Callable[..., list[Outcome]]


@pytest.fixture(autouse=True)
def baseline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment template.yaml sets: the baseline CLOUDFRONT ACL, no replacement."""
    monkeypatch.setenv("BASELINE_CLOUDFRONT_WEB_ACL_ARN", ACL)
    monkeypatch.setenv("REPLACE_EXISTING_WEB_ACL", "false")


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    """As tests/remediators/conftest.py's `run`, with this remediator and its own role."""
    return make_run(REMEDIATOR, own_role=OWN_ROLE_ARN)


def behaviour(pattern: str, policy: str) -> dict[str, Any]:
    return {"PathPattern": pattern, "TargetOriginId": "assets", "ViewerProtocolPolicy": policy,
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}  # fmt: skip


def distribution(
    aws: Any, *, default: str = "allow-all", images: str = "allow-all", api: str = "https-only",
    custom_cert: bool = True, tls: str = "TLSv1", acl: str = "", tags: dict[str, str] | None = None,
) -> str:  # fmt: skip
    """A distribution `app-assets` as the samples describe it; returns its id (moto's)."""
    certificate: dict[str, Any] = (
        {"CloudFrontDefaultCertificate": False, "ACMCertificateArn": CERT,
         "SSLSupportMethod": "sni-only", "MinimumProtocolVersion": tls}
        if custom_cert else {"CloudFrontDefaultCertificate": True, "MinimumProtocolVersion": tls}
    )  # fmt: skip
    config = {
        "CallerReference": "app-assets", "Comment": "app assets", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "assets",
            "DomainName": "app-assets.s3.us-east-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {k: v for k, v in behaviour("*", default).items()
                                 if k != "PathPattern"},
        "CacheBehaviors": {"Quantity": 2,
                           "Items": [behaviour("images/*", images), behaviour("api/*", api)]},
        "ViewerCertificate": certificate, "WebACLId": acl,
    }  # fmt: skip
    cloudfront = aws("cloudfront")
    if tags is None:
        return str(cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"])
    items = [{"Key": k, "Value": v} for k, v in tags.items()]
    with_tags = {"DistributionConfig": config, "Tags": {"Items": items}}
    made = cloudfront.create_distribution_with_tags(DistributionConfigWithTags=with_tags)
    return str(made["Distribution"]["Id"])


def event(name: str, distribution_id: str) -> dict[str, Any]:
    """Sample event `name`, naming moto's distribution instead of the sample's id."""
    text = json.dumps(load_event(name, MODULE)).replace(SAMPLE_ID, distribution_id)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def config_of(aws: Any, distribution_id: str) -> dict[str, Any]:
    config: dict[str, Any] = aws("cloudfront").get_distribution_config(Id=distribution_id)[
        "DistributionConfig"
    ]
    return config


def live(aws: Any, distribution_id: str) -> dict[str, str]:
    return fields(config_of(aws, distribution_id))


def arn_of(distribution_id: str) -> str:
    return f"arn:aws:cloudfront::{ACCOUNT}:distribution/{distribution_id}"


def writes(seen: list[str]) -> list[str]:
    return [a for a in seen if a in REMEDIATOR.write_actions]


class PreconditionStub(StubbedAws):
    """UpdateDistribution answered PreconditionFailed `failures` times by a botocore Stubber (moto
    ignores IfMatch), each time after `meanwhile` ran (someone else's change); then moto's."""

    SERVICE = "cloudfront"
    OPERATIONS = ("update_distribution",)

    def __init__(self, aws: Any, failures: int, meanwhile: Callable[[], None] = lambda: None):
        super().__init__(aws)
        self.failures, self.meanwhile = failures, meanwhile
        self.seen: list[dict[str, Any]] = []

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        self.seen.append(params)
        if len(self.seen) > self.failures:
            return self.aws("cloudfront").update_distribution(**params)
        self.meanwhile()
        self.stubber.add_client_error(
            operation, "PreconditionFailed", "The If-Match version is not valid.", 412,
            expected_params=params,
        )  # fmt: skip
        return self.client.update_distribution(**params)


# ---------------------------------------------------------------------- each trigger, each mode


@pytest.mark.parametrize("name", TRIGGERS)
def test_report_mode_reports_and_changes_nothing(aws, stack, run, name):
    made = distribution(aws)
    original = config_of(aws, made)

    with api_calls(aws, "cloudfront") as seen:
        [outcome] = run(event(name, made), "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == arn_of(made)
    [change] = outcome.changes
    assert (change.before, change.after) == (BEFORE, AFTER)
    assert writes(seen) == []
    assert config_of(aws, made) == original
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"


@pytest.mark.parametrize("name", TRIGGERS)
def test_enforce_mode_fixes_in_one_write_and_undo_restores_only_its_fields(aws, stack, run, name):
    made = distribution(aws)
    original = config_of(aws, made)

    with api_calls(aws, "cloudfront") as seen:
        [outcome] = run(event(name, made), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert writes(seen) == ["cloudfront:UpdateDistribution"]
    assert live(aws, made) == {**AFTER, API: "https-only"}  # the team's https-only is kept
    fixed = config_of(aws, made)
    assert {**fixed, "WebACLId": "", "ViewerCertificate": original["ViewerCertificate"],
            "DefaultCacheBehavior": original["DefaultCacheBehavior"],
            "CacheBehaviors": original["CacheBehaviors"]} == original  # fmt: skip
    assert inbox(aws, stack)[0]["attributes"]["status"] == "REMEDIATED"
    with api_calls(aws, "cloudfront") as again:  # the repeated event (or our echo)
        [echo] = run(event(name, made), "enforce")
    assert echo.status is Status.COMPLIANT and echo.quiet
    assert writes(again) == [] and inbox(aws, stack) == []

    # The team edits something else meanwhile: undo puts back only the recorded fields.
    edited = {**fixed, "Comment": "edited"}
    aws("cloudfront").update_distribution(Id=made, IfMatch="x", DistributionConfig=edited)
    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert live(aws, made) == {**BEFORE, API: "https-only"}
    assert config_of(aws, made) == {**original, "Comment": "edited"}
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "UNDONE"


def test_the_ledger_holds_only_the_changed_fields_before_the_write(aws, stack, run):
    made = distribution(aws)

    with ledger_before(aws, stack.table, "cloudfront", "UpdateDistribution") as seen:
        [outcome] = run(event("UpdateDistribution", made), "enforce")

    assert outcome.status is Status.REMEDIATED
    [entry] = seen
    assert entry["status"] == "APPLYING"
    [change] = entry["changes"]
    assert (change["before"], change["after"]) == (BEFORE, AFTER)
    assert change["undo"] == [{"service": "cloudfront", "operation": "update_distribution",
                               "params": {"Id": made, "Patch": BEFORE}}]  # fmt: skip


# ---------------------------------------------------------- a team's own choices are kept


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_stricter_settings_and_the_baseline_acl_are_compliant_and_untouched(aws, stack, run, mode):
    made = distribution(aws, default="https-only", images="redirect-to-https",
                        tls="TLSv1.2_2025", acl=ACL)  # fmt: skip
    original = config_of(aws, made)

    with api_calls(aws, "cloudfront") as seen:
        [outcome] = run(event("UpdateDistribution", made), mode)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert seen == ["cloudfront:GetDistributionConfig"]
    assert config_of(aws, made) == original
    assert inbox(aws, stack) == []


@pytest.mark.parametrize("tls", ["TLSv1.2_2021", "TLSv1.3_2025", "TLSv1.4_2030"])
def test_a_minimum_tls_at_or_above_the_baseline_is_kept(aws, stack, run, tls):
    """TLSv1.3_2025 is in botocore's model; a policy newer than our list is kept too."""
    made = distribution(aws, images="https-only", default="https-only", tls=tls, acl=ACL)

    [outcome] = run(event("Config-Distribution", made), "enforce")

    assert outcome.status is Status.COMPLIANT
    assert live(aws, made)[TLS] == tls


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_a_team_web_acl_is_reported_and_left_alone(aws, stack, run, mode):
    made = distribution(aws, acl=TEAM_ACL)

    with api_calls(aws, "cloudfront") as seen:
        [outcome] = run(event("AssociateDistributionWebACL", made), mode)

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    manual = [c for c in outcome.changes if c.call is None]
    [kept] = manual
    assert kept.summary.startswith(f"has web ACL {TEAM_ACL}, not the baseline {ACL}: left as is")
    assert live(aws, made)["WebACLId"] == TEAM_ACL
    if mode == "enforce":  # the TLS part is fixed, the ACL is the team's to decide
        assert outcome.reason.endswith("manual steps still needed")
        assert writes(seen) == ["cloudfront:UpdateDistribution"]
        assert live(aws, made)[TLS] == "TLSv1.2_2021"
        [fixed] = [c for c in outcome.changes if c.call is not None]
        assert "WebACLId" not in fixed.after
    else:
        assert writes(seen) == []


def test_replace_existing_web_acl_true_replaces_a_team_acl_and_undo_puts_it_back(
    aws, stack, run, monkeypatch
):
    monkeypatch.setenv("REPLACE_EXISTING_WEB_ACL", "true")
    made = distribution(aws, acl=TEAM_ACL, default="https-only", images="https-only",
                        tls="TLSv1.2_2021")  # fmt: skip

    [outcome] = run(event("AssociateDistributionWebACL", made), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    [change] = outcome.changes
    assert (change.before, change.after) == ({"WebACLId": TEAM_ACL}, {"WebACLId": ACL})
    assert live(aws, made)["WebACLId"] == ACL
    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert live(aws, made)["WebACLId"] == TEAM_ACL


def test_default_certificate_minimum_tls_is_not_changed_and_the_notice_says_why(aws, stack, run):
    made = distribution(aws, custom_cert=False)

    [outcome] = run(event("CreateDistribution", made), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    [change] = outcome.changes
    assert TLS not in change.after
    assert "with the default *.cloudfront.net certificate" in change.summary
    assert live(aws, made)[TLS] == "TLSv1"
    assert live(aws, made)[DEFAULT] == "redirect-to-https"


def test_default_certificate_alone_is_compliant_and_quiet(aws, stack, run):
    made = distribution(aws, custom_cert=False, images="https-only", default="https-only", acl=ACL)

    [outcome] = run(event("Config-Distribution", made), "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert inbox(aws, stack) == []


def test_exempt_by_tag_changes_nothing(aws, stack, run):
    made = distribution(aws, tags={"autoremediate:exempt": "legacy INC-7"})
    approve(aws, stack, f"arn:aws:cloudfront::123456789012:distribution/{made}", "legacy INC-7")
    original = config_of(aws, made)

    [outcome] = run(event("CreateDistributionWithTags", made), "enforce")

    assert outcome.status is Status.EXEMPT and "legacy INC-7" in outcome.reason
    assert config_of(aws, made) == original


# ------------------------------------------------------------- ETags: PreconditionFailed


def test_precondition_failed_re_reads_and_keeps_what_changed_meanwhile(aws, stack, run):
    """The team sets https-only on images/* between our read and our write: the retry re-reads,
    keeps their choice, and writes the rest under the new ETag."""
    made = distribution(aws)

    def team_edits() -> None:
        config = config_of(aws, made)
        config["CacheBehaviors"]["Items"][0]["ViewerProtocolPolicy"] = "https-only"
        aws("cloudfront").update_distribution(Id=made, IfMatch="x", DistributionConfig=config)

    stub = PreconditionStub(aws, failures=1, meanwhile=team_edits)
    [outcome] = run(event("UpdateDistribution", made), "enforce", aws_=stub)

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert len(stub.seen) == 2
    assert live(aws, made) == {**AFTER, IMG: "https-only", API: "https-only"}


def test_precondition_failed_every_time_fails_as_transient_and_changes_nothing(aws, stack, run):
    made = distribution(aws)
    original = config_of(aws, made)
    stub = PreconditionStub(aws, failures=99)

    with pytest.raises(TransientError, match="PreconditionFailed"):
        run(event("UpdateDistribution", made), "enforce", aws_=stub)

    assert len(stub.seen) == 3
    assert config_of(aws, made) == original
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "FAILED" and "will retry" in note["body"]["reason"]


# ----------------------------------------------------------------------- AWS errors, events


def test_distribution_deleted_in_between_is_skipped(aws, stack, run):
    [outcome] = run(event("UpdateDistribution", "E0000000000000"), "enforce")

    assert outcome.status is Status.SKIPPED
    assert "no longer exists (NoSuchDistribution)" in outcome.reason


def test_access_denied_on_write_fails_loudly_and_changes_nothing(aws, stack, run):
    made = distribution(aws)
    original = config_of(aws, made)
    denied = FailingAws(aws, "update_distribution", "AccessDenied", service="cloudfront")

    [outcome] = run(event("UpdateDistribution", made), "enforce", aws_=denied)

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("AccessDenied while applying")
    assert config_of(aws, made) == original


def test_throttling_is_reported_then_retried_by_lambda(aws, stack, run):
    made = distribution(aws)
    throttled = FailingAws(aws, "get_distribution_config", "Throttling", service="cloudfront")

    with pytest.raises(TransientError, match="Throttling"):
        run(event("UpdateDistribution", made), "enforce", aws_=throttled)

    assert live(aws, made) == {**BEFORE, API: "https-only"}
    assert [o.status for o in run(event("UpdateDistribution", made), "enforce")] == [
        Status.REMEDIATED
    ]


def test_a_replace_setting_the_template_could_not_give_fails_as_configuration(
    aws, stack, run, monkeypatch
):
    monkeypatch.setenv("REPLACE_EXISTING_WEB_ACL", "maybe")
    made = distribution(aws)

    [outcome] = run(event("UpdateDistribution", made), "enforce")

    assert outcome.status is Status.FAILED
    assert "REPLACE_EXISTING_WEB_ACL must be 'false' or 'true'" in outcome.reason


def test_failed_calls_are_skipped_quietly(aws, stack, run):
    made = distribution(aws)

    with api_calls(aws, "cloudfront") as seen:
        [outcome] = run(event("UpdateDistribution-failed-call", made), "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert seen == [] and inbox(aws, stack) == []


def test_the_echo_of_our_own_fix_is_re_checked_and_quiet(aws, stack, run):
    made = distribution(aws, images="https-only", default="redirect-to-https", tls="TLSv1.2_2021",
                        acl=ACL)  # fmt: skip

    with api_calls(aws, "cloudfront") as seen:
        [outcome] = run(event("UpdateDistribution-own-action", made), "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert writes(seen) == [] and inbox(aws, stack) == []


def test_a_waf_disassociation_of_another_resource_is_not_ours():
    """The real record disassociates an ALB: the rule delivers every DisassociateWebACL."""
    from core.event import parse
    from tests.contract.test_template import envelope

    path = FIXTURES / "cloudtrail" / "wafv2.amazonaws.com" / "DisassociateWebACL" / "1.json"
    assert REMEDIATOR.targets(parse(envelope(json.loads(path.read_text())))) == []


@pytest.mark.parametrize("name", TRIGGERS)
def test_every_call_is_a_declared_action(aws, stack, run, name):
    made = distribution(aws)

    with api_calls(aws, "cloudfront", "wafv2") as seen:
        [outcome] = run(event(name, made), "enforce")

    assert outcome.status is Status.REMEDIATED
    assert set(seen) - set(writes(seen)) <= set(REMEDIATOR.read_actions)
    assert set(writes(seen)) == {c.call.action for c in outcome.changes if c.call}


def test_handler_runs_what_lambda_runs(aws, stack, monkeypatch):
    import cloudfront_distribution_protection as module

    for key, value in {**stack.env("enforce"), "OWN_ROLE_ARNS": OWN_ROLE_ARN}.items():
        monkeypatch.setenv(key, value)
    made = distribution(aws)

    [result] = module.handler(event("CreateDistribution", made), None)

    assert (result["status"], result["resource"]) == ("REMEDIATED", arn_of(made))


# ----------------------------------------------------------------------------------- undo


def test_undo_refuses_when_a_field_changed_since_and_force_restores_it(aws, stack, run):
    made = distribution(aws)
    [outcome] = run(event("UpdateDistribution", made), "enforce")
    config = config_of(aws, made)
    config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] = "https-only"  # tightened since
    aws("cloudfront").update_distribution(Id=made, IfMatch="x", DistributionConfig=config)

    with pytest.raises(UndoRefusedError, match="has changed since the remediation"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert live(aws, made)[DEFAULT] == "https-only"

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws, force=True)
    assert live(aws, made) == {**BEFORE, API: "https-only"}


def test_undo_uses_the_etag_read_when_it_runs(aws, stack, run):
    """The inverse is recorded as a patch: undo reads the configuration and its ETag now."""
    made = distribution(aws)
    [outcome] = run(event("UpdateDistribution", made), "enforce")
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params)

    client = aws("cloudfront")
    client.meta.events.register("provide-client-params.cloudfront.UpdateDistribution", record)
    try:
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    finally:
        client.meta.events.unregister("provide-client-params.cloudfront.UpdateDistribution", record)
    [params] = sent
    assert params["IfMatch"] == client.get_distribution_config(Id=made)["ETag"]
    assert "Patch" not in params and params["DistributionConfig"]["Comment"] == "app assets"


# ---------------------------------------------------- real records (tests/fixtures, provenance)


@pytest.mark.parametrize(
    "path", sorted((FIXTURES / "cloudtrail" / "cloudfront.amazonaws.com").glob("*/*.json")), ids=str
)
def test_real_records_name_the_distribution(path):
    from core.event import parse

    record = json.loads(path.read_text())  # EventBridge envelopes (Cloud Custodian's test data)
    [target] = REMEDIATOR.targets(parse(record))
    assert target == "arn:aws:cloudfront::012345678912:distribution/E53370FUHBNLK"


def test_real_config_item_names_the_distribution():
    from core.event import parse

    path = FIXTURES / "config" / "item" / "AWS_CloudFront_Distribution" / "1.json"
    sample = {**load_event("Config-Distribution", MODULE),
              "detail": {"configurationItem": json.loads(path.read_text())}}  # fmt: skip
    assert REMEDIATOR.targets(parse(sample)) == [
        "arn:aws:cloudfront::12345678912:distribution/E31V0VAAPINP3I"
    ]
