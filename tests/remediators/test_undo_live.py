"""Undo against live state in a moto account (issue 7, items 7 and 8).

Undo restores a change's `before` only while the resource still is what the remediation left
(its `after`): a later edit by the team (a trust tightened, a key of their own) is never
overwritten unless the administrator says `force`. Only changes the runner recorded as applied
are undone. And every inverse call a remediator's changes carry is one its DECLARATION names, so
that the guard in autoremediate_cli.undo never has to refuse a genuine entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import dynamodb_table_encryption
import ec2_ebs_default_encryption
import iam_policy_least_privilege
import s3_bucket_encryption
import s3_bucket_secure_transport
import sns_topic_encryption
import sqs_queue_encryption
from autoremediate_cli.undo import undo
from core.ledger import Ledger
from core.outcome import Outcome, Status
from iam_grants import DENY_ALL_TRUST
from tests.remediators import iam_state as state
from tests.remediators.stubs import ReplacedAws
from tools.scenario import (
    ACCOUNT,
    CODEBUILD_TRUST,
    REGION,
    load_event,
    moto_applies_dynamodb_sse,
    prepare,
)

Run = Callable[..., list[Outcome]]
OPEN_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}
BUCKET = "app-data-bucket"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:billing-events"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders"


@pytest.fixture
def runs(make_run: Callable[..., Run]) -> Callable[[Any], Run]:
    """runs(module) -> run: the real runner with that module's remediator."""
    return lambda module: make_run(module.REMEDIATOR)


@pytest.fixture
def dynamodb_applies_sse(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2 ignores UpdateTable's SSESpecification: apply it as DynamoDB does (the bench's
    patch, undone after the test)."""
    from moto.dynamodb.responses import DynamoHandler

    monkeypatch.setattr(DynamoHandler, "update_table", DynamoHandler.update_table)
    moto_applies_dynamodb_sse()


def trust(aws: Any, role: str = "open-trust-role") -> Any:
    return state.trust(aws, role)


def entry(aws: Any, stack: Any, outcome: Outcome) -> dict[str, Any]:
    return Ledger(aws, stack.table).get(outcome.outcome_id)


# --- item 8: the reproduced case, a trust tightened after the fix ------------------------------


def test_trust_tightened_after_the_fix_is_not_reopened(aws, stack, run):
    aws("iam").create_role(RoleName="open-trust-role",
                           AssumeRolePolicyDocument=json.dumps(OPEN_TRUST))  # fmt: skip
    [outcome] = run(load_event("UpdateAssumeRolePolicy"), "enforce")
    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert trust(aws) == DENY_ALL_TRUST
    # The team then trusts exactly the one service it needs: undo must not put {"AWS": "*"}
    # back over their trust.
    aws("iam").update_assume_role_policy(RoleName="open-trust-role",
                                         PolicyDocument=json.dumps(CODEBUILD_TRUST))  # fmt: skip

    with pytest.raises(ValueError, match=r"open-trust-role/trust.*changed since") as refused:
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)

    assert "--force" in str(refused.value)
    assert trust(aws) == CODEBUILD_TRUST
    assert entry(aws, stack, outcome)["status"] == "REMEDIATED"  # not marked UNDONE
    # The administrator who has looked and still wants the old state back says so.
    undo(outcome.outcome_id, Ledger(aws, stack.table), aws, force=True)
    assert trust(aws) == OPEN_TRUST
    assert entry(aws, stack, outcome)["status"] == "UNDONE"


def test_inline_policy_edited_after_the_fix_is_not_overwritten(aws, stack, run):
    event = prepare(aws, "PutRolePolicy")
    [outcome] = run(event, "enforce")
    assert outcome.status is Status.REMEDIATED, outcome.reason
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::team/*"}
    theirs = {"Version": "2012-10-17", "Statement": [read]}
    aws("iam").put_role_policy(RoleName="app-deploy-role", PolicyName="deploy-wildcard",
                               PolicyDocument=json.dumps(theirs))  # fmt: skip

    with pytest.raises(ValueError, match=r"deploy-wildcard.*changed since"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert state.inline(aws, "role", "app-deploy-role", "deploy-wildcard") == theirs


def test_policy_detached_then_attached_again_by_the_team_is_refused(aws, stack, run):
    [outcome] = run(prepare(aws, "AttachRolePolicy"), "enforce")
    assert outcome.status is Status.REMEDIATED, outcome.reason
    aws("iam").attach_role_policy(RoleName="app-deploy-role", PolicyArn=state.ADMIN_ARN)
    with pytest.raises(ValueError, match=r"changed since"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws, dry_run=True)


# --- item 8: encryption settings changed after the fix -----------------------------------------


def test_bucket_encryption_the_team_raised_is_not_removed(aws, stack, runs, monkeypatch):
    monkeypatch.setenv("S3_ENCRYPTION_LEVEL", "SSE-S3")
    aws("s3").create_bucket(Bucket=BUCKET)
    [outcome] = runs(s3_bucket_encryption)(
        load_event("CreateBucket", "s3_bucket_encryption"), "enforce"
    )
    assert outcome.status is Status.REMEDIATED, outcome.reason
    team_kms = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/team"}
    theirs = {"Rules": [{"ApplyServerSideEncryptionByDefault": team_kms, "BucketKeyEnabled": True}]}
    aws("s3").put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration=theirs)

    with pytest.raises(ValueError, match=r"app-data-bucket.*changed since"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    config = aws("s3").get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
    assert config == theirs


def test_bucket_policy_edited_after_the_fix_is_not_replaced(aws, stack, runs):
    aws("s3").create_bucket(Bucket=BUCKET)
    [outcome] = runs(s3_bucket_secure_transport)(
        load_event("CreateBucket", "s3_bucket_secure_transport"), "enforce"
    )
    assert outcome.status is Status.REMEDIATED, outcome.reason
    ours = json.loads(aws("s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
    theirs = {**ours, "Statement": [*ours["Statement"], {
        "Sid": "TeamReads", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}  # fmt: skip
    aws("s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(theirs))

    with pytest.raises(ValueError, match=r"changed since"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert json.loads(aws("s3").get_bucket_policy(Bucket=BUCKET)["Policy"]) == theirs


def test_topic_key_the_team_chose_is_not_removed(aws, stack, runs):
    aws("sns").create_topic(Name="billing-events")
    [outcome] = runs(sns_topic_encryption)(
        load_event("Config-Topic", "sns_topic_encryption"), "enforce"
    )
    assert outcome.status is Status.REMEDIATED, outcome.reason
    team_key = aws("kms").create_key(Description="team")["KeyMetadata"]["Arn"]
    aws("sns").set_topic_attributes(TopicArn=TOPIC, AttributeName="KmsMasterKeyId",
                                    AttributeValue=team_key)  # fmt: skip

    with pytest.raises(ValueError, match=r"billing-events.*changed since"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    attributes = aws("sns").get_topic_attributes(TopicArn=TOPIC)["Attributes"]
    assert attributes["KmsMasterKeyId"] == team_key


def test_queue_key_the_team_chose_is_not_removed(aws, stack, runs):
    aws("sqs").create_queue(QueueName="orders", Attributes={"SqsManagedSseEnabled": "false"})
    [outcome] = runs(sqs_queue_encryption)(
        load_event("Config-Queue", "sqs_queue_encryption"), "enforce"
    )
    assert outcome.status is Status.REMEDIATED, outcome.reason
    policy = aws("sqs").get_queue_attributes(QueueUrl=QUEUE_URL, AttributeNames=["Policy"])
    team_key = aws("kms").create_key(Description="team")["KeyMetadata"]["Arn"]
    aws("sqs").set_queue_attributes(QueueUrl=QUEUE_URL, Attributes={
        "KmsMasterKeyId": team_key, "SqsManagedSseEnabled": "false",
        "Policy": policy["Attributes"]["Policy"]})  # fmt: skip

    with pytest.raises(ValueError, match=r"orders.*changed since"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    attributes = aws("sqs").get_queue_attributes(QueueUrl=QUEUE_URL, AttributeNames=["All"])
    assert attributes["Attributes"]["KmsMasterKeyId"] == team_key


@pytest.mark.usefixtures("dynamodb_applies_sse", "no_baseline_key")
def test_table_key_the_team_chose_is_not_reverted(aws, stack, runs):
    aws("dynamodb").create_table(
        TableName="orders", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
    )  # fmt: skip
    [outcome] = runs(dynamodb_table_encryption)(
        load_event("Config-Table", "dynamodb_table_encryption"), "enforce"
    )
    assert outcome.status is Status.REMEDIATED, outcome.reason
    team_key = aws("kms").create_key(Description="team")["KeyMetadata"]["Arn"]
    aws("dynamodb").update_table(TableName="orders", SSESpecification={
        "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": team_key})  # fmt: skip

    with pytest.raises(ValueError, match=r"orders.*changed since"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    described = aws("dynamodb").describe_table(TableName="orders")["Table"]["SSEDescription"]
    assert described["KMSMasterKeyArn"] == team_key


@pytest.mark.usefixtures("no_baseline_key")
def test_ebs_setting_changed_after_the_fix_is_refused(aws, stack, runs):
    run = runs(ec2_ebs_default_encryption)
    [outcome] = run(load_event("DisableEbsEncryptionByDefault", "ec2_ebs_default_encryption"),
                    "enforce")  # fmt: skip
    assert outcome.status is Status.REMEDIATED, outcome.reason
    aws("ec2").disable_ebs_encryption_by_default()
    with pytest.raises(ValueError, match=r"ebs-encryption-by-default.*changed since"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws)


@pytest.mark.usefixtures("no_baseline_key")
def test_undo_runs_in_the_region_of_the_entry_only(aws, stack, runs):
    """The EBS setting has no resource parameter: only the client's region says where it acts."""
    run = runs(ec2_ebs_default_encryption)
    [outcome] = run(load_event("DisableEbsEncryptionByDefault", "ec2_ebs_default_encryption"),
                    "enforce")  # fmt: skip
    ledger = Ledger(aws, stack.table)
    moved = ledger.get(outcome.outcome_id)
    moved["resource_arn"] = moved["resource_arn"].replace(REGION, "eu-west-1")
    for change in moved["changes"]:
        change["resource"] = change["resource"].replace(REGION, "eu-west-1")
    ledger.settle(moved)

    with pytest.raises(ValueError, match=r"eu-west-1"):
        undo(outcome.outcome_id, ledger, aws)
    assert aws("ec2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"]


# --- item 8: only what was applied -------------------------------------------------------------


def test_report_mode_entry_is_never_replayed(aws, stack, run):
    """Report mode plans an inverse it never needs: replaying it would reopen a trust that the
    team has since fixed by hand."""
    aws("iam").create_role(RoleName="open-trust-role",
                           AssumeRolePolicyDocument=json.dumps(OPEN_TRUST))  # fmt: skip
    [outcome] = run(load_event("UpdateAssumeRolePolicy"), "report")
    assert outcome.status is Status.WOULD_REMEDIATE
    aws("iam").update_assume_role_policy(RoleName="open-trust-role",
                                         PolicyDocument=json.dumps(CODEBUILD_TRUST))  # fmt: skip

    with pytest.raises(ValueError, match=r"applied"):
        undo(outcome.outcome_id, Ledger(aws, stack.table), aws, force=True)
    assert trust(aws) == CODEBUILD_TRUST


class DiesWhileWriting(ReplacedAws):
    """The function is killed as it sends the write (a timeout): the entry stays APPLYING."""

    def __init__(self, aws: Any) -> None:
        super().__init__(aws, "iam", ("update_assume_role_policy",))

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        raise TimeoutError("Task timed out after 60.00 seconds")


def test_entry_left_applying_is_not_replayed(aws, stack, run):
    aws("iam").create_role(RoleName="open-trust-role",
                           AssumeRolePolicyDocument=json.dumps(OPEN_TRUST))  # fmt: skip
    with pytest.raises(TimeoutError):
        run(load_event("UpdateAssumeRolePolicy"), "enforce", aws_=DiesWhileWriting(aws))
    items = aws("dynamodb").scan(TableName=stack.table)["Items"]
    [left] = [json.loads(i["record"]["S"]) for i in items if "record" in i]  # no breaker#
    assert left["status"] == "APPLYING" and left["changes"][0]["undo"]
    aws("iam").update_assume_role_policy(RoleName="open-trust-role",
                                         PolicyDocument=json.dumps(CODEBUILD_TRUST))  # fmt: skip

    with pytest.raises(ValueError, match=r"APPLYING"):
        undo(left["outcome_id"], Ledger(aws, stack.table), aws, force=True)
    assert trust(aws) == CODEBUILD_TRUST


# --- item 7: every inverse call a remediator plans is declared ---------------------------------


def _iam(name: str) -> Callable[[Any], dict[str, Any]]:
    return lambda aws: prepare(aws, name)


def _bucket(module: str, policy: bool = False, encryption: bool = False) -> Callable[..., Any]:
    def setup(aws: Any) -> dict[str, Any]:
        aws("s3").create_bucket(Bucket=BUCKET)
        if encryption:
            aes = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
            aws("s3").put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration=aes)
        if policy:
            team = {"Version": "2012-10-17", "Statement": [{
                "Sid": "TeamReads", "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}  # fmt: skip
            aws("s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(team))
        return load_event("Config-Bucket", module)

    return setup


def _topic(aws: Any) -> dict[str, Any]:
    aws("sns").create_topic(Name="billing-events")
    return load_event("Config-Topic", "sns_topic_encryption")


def _queue(sse_sqs: str) -> Callable[[Any], dict[str, Any]]:
    def setup(aws: Any) -> dict[str, Any]:
        aws("sqs").create_queue(QueueName="orders", Attributes={"SqsManagedSseEnabled": sse_sqs})
        return load_event("Config-Queue", "sqs_queue_encryption")

    return setup


def _table(aws: Any) -> dict[str, Any]:
    aws("dynamodb").create_table(
        TableName="orders", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
    )  # fmt: skip
    return load_event("Config-Table", "dynamodb_table_encryption")


def _ebs(aws: Any) -> dict[str, Any]:
    return load_event("DisableEbsEncryptionByDefault", "ec2_ebs_default_encryption")


def _five_versions(aws: Any) -> dict[str, Any]:
    """A wildcard default version at IAM's five-version limit: drop the oldest, then fix."""
    event = prepare(aws, "CreatePolicy")
    narrow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
    }
    for _ in range(4):
        aws("iam").create_policy_version(PolicyArn=state.POLICY_ARN,
                                         PolicyDocument=json.dumps(narrow))  # fmt: skip
    return event


FAMILIES: dict[str, tuple[Any, Callable[[Any], dict[str, Any]], dict[str, str]]] = {
    "iam-inline": (iam_policy_least_privilege, _iam("PutRolePolicy"), {}),
    "iam-inline-deleted": (iam_policy_least_privilege, _iam("PutUserPolicy"), {}),
    "iam-trust": (iam_policy_least_privilege, _iam("UpdateAssumeRolePolicy"), {}),
    "iam-detach": (iam_policy_least_privilege, _iam("AttachGroupPolicy"), {}),
    "iam-new-version": (iam_policy_least_privilege, _iam("CreatePolicyVersion"), {}),
    "iam-version-limit": (iam_policy_least_privilege, _five_versions, {}),
    "iam-old-default-deleted": (
        iam_policy_least_privilege,
        _iam("CreatePolicyVersion"),
        {"DELETE_WILDCARD_POLICY_VERSIONS": "true"},
    ),
    "iam-config-role": (iam_policy_least_privilege, _iam("Config-Role"), {}),
    "s3-encryption-none": (s3_bucket_encryption, _bucket("s3_bucket_encryption"), {}),
    "s3-encryption-raised": (
        s3_bucket_encryption,
        _bucket("s3_bucket_encryption", encryption=True),
        {"S3_ENCRYPTION_LEVEL": "SSE-KMS"},
    ),
    "s3-policy-none": (s3_bucket_secure_transport, _bucket("s3_bucket_secure_transport"), {}),
    "s3-policy-kept": (
        s3_bucket_secure_transport,
        _bucket("s3_bucket_secure_transport", policy=True),
        {},
    ),
    "sns": (sns_topic_encryption, _topic, {}),
    "sqs-sse-sqs": (sqs_queue_encryption, _queue("false"), {}),
    "sqs-sse-kms": (sqs_queue_encryption, _queue("true"), {"SQS_ENCRYPTION_LEVEL": "SSE-KMS"}),
    "dynamodb": (dynamodb_table_encryption, _table, {}),
    "ebs": (ec2_ebs_default_encryption, _ebs, {}),
}


@pytest.mark.usefixtures("dynamodb_applies_sse", "no_baseline_key", "sqs_keeps_the_policy")
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_inverse_call_is_declared_and_accepted_by_the_guard(
    aws, stack, runs, monkeypatch, family
):
    module, setup, settings = FAMILIES[family]
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    [outcome] = runs(module)(setup(aws), "enforce")
    assert outcome.status is Status.REMEDIATED, outcome.reason
    recorded = entry(aws, stack, outcome)
    planned = {f"{c['service']}.{c['operation']}" for ch in recorded["changes"] for c in ch["undo"]}

    assert planned, "a remediation that changed something must be undoable"
    assert planned <= set(module.DECLARATION.inverse_operations)
    assert all(ch["applied"] for ch in recorded["changes"])
    # The guard and the live-state comparison accept the genuine entry as it stands...
    calls = undo(outcome.outcome_id, Ledger(aws, stack.table), aws, dry_run=True)
    assert {f"{c.service}.{c.operation}" for c in calls} == planned
    # ...and the real undo runs it.
    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert entry(aws, stack, outcome)["status"] == "UNDONE"
