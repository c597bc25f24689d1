"""Exemption approvals in a moto account: who may set the exemption tag, and what the IAM
remediator then does with it (the bypass of issue "Hold against an insider", item 1)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from core.exemptions import approval_key
from core.ledger import Ledger
from core.outcome import Outcome, Status
from exemption_tag_approval import REMEDIATOR
from iam_policy_least_privilege import REMEDIATOR as IAM
from tools.scenario import inbox, load_event

MODULE = "exemption_tag_approval"
ACCOUNT = "123456789012"
APPROVER = f"arn:aws:iam::{ACCOUNT}:role/SecurityApprover"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app-deploy-role"
OWN_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/autoremediate/autoremediate-ExemptionTagApprovalRole-1A2B3C4D5E6F"
)
VALUE = "legacy billing integration, SEC-123"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"

Run = Callable[..., list[Outcome]]


@pytest.fixture
def run(make_run: Callable[..., Run], stack: Any, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("LEDGER_TABLE", stack.table)  # the approval is written to our ledger
    monkeypatch.setenv("EXEMPTION_APPROVERS", f"{APPROVER},arn:aws:iam::{ACCOUNT}:user/ciso")
    monkeypatch.setenv("EXEMPTION_MAX_DAYS", "90")
    monkeypatch.setenv("WILDCARD_LEVEL", "service")
    return make_run(REMEDIATOR, own_role=OWN_ROLE)


@pytest.fixture
def iam_run(make_run: Callable[..., Run]) -> Run:
    return make_run(IAM)


def event(name: str, value: str | None = VALUE) -> dict[str, Any]:
    sample = copy.deepcopy(load_event(name, MODULE))
    tags = sample["detail"]["requestParameters"].get("tags")
    if isinstance(tags, list) and value is not None:
        for tag in tags:
            if tag["key"] == "autoremediate:exempt":
                tag["value"] = value
    return sample


def approval(aws: Any, stack: Any, arn: str = ROLE_ARN) -> dict[str, Any] | None:
    return Ledger(aws, stack.table).approval(approval_key(arn))


def admin_role_tagged(aws: Any, value: str = VALUE) -> None:
    """The attack: a role with AdministratorAccess and the exemption tag."""
    aws("iam").tag_role(
        RoleName="app-deploy-role", Tags=[{"Key": "autoremediate:exempt", "Value": value}]
    )
    aws("iam").attach_role_policy(RoleName="app-deploy-role", PolicyArn=ADMIN)


def attached(aws: Any) -> list[str]:
    policies = aws("iam").list_attached_role_policies(RoleName="app-deploy-role")
    return [p["PolicyArn"] for p in policies["AttachedPolicies"]]


def iam_event() -> dict[str, Any]:
    sample = load_event("AttachRolePolicy")
    sample["detail"]["requestParameters"] = {"roleName": "app-deploy-role", "policyArn": ADMIN}
    return sample


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_a_tag_set_by_an_approver_is_recorded_and_then_exempts(aws, stack, run, iam_run, mode):
    admin_role_tagged(aws)

    [outcome] = run(event("TagRole-approved"), mode)

    assert outcome.status is Status.EXEMPT
    assert outcome.reason.startswith(f"tag autoremediate:exempt approved by {APPROVER} until ")
    recorded = approval(aws, stack)
    assert recorded is not None
    assert (recorded["value"], recorded["by"], recorded["reason"]) == (VALUE, APPROVER, VALUE)
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "EXEMPT"
    [iam_outcome] = iam_run(iam_event(), mode)
    assert iam_outcome.status is Status.EXEMPT
    assert attached(aws) == [ADMIN]


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_a_tag_set_by_anyone_else_is_reported_and_not_honoured(aws, stack, run, iam_run, mode):
    admin_role_tagged(aws)

    [outcome] = run(event("TagRole"), mode)

    assert outcome.status is Status.WOULD_REMEDIATE
    [change] = outcome.changes
    assert f"set by arn:aws:iam::{ACCOUNT}:role/DeveloperRole" in change.summary
    assert "not in ExemptionApprovers: not honoured" in change.summary
    [note] = inbox(aws, stack)
    assert note["attributes"]["severity"] == "HIGH"
    [iam_outcome] = iam_run(iam_event(), mode)
    if mode == "enforce":
        assert iam_outcome.status is Status.REMEDIATED
        assert attached(aws) == []
    else:
        assert iam_outcome.status is Status.WOULD_REMEDIATE
        assert attached(aws) == [ADMIN]


def test_a_role_created_with_the_tag_by_a_non_approver_is_not_exempt(aws, stack, run, iam_run):
    """The reproduced bypass: CreateRole with the tag, then AdministratorAccess attached."""
    sample = event("CreateRole")
    aws("iam").create_role(
        RoleName="vendor-admin",
        Path="/vendors/",
        AssumeRolePolicyDocument=sample["detail"]["requestParameters"]["assumeRolePolicyDocument"],
        Tags=[{"Key": "autoremediate:exempt", "Value": VALUE}],
    )
    aws("iam").attach_role_policy(RoleName="vendor-admin", PolicyArn=ADMIN)
    [outcome] = run(sample, "enforce")
    assert outcome.status is Status.WOULD_REMEDIATE

    attach = iam_event()
    attach["detail"]["requestParameters"]["roleName"] = "vendor-admin"
    [iam_outcome] = iam_run(attach, "enforce")

    assert iam_outcome.status is Status.REMEDIATED
    assert aws("iam").list_attached_role_policies(RoleName="vendor-admin")["AttachedPolicies"] == []


def test_a_non_approver_retagging_the_same_value_revokes_the_approval(aws, stack, run, iam_run):
    admin_role_tagged(aws)
    run(event("TagRole-approved"), "enforce")

    run(event("TagRole"), "enforce")  # alice sets the same value again

    recorded = approval(aws, stack)
    assert recorded is not None and recorded["value"] is None
    assert recorded["by"] == f"arn:aws:iam::{ACCOUNT}:role/DeveloperRole"
    assert iam_run(iam_event(), "enforce")[0].status is Status.REMEDIATED


def test_removing_the_tag_ends_the_approval(aws, stack, run):
    run(event("TagRole-approved"), "enforce")

    [outcome] = run(event("UntagRole"), "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    recorded = approval(aws, stack)
    assert recorded is not None and recorded["value"] is None
    assert recorded["reason"] == "tag removed"


def test_a_removal_without_approval_writes_nothing(aws, stack, run):
    [outcome] = run(event("UntagRole"), "enforce")
    assert outcome.status is Status.COMPLIANT
    assert approval(aws, stack) is None


@pytest.mark.parametrize("value", ["", "   ", "until=2026-12-31"])
def test_an_approver_must_give_a_reason(aws, stack, run, value):
    """The bypass: an empty tag value exempted a `*` policy wherever it was attached."""
    [outcome] = run(event("TagRole-approved", value), "enforce")

    assert outcome.status is Status.WOULD_REMEDIATE
    assert "no reason given" in outcome.changes[0].summary
    recorded = approval(aws, stack)
    assert recorded is not None and recorded["value"] is None


def test_an_approvers_until_is_cut_to_the_maximum(aws, stack, run):
    """The bypass: until= had no limit."""
    run(event("TagRole-approved", f"{VALUE} until=2099-01-01"), "enforce")

    recorded = approval(aws, stack)
    assert recorded is not None
    assert recorded["until"] < "2099-01-01"
    assert "beyond the 90-day maximum" in recorded["note"]


def test_no_approvers_configured_means_no_tag_counts(aws, stack, run, monkeypatch):
    monkeypatch.setenv("EXEMPTION_APPROVERS", "")
    [outcome] = run(event("TagRole-approved"), "enforce")
    assert outcome.status is Status.WOULD_REMEDIATE
    recorded = approval(aws, stack)
    assert recorded is not None and recorded["value"] is None


def test_a_user_approver_matches_by_its_user_arn(aws, stack, run):
    sample = event("TagRole-approved")
    sample["detail"]["userIdentity"] = {
        "type": "IAMUser",
        "principalId": "AIDA5KQ7XH2MCISO0001",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/ciso",
        "accountId": ACCOUNT,
        "userName": "ciso",
    }
    [outcome] = run(sample, "enforce")
    assert outcome.status is Status.EXEMPT


def test_a_pattern_approver_does_not_match_a_name_an_attacker_chooses(aws, stack, run, monkeypatch):
    monkeypatch.setenv("EXEMPTION_APPROVERS", f"arn:aws:iam::{ACCOUNT}:role/security/*")
    sample = event("TagRole-approved")
    text = json.dumps(sample).replace("role/SecurityApprover", "role/security/deep/Mallory")
    [outcome] = run(json.loads(text), "enforce")
    assert outcome.status is Status.WOULD_REMEDIATE


def test_our_own_role_is_never_an_approver(aws, stack, run, monkeypatch):
    monkeypatch.setenv("EXEMPTION_APPROVERS", f"arn:aws:iam::{ACCOUNT}:role/autoremediate/**")
    [outcome] = run(event("TagRole-own-action"), "enforce")
    assert outcome.status is Status.WOULD_REMEDIATE
    assert outcome.severity == "HIGH"


def test_a_failed_tagging_call_is_skipped_quietly(aws, stack, run):
    [outcome] = run(event("TagRole-failed-call"), "enforce")
    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert approval(aws, stack) is None


@pytest.mark.parametrize(
    ("name", "arn"),
    [
        ("TagUser", f"arn:aws:iam::{ACCOUNT}:user/ci-bot"),
        ("TagPolicy", f"arn:aws:iam::{ACCOUNT}:policy/app-deploy-access"),
        ("CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/vendor-access"),
        ("PutBucketTagging", "arn:aws:s3:::payments-exports"),
        ("TagResource", f"arn:aws:sns:us-east-1:{ACCOUNT}:billing-events"),
        ("CreateTopic", f"arn:aws:sns:us-east-1:{ACCOUNT}:vendor-events"),
        ("TagQueue", f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-intake"),
        ("CreateQueue", f"arn:aws:sqs:us-east-1:{ACCOUNT}:vendor-intake"),
        ("TagResource-dynamodb", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"),
        ("CreateTable", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/vendor-orders"),
        ("AddTagsToResource", f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db"),
        ("CreateDBCluster", f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:vendor-cluster"),
        ("TagResource-apigateway", "arn:aws:apigateway:us-east-1::/domainnames/api.example.com"),
        (
            "TagResource-appsync",
            f"arn:aws:appsync:us-east-1:{ACCOUNT}:apis/t4ghkd3hbbg5xcjyzbxkhqxhfu",
        ),
        ("TagResource-cloudfront", f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2QWRUHAPOMQZL"),
    ],
)
def test_every_service_shape_is_approved_under_the_resources_arn(aws, stack, run, name, arn):
    sample = event(name)
    identity = load_event("TagRole-approved", MODULE)["detail"]["userIdentity"]
    sample["detail"]["userIdentity"] = identity

    [outcome] = run(sample, "enforce")

    assert (outcome.status, outcome.resource_arn) == (Status.EXEMPT, arn)
    recorded = approval(aws, stack, arn)
    assert recorded is not None and recorded["value"] == VALUE


@pytest.mark.parametrize("service", ["apigateway", "appsync", "cloudfront"])
def test_an_edge_untag_ends_the_approval(aws, stack, run, service):
    approved = event(f"TagResource-{service}")
    identity = load_event("TagRole-approved", MODULE)["detail"]["userIdentity"]
    approved["detail"]["userIdentity"] = identity
    [outcome] = run(approved, "enforce")
    assert outcome.status is Status.EXEMPT

    [outcome] = run(event(f"UntagResource-{service}"), "enforce")

    recorded = approval(aws, stack, outcome.resource_arn)
    assert recorded is not None and recorded["value"] is None


def test_put_bucket_tagging_without_the_tag_ends_an_approval(aws, stack, run):
    approved = event("PutBucketTagging")
    approved["detail"]["userIdentity"] = load_event("TagRole-approved", MODULE)["detail"][
        "userIdentity"
    ]
    run(approved, "enforce")
    replaced = event("PutBucketTagging")
    replaced["detail"]["requestParameters"]["Tagging"]["TagSet"]["Tag"] = [
        {"Key": "team", "Value": "payments"}
    ]

    run(replaced, "enforce")  # PutBucketTagging replaces every tag

    recorded = approval(aws, stack, "arn:aws:s3:::payments-exports")
    assert recorded is not None and recorded["value"] is None


def test_a_call_that_does_not_touch_the_tag_does_nothing(aws, stack, run):
    sample = event("TagRole")
    sample["detail"]["requestParameters"]["tags"] = [{"key": "team", "value": "payments"}]
    assert run(sample, "enforce") == []
    assert approval(aws, stack) is None


def test_bad_max_days_is_a_configuration_error(aws, stack, run, monkeypatch):
    monkeypatch.setenv("EXEMPTION_MAX_DAYS", "forever")
    [outcome] = run(event("TagRole-approved"), "enforce")
    assert outcome.status is Status.FAILED
    assert "EXEMPTION_MAX_DAYS must be a number of days" in outcome.reason
    assert approval(aws, stack) is None
