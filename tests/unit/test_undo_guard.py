"""autoremediate_cli.undo refuses ledger entries it must not replay (issue 7, items 7 and 8),
with no moto.

Undo runs with an administrator's credentials, so a ledger entry is data to check, not a script:
only the inverse operations its remediator declares, each on the entry's own resource, with no
parameter that widens, and only for changes the runner recorded as applied. One refused call
refuses the whole undo before anything runs. The live-state comparison (item 8) is exercised in
tests/remediators/test_undo_live.py; these tests use `force=True` where they must get past it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from typing import Any

import pytest
from botocore.exceptions import ClientError

import registry
from autoremediate_cli.undo import undo
from autoremediate_cli.undo_rules import RULES
from core.ledger import Ledger, LedgerError
from core.outcome import Mode
from core.remediator import Evaluation, Remediator
from iam_grants import DENY_ALL_TRUST
from tests.unit.runner_fakes import (
    ROLE_ARN,
    FakeAws,
    _no_metrics,  # noqa: F401  (autouse: metrics off)
    change,
    client_error,
    world,
)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-deploy-role"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
POWER = "arn:aws:iam::aws:policy/PowerUserAccess"
POLICY = f"arn:aws:iam::{ACCOUNT}:policy/app-wildcard-policy"
BUCKET = "arn:aws:s3:::app-data-bucket"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:billing-events"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"
QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
OPEN_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}
WILDCARD = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
AES256 = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def call(service: str, operation: str, **params: Any) -> dict[str, Any]:
    return {"service": service, "operation": operation, "params": params}


def entry_change(
    resource: str, before: Any, after: Any, forward: Mapping[str, Any] | None, *undo: Any,
    applied: bool | None = True,
) -> dict[str, Any]:  # fmt: skip
    found = {"summary": "a change", "resource": resource, "before": before, "after": after,
             "call": forward, "manual": forward is None, "undo": list(undo)}  # fmt: skip
    if applied is not None:
        found["applied"] = applied
    return found


def entry(
    remediator: str, arn: str, *changes: dict[str, Any], status: str = "REMEDIATED"
) -> dict[str, Any]:
    return {
        "outcome_id": "20261124T120000Z-0123456789ab",
        "remediator": remediator,
        "status": status,
        "mode": "enforce",
        "resource_arn": arn,
        "region": "us-east-1",
        "account": ACCOUNT,
        "changes": list(changes),
        "time": "2026-11-24T12:00:00+00:00",
    }


class FakeLedger(Ledger):
    """One entry, read as core.ledger gives it back (a JSON round trip); settles are kept."""

    def __init__(self, report: Mapping[str, Any]) -> None:
        super().__init__(lambda service: None, "autoremediate-Ledger")
        self.report = json.loads(json.dumps(report))
        self.settled: list[dict[str, Any]] = []

    def get(self, outcome_id: str) -> dict[str, Any]:
        assert outcome_id == self.report["outcome_id"]
        return dict(self.report)

    def settle(self, report: Mapping[str, Any]) -> None:
        self.settled.append(dict(report))


def fake_aws() -> FakeAws:
    aws = FakeAws([])
    aws.responses[("sts", "get_caller_identity")] = {"Arn": f"arn:aws:iam::{ACCOUNT}:user/admin"}
    return aws


def refused(report: Mapping[str, Any], match: str, **options: Any) -> FakeAws:
    """Undo of `report` raises ValueError matching `match`, and no AWS call at all was made."""
    aws, ledger = fake_aws(), FakeLedger(report)
    with pytest.raises(ValueError, match=match):
        undo(report["outcome_id"], ledger, aws, **options)  # type: ignore[arg-type]
    assert aws.calls == [], "a refused undo must not run (nor read) anything"
    assert ledger.settled == []
    return aws


def trust_change(undo_document: Any = OPEN_TRUST) -> dict[str, Any]:
    write = call("iam", "update_assume_role_policy", RoleName="app-deploy-role",
                 PolicyDocument=json.dumps(DENY_ALL_TRUST))  # fmt: skip
    restore = call("iam", "update_assume_role_policy", RoleName="app-deploy-role",
                   PolicyDocument=json.dumps(undo_document))  # fmt: skip
    return entry_change(f"{ROLE}/trust", OPEN_TRUST, DENY_ALL_TRUST, write, restore)


# --- item 7: only declared inverse operations, on the entry's own resource ---------------------


def test_forged_entry_cannot_make_undo_attach_administrator_access_to_a_user() -> None:
    """The reproduced attack: an encryption remediator's entry whose undo attaches a policy."""
    forged = entry_change(
        BUCKET, None, AES256,
        call("s3", "put_bucket_encryption", Bucket="app-data-bucket",
             ServerSideEncryptionConfiguration=AES256),
        call("iam", "attach_user_policy", UserName="mallory", PolicyArn=ADMIN),
    )  # fmt: skip
    refused(entry("s3_bucket_encryption", BUCKET, forged), r"iam\.attach_user_policy.*declare")


def test_iam_entry_cannot_attach_to_a_principal_it_is_not_about() -> None:
    """A declared operation, but on another principal: refused, and the genuine call before it
    in the same entry does not run either (nothing half-done)."""
    genuine = trust_change()
    genuine["undo"].append(call("iam", "attach_user_policy", UserName="mallory", PolicyArn=ADMIN))
    refused(entry("iam_policy_least_privilege", ROLE, genuine), r"mallory")


def test_attach_must_put_back_the_policy_the_change_detached() -> None:
    detach = call("iam", "detach_role_policy", RoleName="app-deploy-role", PolicyArn=POWER)
    swapped = call("iam", "attach_role_policy", RoleName="app-deploy-role", PolicyArn=ADMIN)
    change_ = entry_change(f"role/app-deploy-role/attached/{POWER}", POWER, None, detach, swapped)
    refused(entry("iam_policy_least_privilege", ROLE, change_), r"AdministratorAccess")


def test_attach_must_match_what_before_records_too() -> None:
    detach = call("iam", "detach_role_policy", RoleName="app-deploy-role", PolicyArn=ADMIN)
    attach = call("iam", "attach_role_policy", RoleName="app-deploy-role", PolicyArn=ADMIN)
    change_ = entry_change(f"role/app-deploy-role/attached/{ADMIN}", POWER, None, detach, attach)
    refused(entry("iam_policy_least_privilege", ROLE, change_), r"before")


@pytest.mark.parametrize("name", ["not_a_remediator", "os", "core.undo", "../registry", ""])
def test_unknown_remediator_is_refused(name: str) -> None:
    refused(entry(name, ROLE, trust_change()), r"unknown remediator")


def test_module_without_a_declaration_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "REMEDIATORS", (*registry.REMEDIATORS, "iam_grants"))
    refused(entry("iam_grants", ROLE, trust_change()), r"DECLARATION")


def test_operation_the_remediator_does_not_declare_is_refused() -> None:
    put = call("s3", "put_bucket_encryption", Bucket="app-data-bucket",
               ServerSideEncryptionConfiguration=AES256)  # fmt: skip
    opened = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                                        "Resource": f"{BUCKET}/*"}]})  # fmt: skip
    policy = call("s3", "put_bucket_policy", Bucket="app-data-bucket", Policy=opened)
    change_ = entry_change(BUCKET, None, AES256, put, policy)
    refused(entry("s3_bucket_encryption", BUCKET, change_), r"s3\.put_bucket_policy")


@pytest.mark.parametrize(
    ("remediator", "arn", "change_", "match"),
    [
        pytest.param(
            "s3_bucket_encryption", BUCKET,
            entry_change(BUCKET, AES256, {"Rules": []},
                         call("s3", "put_bucket_encryption", Bucket="app-data-bucket",
                              ServerSideEncryptionConfiguration={"Rules": []}),
                         call("s3", "put_bucket_encryption", Bucket="someone-elses-bucket",
                              ServerSideEncryptionConfiguration=AES256)),
            r"someone-elses-bucket", id="s3-other-bucket",
        ),
        pytest.param(
            "sns_topic_encryption", TOPIC,
            entry_change(TOPIC, {"KmsMasterKeyId": ""}, {"KmsMasterKeyId": "alias/aws/sns"},
                         call("sns", "set_topic_attributes", TopicArn=TOPIC,
                              AttributeName="KmsMasterKeyId", AttributeValue="alias/aws/sns"),
                         call("sns", "set_topic_attributes", TopicArn=TOPIC + "-other",
                              AttributeName="KmsMasterKeyId", AttributeValue="")),
            r"TopicArn", id="sns-other-topic",
        ),
        pytest.param(
            "sqs_queue_encryption", QUEUE,
            entry_change(QUEUE, {}, {"SqsManagedSseEnabled": "true"},
                         call("sqs", "set_queue_attributes", QueueUrl=QUEUE_URL,
                              Attributes={"SqsManagedSseEnabled": "true"}),
                         call("sqs", "set_queue_attributes", QueueUrl=QUEUE_URL + "-dlq",
                              Attributes={"SqsManagedSseEnabled": "false"})),
            r"QueueUrl", id="sqs-other-queue",
        ),
        pytest.param(
            "sqs_queue_encryption", QUEUE,
            entry_change(QUEUE, {}, {"SqsManagedSseEnabled": "true"},
                         call("sqs", "set_queue_attributes", QueueUrl=QUEUE_URL,
                              Attributes={"SqsManagedSseEnabled": "true"}),
                         call("sqs", "set_queue_attributes",
                              QueueUrl=f"https://evil.example.com/{ACCOUNT}/orders",
                              Attributes={"SqsManagedSseEnabled": "false"})),
            r"QueueUrl", id="sqs-foreign-host",
        ),
        pytest.param(
            "dynamodb_table_encryption", TABLE,
            entry_change(TABLE, None, {"Enabled": True, "SSEType": "KMS"},
                         call("dynamodb", "update_table", TableName="orders",
                              SSESpecification={"Enabled": True, "SSEType": "KMS"}),
                         call("dynamodb", "update_table", TableName="payments",
                              SSESpecification={"Enabled": False})),
            r"payments", id="dynamodb-other-table",
        ),
        pytest.param(
            "iam_policy_least_privilege", POLICY,
            entry_change(POLICY, WILDCARD, {"Statement": []},
                         call("iam", "create_policy_version", PolicyArn=POLICY,
                              PolicyDocument="{}", SetAsDefault=True),
                         call("iam", "set_default_policy_version",
                              PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/other", VersionId="v1")),
            r"PolicyArn", id="iam-other-policy",
        ),
        pytest.param(
            "iam_policy_least_privilege", ROLE,
            entry_change(f"{ROLE}/trust", OPEN_TRUST, DENY_ALL_TRUST,
                         call("iam", "update_assume_role_policy", RoleName="other-role",
                              PolicyDocument=json.dumps(DENY_ALL_TRUST)),
                         call("iam", "update_assume_role_policy", RoleName="app-deploy-role",
                              PolicyDocument=json.dumps(OPEN_TRUST))),
            r"other-role", id="iam-forward-call-on-another-role",
        ),
    ],
)  # fmt: skip
def test_inverse_call_must_name_the_entrys_own_resource(
    remediator: str, arn: str, change_: dict[str, Any], match: str
) -> None:
    refused(entry(remediator, arn, change_), match)


@pytest.mark.parametrize(
    ("remediator", "arn", "change_", "match"),
    [
        pytest.param(
            "dynamodb_table_encryption", TABLE,
            entry_change(TABLE, None, {"Enabled": True, "SSEType": "KMS"},
                         call("dynamodb", "update_table", TableName="orders",
                              SSESpecification={"Enabled": True, "SSEType": "KMS"}),
                         call("dynamodb", "update_table", TableName="orders",
                              SSESpecification={"Enabled": False},
                              DeletionProtectionEnabled=False)),
            r"DeletionProtectionEnabled", id="extra-key",
        ),
        pytest.param(
            "sns_topic_encryption", TOPIC,
            entry_change(TOPIC, {"KmsMasterKeyId": ""}, {"KmsMasterKeyId": "alias/aws/sns"},
                         call("sns", "set_topic_attributes", TopicArn=TOPIC,
                              AttributeName="KmsMasterKeyId", AttributeValue="alias/aws/sns"),
                         call("sns", "set_topic_attributes", TopicArn=TOPIC,
                              AttributeName="Policy", AttributeValue=json.dumps(OPEN_TRUST))),
            r"AttributeName", id="sns-another-attribute",
        ),
        pytest.param(
            "sqs_queue_encryption", QUEUE,
            entry_change(QUEUE, {}, {"SqsManagedSseEnabled": "true"},
                         call("sqs", "set_queue_attributes", QueueUrl=QUEUE_URL,
                              Attributes={"SqsManagedSseEnabled": "true"}),
                         call("sqs", "set_queue_attributes", QueueUrl=QUEUE_URL,
                              Attributes={"SqsManagedSseEnabled": "false",
                                          "Policy": json.dumps(OPEN_TRUST)})),
            r"Policy", id="sqs-another-attribute",
        ),
        pytest.param(
            "iam_policy_least_privilege", ROLE,
            trust_change(undo_document=WILDCARD),
            r"before", id="iam-document-is-not-the-recorded-before",
        ),
        pytest.param(
            "iam_policy_least_privilege", ROLE,
            entry_change(f"{ROLE}/inline/p", WILDCARD, None,
                         call("iam", "delete_role_policy", RoleName="app-deploy-role",
                              PolicyName="p"),
                         call("iam", "put_role_policy", RoleName="app-deploy-role",
                              PolicyName="another", PolicyDocument=json.dumps(WILDCARD))),
            r"PolicyName", id="iam-another-inline-policy",
        ),
        pytest.param(
            "iam_policy_least_privilege", POLICY,
            entry_change(f"{POLICY}/v2", WILDCARD, None,
                         call("iam", "delete_policy_version", PolicyArn=POLICY, VersionId="v2"),
                         call("iam", "create_policy_version", PolicyArn=POLICY,
                              PolicyDocument=json.dumps(WILDCARD), SetAsDefault=True)),
            r"SetAsDefault", id="iam-recreated-version-made-default",
        ),
        pytest.param(
            "ec2_ebs_default_encryption",
            f"arn:aws:ec2:us-east-1:{ACCOUNT}:ebs-encryption-by-default",
            entry_change(f"arn:aws:ec2:us-east-1:{ACCOUNT}:ebs-encryption-by-default",
                         {"EbsEncryptionByDefault": False}, {"EbsEncryptionByDefault": True},
                         call("ec2", "enable_ebs_encryption_by_default"),
                         call("ec2", "disable_ebs_encryption_by_default", DryRun=False,
                              KmsKeyId="x")),
            r"KmsKeyId", id="ec2-extra-key",
        ),
        pytest.param(
            "s3_bucket_secure_transport", BUCKET,
            entry_change(BUCKET, {"Statement": []}, {"Statement": [1]},
                         call("s3", "put_bucket_policy", Bucket="app-data-bucket", Policy="{}"),
                         call("s3", "delete_bucket_policy", Bucket="app-data-bucket")),
            r"before", id="s3-delete-a-policy-that-existed",
        ),
        pytest.param(
            "iam_policy_least_privilege", ROLE,
            entry_change(f"role/app-deploy-role/attached/{POWER}", POWER, None,
                         call("iam", "put_role_policy", RoleName="app-deploy-role",
                              PolicyName="p", PolicyDocument="{}"),
                         call("iam", "attach_role_policy", RoleName="app-deploy-role",
                              PolicyArn=POWER)),
            r"detach_role_policy", id="iam-attach-that-answers-no-detach",
        ),
    ],
)  # fmt: skip
def test_inverse_call_must_not_widen(
    remediator: str, arn: str, change_: dict[str, Any], match: str
) -> None:
    refused(entry(remediator, arn, change_), match)


def test_dry_run_refuses_the_same() -> None:
    refused(entry("iam_policy_least_privilege", ROLE, trust_change(WILDCARD)), "before",
            dry_run=True)  # fmt: skip


def test_refusals_are_not_forced_away() -> None:
    """--force overrides only a difference from the live state, never these rules."""
    forged = trust_change()
    forged["undo"].append(call("iam", "attach_user_policy", UserName="mallory", PolicyArn=ADMIN))
    refused(entry("iam_policy_least_privilege", ROLE, forged), "mallory", force=True)


# --- item 8: only what was applied ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "match"),
    [
        ("APPLYING", r"APPLYING"),  # the function stopped before it could say what it did
        ("WOULD_REMEDIATE", r"applied"),  # report mode: planned, never made
        ("EXEMPT", r"applied"),
        ("UNDONE", r"UNDONE"),
    ],
)
def test_entries_without_applied_changes_are_refused(status: str, match: str) -> None:
    planned = trust_change()
    planned["applied"] = False
    refused(entry("iam_policy_least_privilege", ROLE, planned, status=status), match)


def test_legacy_entry_without_markers_is_refused_unless_remediated() -> None:
    unmarked = trust_change()
    del unmarked["applied"]
    refused(entry("iam_policy_least_privilege", ROLE, unmarked, status="FAILED"), r"applied")


def test_partly_applied_outcome_undoes_only_what_was_applied() -> None:
    done = trust_change()
    inline_doc = call("iam", "put_role_policy", RoleName="app-deploy-role", PolicyName="p",
                      PolicyDocument=json.dumps(WILDCARD))  # fmt: skip
    not_done = entry_change(f"{ROLE}/inline/p", WILDCARD, None,
                            call("iam", "delete_role_policy", RoleName="app-deploy-role",
                                 PolicyName="p"), inline_doc, applied=False)  # fmt: skip
    report = entry("iam_policy_least_privilege", ROLE, done, not_done, status="FAILED")
    aws, ledger = fake_aws(), FakeLedger(report)

    calls = undo(report["outcome_id"], ledger, aws, force=True)  # type: ignore[arg-type]

    assert [c.operation for c in calls] == ["update_assume_role_policy"]
    assert [(s, o) for s, o, _ in aws.calls] == [
        ("sts", "get_caller_identity"),
        ("iam", "update_assume_role_policy"),
    ]
    assert ledger.settled[-1]["status"] == "UNDONE"


class RefusingLedger(FakeLedger):
    """The ledger's resource policy denies this caller (not one of UndoOperatorArns)."""

    def settle(self, report: Mapping[str, Any]) -> None:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "explicit deny"}}, "UpdateItem"
        )


def test_a_caller_the_ledger_refuses_changes_nothing() -> None:
    report = entry("iam_policy_least_privilege", ROLE, trust_change())
    aws = fake_aws()

    with pytest.raises(ClientError, match="AccessDenied"):
        undo(report["outcome_id"], RefusingLedger(report), aws, force=True)  # type: ignore[arg-type]

    assert [(s, o) for s, o, _ in aws.calls] == [("sts", "get_caller_identity")]


def test_the_undo_is_recorded_before_its_calls_and_a_failed_call_after() -> None:
    report = entry("iam_policy_least_privilege", ROLE, trust_change())
    aws, ledger = fake_aws(), FakeLedger(report)
    gone = ClientError({"Error": {"Code": "NoSuchEntity", "Message": "gone"}}, "UpdateRole")
    aws.fail("iam", "update_assume_role_policy", gone)

    with pytest.raises(ClientError, match="NoSuchEntity"):
        undo(report["outcome_id"], ledger, aws, force=True)  # type: ignore[arg-type]

    started, failed = ledger.settled
    assert started["status"] == report["status"]  # not UNDONE: nothing was restored yet
    assert started["undo_started_by"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    assert "update-assume-role-policy" in failed["undo_error"]
    assert failed["status"] == report["status"]


def test_legacy_remediated_entry_without_markers_is_undone() -> None:
    unmarked = trust_change()
    del unmarked["applied"]
    report = entry("iam_policy_least_privilege", ROLE, unmarked)
    aws = fake_aws()
    undo(report["outcome_id"], FakeLedger(report), aws, force=True)  # type: ignore[arg-type]
    [_who, (_, operation, params)] = aws.calls
    assert operation == "update_assume_role_policy"
    assert json.loads(params["PolicyDocument"]) == OPEN_TRUST


# --- the runner records which changes it applied ---------------------------------------------


def test_runner_marks_each_change_applied_or_not() -> None:
    two = Evaluation(ROLE_ARN, (change("a", "p1"), change("b", "p2")))
    w = world([two], apply_errors={1: client_error("LimitExceeded", "too many")})
    w.run()
    ahead, settled = w.aws.ledger_records
    assert ahead["status"] == "APPLYING"
    assert [c["applied"] for c in ahead["changes"]] == [False, False]  # nothing made yet
    assert settled["status"] == "FAILED"
    assert [(c["summary"], c["applied"]) for c in settled["changes"]] == [("a", True)]


def test_runner_marks_remediated_changes_applied_and_reported_ones_not() -> None:
    clean = Evaluation(ROLE_ARN)
    w = world([Evaluation(ROLE_ARN, (change(),)), clean])
    w.run()
    assert [c["applied"] for c in w.aws.ledger_records[-1]["changes"]] == [True]
    r = world([Evaluation(ROLE_ARN, (change(),))], mode=Mode.REPORT)
    r.run()
    assert [c["applied"] for c in r.aws.ledger_records[-1]["changes"]] == [False]


# --- every declared inverse operation can pass the guard and be compared with live state -------


def _modules() -> list[Any]:
    return [importlib.import_module(name) for name in registry.REMEDIATORS]


def test_every_declared_inverse_operation_has_a_parameter_rule() -> None:
    """A new inverse operation needs its rule in autoremediate_cli.undo_guard, or undo refuses
    it."""
    declared = {op for m in _modules() for op in m.DECLARATION.inverse_operations}
    assert declared, "the remediators declare their inverse operations"
    assert sorted(declared - set(RULES)) == []
    assert sorted(set(RULES) - declared) == [], "a rule no remediator needs: remove it"


def test_every_remediator_with_inverse_operations_reads_its_live_state() -> None:
    """Without its own current_state, undo of its changes could never be compared (refused)."""
    lacking = [
        m.DECLARATION.name
        for m in _modules()
        if m.DECLARATION.inverse_operations
        and type(m.REMEDIATOR).current_state is Remediator.current_state
    ]
    assert lacking == []


def test_ledger_refuses_an_entry_holding_another_outcomes_record() -> None:
    """Undo settles the record it read: a record copied under another key would mark (and
    overwrite) the entry it names instead of the one undone."""
    aws = fake_aws()
    copied = entry("iam_policy_least_privilege", ROLE, trust_change())
    aws.responses[("dynamodb", "get_item")] = {"Item": {"record": {"S": json.dumps(copied)}}}
    with pytest.raises(LedgerError, match=copied["outcome_id"]):
        Ledger(aws, "autoremediate-Ledger").get("20261124T130000Z-ffffffffffff")
