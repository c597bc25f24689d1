"""The RDS storage encryption reporter in a moto account: report-only in both modes.

RDS cannot encrypt storage in place, so an unencrypted instance or cluster is WOULD_REMEDIATE
in report AND enforce mode, the notification carries the manual steps, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import rds_storage_encryption as module
from core.ledger import Ledger
from core.outcome import Outcome, Status
from rds_storage_encryption import REMEDIATOR
from tests.remediators.calls import api_calls
from tests.remediators.faults import FailingAws
from tools.scenario import ACCOUNT, REGION, inbox, load_event

M = "rds_storage_encryption"
OWN_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/autoremediate/autoremediate-RdsStorageEncryptionRole-1A2B3C4D5E6F"
)
INSTANCE = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:billing-db"
CLUSTER = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:ledger-aurora"
# event -> the resource it is judged on, and what its manual steps must say
CASES = {
    "CreateDBInstance": (INSTANCE, "aws rds copy-db-snapshot --source-db-snapshot-identifier"
                         " billing-db-unencrypted --target-db-snapshot-identifier"
                         " billing-db-encrypted --kms-key-id alias/aws/rds"),
    "Config-DBInstance": (INSTANCE, "aws rds create-db-snapshot --db-instance-identifier"
                          " billing-db --db-snapshot-identifier billing-db-unencrypted"),
    "CreateDBCluster": (CLUSTER, "aws rds restore-db-cluster-from-snapshot --db-cluster-identifier"
                        " ledger-aurora-encrypted --snapshot-identifier ledger-aurora-unencrypted"
                        " --engine aurora-postgresql --kms-key-id alias/aws/rds"),
    "CreateDBInstance-aurora": (CLUSTER, "for each instance of ledger-aurora (ledger-aurora-1)"),
}  # fmt: skip

Run = Callable[..., list[Outcome]]
pytestmark = pytest.mark.usefixtures("no_baseline_key")  # a baseline key only where a test sets one


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    """The real runner with the stack's settings, and this function's own role for the guard."""
    return make_run(REMEDIATOR, own_role=OWN_ROLE)


def databases(aws: Any, encrypted: bool = False) -> None:
    """billing-db (postgres) and the Aurora cluster ledger-aurora with instance ledger-aurora-1."""
    rds = aws("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="billing-db", DBInstanceClass="db.t3.micro", Engine="postgres",
        AllocatedStorage=20, MasterUsername="billing", MasterUserPassword="not-a-secret-1",
        StorageEncrypted=encrypted,
    )  # fmt: skip
    rds.create_db_cluster(
        DBClusterIdentifier="ledger-aurora", Engine="aurora-postgresql", MasterUsername="ledger",
        MasterUserPassword="not-a-secret-1", StorageEncrypted=encrypted,
    )  # fmt: skip
    rds.create_db_instance(
        DBInstanceIdentifier="ledger-aurora-1", DBInstanceClass="db.r6g.large",
        Engine="aurora-postgresql", DBClusterIdentifier="ledger-aurora",
    )  # fmt: skip


def state(aws: Any) -> Any:
    rds = aws("rds")
    return (
        [(d["DBInstanceIdentifier"], d["StorageEncrypted"])
         for d in rds.describe_db_instances()["DBInstances"]],
        [(c["DBClusterIdentifier"], c["StorageEncrypted"])
         for c in rds.describe_db_clusters()["DBClusters"]],
    )  # fmt: skip


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_unencrypted_storage_is_reported_with_manual_steps_in_every_mode(
    aws, stack, run, name, mode
):
    databases(aws)
    before = state(aws)
    resource, step = CASES[name]

    with api_calls(aws, "rds") as calls:
        [outcome] = run(load_event(name, M), mode)

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.reason == (
        "report mode" if mode == "report" else "cannot be fixed in place: manual steps needed"
    )
    assert outcome.resource_arn == resource
    assert state(aws) == before
    assert set(calls) <= set(REMEDIATOR.read_actions)  # describe calls only, in both modes
    [note] = inbox(aws, stack)
    assert note["attributes"]["status"] == "WOULD_REMEDIATE"
    assert note["attributes"]["mode"] == mode
    [change] = note["body"]["changes"]
    assert change["manual"] is True and change["call"] is None and change["undo"] == []
    assert step in change["summary"]
    assert step in " ".join(change["after"]["steps"])
    assert change["before"]["StorageEncrypted"] is False
    assert "undo" not in note["body"]
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "WOULD_REMEDIATE"


def test_steps_name_the_baseline_key(aws, stack, run, monkeypatch):
    databases(aws)
    key = aws("kms").create_key(Description="baseline")["KeyMetadata"]["Arn"]
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", key)

    [outcome] = run(load_event("CreateDBInstance", M), "enforce")

    assert f"--target-db-snapshot-identifier billing-db-encrypted --kms-key-id {key}" in (
        outcome.changes[0].summary
    )
    assert outcome.changes[0].after["KmsKeyId"] == key


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_encrypted_storage_is_compliant_and_quiet(aws, stack, run, name, mode):
    databases(aws, encrypted=True)

    [outcome] = run(load_event(name, M), mode)

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert outcome.resource_arn == CASES[name][0]
    assert inbox(aws, stack) == []


@pytest.mark.parametrize("cluster_encrypted", [True, False])
def test_an_aurora_instance_is_judged_by_its_cluster(aws, stack, run, cluster_encrypted):
    """The instance's own StorageEncrypted is ignored: it is made to say the opposite here."""
    databases(aws, encrypted=cluster_encrypted)

    def contradict(parsed: dict[str, Any], **_: Any) -> None:
        for db in parsed.get("DBInstances", []):
            db["StorageEncrypted"] = not cluster_encrypted

    aws("rds").meta.events.register("after-call.rds.DescribeDBInstances", contradict)
    try:
        [outcome] = run(load_event("CreateDBInstance-aurora", M), "enforce")
    finally:
        aws("rds").meta.events.unregister("after-call.rds.DescribeDBInstances", contradict)

    expected = Status.COMPLIANT if cluster_encrypted else Status.WOULD_REMEDIATE
    assert outcome.status is expected and outcome.resource_arn == CLUSTER


@pytest.mark.parametrize(
    ("name", "code"),
    [("CreateDBInstance", "DBInstanceNotFound"), ("CreateDBCluster", "DBClusterNotFoundFault")],
)
def test_database_deleted_in_between_is_skipped_with_the_reason(aws, stack, run, name, code):
    [outcome] = run(load_event(name, M), "enforce")

    assert outcome.status is Status.SKIPPED
    assert f"no longer exists ({code})" in outcome.reason


def test_access_denied_fails_loudly(aws, stack, run):
    databases(aws)
    failing = FailingAws(aws, "describe_db_instances", "AccessDenied", service="rds")

    [outcome] = run(load_event("CreateDBInstance", M), "enforce", aws_=failing)

    assert outcome.status is Status.FAILED
    assert outcome.reason.startswith("AccessDenied while reading the resource")
    assert inbox(aws, stack)[0]["attributes"]["status"] == "FAILED"


def test_failed_calls_are_skipped_quietly(aws, stack, run):
    databases(aws)

    with api_calls(aws, "rds") as calls:
        [outcome] = run(load_event("CreateDBInstance-failed-call", M), "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert calls == [] and inbox(aws, stack) == []


def test_our_own_call_is_re_checked_and_quiet_when_compliant(aws, stack, run):
    databases(aws, encrypted=True)

    with api_calls(aws, "rds") as calls:
        [outcome] = run(load_event("CreateDBInstance-own-action", M), "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert calls == ["rds:DescribeDBInstances"] and inbox(aws, stack) == []


def test_event_without_an_identifier_is_malformed(aws, stack, run):
    event = load_event("CreateDBCluster", M)
    del event["detail"]["requestParameters"]["dBClusterIdentifier"]
    del event["detail"]["responseElements"]["dBClusterIdentifier"]

    [outcome] = run(event, "enforce")

    assert outcome.status is Status.SKIPPED and outcome.reason.startswith("malformed event:")


def test_no_write_action_exists_to_grant():
    assert REMEDIATOR.write_actions == ()


def test_handler_runs_what_lambda_runs(aws, stack, monkeypatch):
    for key, value in {**stack.env("enforce"), "OWN_ROLE_ARNS": OWN_ROLE}.items():
        monkeypatch.setenv(key, value)
    databases(aws)

    [result] = module.handler(load_event("Config-DBInstance", M), None)

    assert result["status"] == "WOULD_REMEDIATE" and result["resource"] == INSTANCE
