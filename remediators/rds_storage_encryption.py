"""RDS and Aurora storage encryption: report-only, because RDS cannot encrypt storage in place.

An unencrypted instance or cluster gives one manual change (no call) whose summary holds the
concrete steps (snapshot, encrypted copy or restore with the baseline key, switch, delete), so
the outcome stays WOULD_REMEDIATE in every mode. The role holds no write permission at all.
An Aurora instance has no storage of its own: it is judged by its cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from core.baseline_key import configured_key
from core.declaration import BASELINE_KEY, CloudTrail, Declaration, Policy, allow, arn
from core.event import EventError, Trigger, required
from core.exemptions import tags_to_dict
from core.handler import lambda_handler
from core.outcome import Change
from core.remediator import Aws, Evaluation, Remediator

AWS_MANAGED_ALIAS = "alias/aws/rds"
_EVENTS: dict[str, tuple[Literal["instance", "cluster"], str]] = {
    "CreateDBInstance": ("instance", "dBInstanceIdentifier"),
    "CreateDBCluster": ("cluster", "dBClusterIdentifier"),
}


DECLARATION = Declaration(
    name="rds_storage_encryption",
    title="RDS storage encryption (report only)",
    description="Reports unencrypted RDS and Aurora storage with the manual steps (report only)",
    cloudtrail=(CloudTrail("rds.amazonaws.com", tuple(_EVENTS)),),
    config_types=("AWS::RDS::DBInstance",),
    # Named in the manual steps (the copy/restore key); never used to write.
    environment={"ENCRYPTION_KMS_KEY_ARN": BASELINE_KEY},
    permissions=(
        Policy(
            "rds-encryption-read",
            (
                allow("ReadInstances", "rds:DescribeDBInstances", arn("rds", "db:*")),
                allow("ReadClusters", "rds:DescribeDBClusters", arn("rds", "cluster:*")),
            ),
            why="Report-only in every mode: RDS cannot encrypt storage in place, so no write at"
            " all.",
        ),
    ),
)


@dataclass(frozen=True)
class Database:
    kind: Literal["instance", "cluster"]
    identifier: str
    region: str
    account: str

    def __str__(self) -> str:
        kind = "db" if self.kind == "instance" else "cluster"
        return f"arn:aws:rds:{self.region}:{self.account}:{kind}:{self.identifier}"


class RdsStorageEncryption(Remediator[Database]):
    declaration = DECLARATION
    gone_errors = ("DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault")

    def targets(self, trigger: Trigger) -> list[Database]:
        if trigger.kind == "config":
            item = trigger.item
            if item.get("resourceType") != "AWS::RDS::DBInstance":
                raise EventError(f"resource type {item.get('resourceType')!r} is not a DB instance")
            # resourceId is the dbi-resource id (db-...); the API wants the identifier.
            name = required(item, "resourceName")
            return [Database("instance", name, trigger.region, trigger.account)]
        if trigger.event_name not in _EVENTS:
            raise EventError(f"{trigger.event_name} is not a trigger of {self.name}")
        kind, key = _EVENTS[trigger.event_name]
        identifier = trigger.request.get(key) or trigger.response.get(key)
        return [Database(kind, required({key: identifier}, key), trigger.region, trigger.account)]

    def evaluate(self, target: Database, aws: Aws) -> Evaluation:
        rds = aws("rds")
        if target.kind == "cluster":
            return _cluster(rds, target.identifier)
        db = rds.describe_db_instances(DBInstanceIdentifier=target.identifier)["DBInstances"][0]
        if str(db.get("Engine", "")).startswith("aurora") and db.get("DBClusterIdentifier"):
            return _cluster(rds, db["DBClusterIdentifier"])
        arn, tags = db["DBInstanceArn"], tags_to_dict(db.get("TagList"))
        if db.get("StorageEncrypted"):
            return Evaluation(arn, (), tags)
        i, key = db["DBInstanceIdentifier"], _key()
        groups = " ".join(g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", []))
        subnets = (db.get("DBSubnetGroup") or {}).get("DBSubnetGroupName", "default")
        steps = (
            f"1. stop writes to {i}, then: aws rds create-db-snapshot --db-instance-identifier {i}"
            f" --db-snapshot-identifier {i}-unencrypted",
            f"2. aws rds copy-db-snapshot --source-db-snapshot-identifier {i}-unencrypted"
            f" --target-db-snapshot-identifier {i}-encrypted --kms-key-id {key}",
            f"3. aws rds restore-db-instance-from-db-snapshot"
            f" --db-instance-identifier {i}-encrypted --db-snapshot-identifier {i}-encrypted"
            f" --db-instance-class {db['DBInstanceClass']}"
            f" --db-subnet-group-name {subnets}"
            + (f" --vpc-security-group-ids {groups}" if groups else ""),
            f"4. switch endpoints: aws rds modify-db-instance --db-instance-identifier {i}"
            f" --new-db-instance-identifier {i}-old --apply-immediately; then the same for"
            f" {i}-encrypted to {i}, so that clients keep the endpoint name",
            f"5. once verified: aws rds delete-db-instance --db-instance-identifier {i}-old"
            f" --final-db-snapshot-identifier {i}-old-final",
        )
        return Evaluation(
            arn, (_manual(arn, _before(db, "DBInstanceIdentifier"), key, steps),), tags
        )


def _cluster(rds: Any, identifier: str) -> Evaluation:
    cluster = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
    arn, tags = cluster["DBClusterArn"], tags_to_dict(cluster.get("TagList"))
    if cluster.get("StorageEncrypted"):
        return Evaluation(arn, (), tags)
    c, key, engine = cluster["DBClusterIdentifier"], _key(), cluster["Engine"]
    members = [m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", [])]
    # An unencrypted cluster snapshot cannot be copied encrypted: the restore encrypts instead.
    steps = (
        f"1. stop writes to {c}, then: aws rds create-db-cluster-snapshot --db-cluster-identifier"
        f" {c} --db-cluster-snapshot-identifier {c}-unencrypted",
        f"2. aws rds restore-db-cluster-from-snapshot --db-cluster-identifier {c}-encrypted"
        f" --snapshot-identifier {c}-unencrypted --engine {engine} --kms-key-id {key}"
        " (a copy of an unencrypted cluster snapshot cannot be encrypted; the restore is)",
        f"3. for each instance of {c} ({', '.join(members) or 'none'}): aws rds create-db-instance"
        f" --db-instance-identifier <name>-encrypted --db-cluster-identifier {c}-encrypted"
        f" --engine {engine} --db-instance-class <its class>",
        f"4. switch endpoints: point clients at the endpoints of {c}-encrypted (or rename {c} to"
        f" {c}-old and {c}-encrypted to {c} with modify-db-cluster --new-db-cluster-identifier)",
        f"5. once verified: delete the instances of {c}-old, then aws rds delete-db-cluster"
        f" --db-cluster-identifier {c}-old --final-db-snapshot-identifier {c}-old-final",
    )
    return Evaluation(
        arn, (_manual(arn, _before(cluster, "DBClusterIdentifier"), key, steps),), tags
    )


def _manual(arn: str, before: dict[str, Any], key: str, steps: tuple[str, ...]) -> Change:
    summary = "storage is not encrypted and RDS cannot encrypt it in place: " + "; ".join(steps)
    after = {"StorageEncrypted": True, "KmsKeyId": key, "steps": list(steps)}
    return Change(summary, arn, before, after, None)


def _before(described: dict[str, Any], id_key: str) -> dict[str, Any]:
    keys = (id_key, "Engine", "EngineVersion", "DBInstanceClass", "StorageEncrypted", "KmsKeyId")
    return {k: described[k] for k in keys if k in described}


def _key() -> str:
    return configured_key() or AWS_MANAGED_ALIAS


REMEDIATOR = RdsStorageEncryption()
handler = lambda_handler(REMEDIATOR)
