"""EBS encryption by default, a per-region account setting: turn it back on when switched off.

With a baseline CMK (ENCRYPTION_KMS_KEY_ARN), a default key that is still the AWS-managed
alias/aws/ebs also moves to the CMK; a default key the team set to another CMK stays.

The setting has no ARN (the EC2 actions take Resource "*"). Outcomes name it with the
pseudo-ARN `arn:aws:ec2:<region>:<account>:ebs-encryption-by-default`: readable in a subject,
and matchable by an ExemptPrincipalArns pattern, but not a resource IAM or any API knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.baseline_key import check_key_usable, configured_key, is_aws_managed_key
from core.declaration import (
    BASELINE_KEY,
    ENFORCE,
    HAS_KEY,
    CloudTrail,
    Declaration,
    Policy,
    allow,
    check_baseline_key,
    find_aws_managed_key,
)
from core.event import EventError, Trigger
from core.handler import lambda_handler
from core.outcome import Call, Change
from core.remediator import Aws, Evaluation, Remediator

AWS_MANAGED_ALIAS = "alias/aws/ebs"

DECLARATION = Declaration(
    name="ec2_ebs_default_encryption",
    title="EBS encryption-by-default",
    description="Turns EBS encryption by default back on (and the baseline default key)",
    cloudtrail=(CloudTrail("ec2.amazonaws.com", ("DisableEbsEncryptionByDefault",)),),
    environment={"ENCRYPTION_KMS_KEY_ARN": BASELINE_KEY},
    inverse_operations=(
        "ec2.disable_ebs_encryption_by_default",
        "ec2.reset_ebs_default_kms_key_id",
    ),
    permissions=(
        Policy(
            "ebs-encryption-read",
            (
                allow(
                    "ReadEbsDefaults",
                    ("ec2:GetEbsEncryptionByDefault", "ec2:GetEbsDefaultKmsKeyId"),
                    "*",
                    why="A region-wide account setting: these actions have no resource type.",
                ),
            ),
        ),
        Policy(
            "ebs-encryption-keys",
            (check_baseline_key(), find_aws_managed_key(AWS_MANAGED_ALIAS)),
            when=HAS_KEY,
        ),
        Policy(
            "ebs-encryption-write",
            (
                allow(
                    "EnableEbsDefaults",
                    ("ec2:EnableEbsEncryptionByDefault", "ec2:ModifyEbsDefaultKmsKeyId"),
                    "*",
                ),
            ),
            when=ENFORCE,
        ),
    ),
)


@dataclass(frozen=True)
class RegionSetting:
    region: str
    account: str

    def __str__(self) -> str:
        return f"arn:aws:ec2:{self.region}:{self.account}:ebs-encryption-by-default"


class Ec2EbsDefaultEncryption(Remediator[RegionSetting]):
    declaration = DECLARATION

    def targets(self, trigger: Trigger) -> list[RegionSetting]:
        if trigger.kind != "cloudtrail" or trigger.event_name not in DECLARATION.event_names:
            raise EventError(
                f"{trigger.event_name or trigger.kind} is not a trigger of {self.name}"
            )
        if not trigger.region or not trigger.account:
            raise EventError("event lacks awsRegion or recipientAccountId")
        return [RegionSetting(trigger.region, trigger.account)]

    def evaluate(self, target: RegionSetting, aws: Aws) -> Evaluation:
        ec2, arn = aws("ec2"), str(target)
        changes = []
        if not ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]:
            changes.append(Change(
                f"EBS encryption by default is off in {target.region}: turn it on", arn,
                {"EbsEncryptionByDefault": False}, {"EbsEncryptionByDefault": True},
                Call("ec2", "enable_ebs_encryption_by_default"),
                (Call("ec2", "disable_ebs_encryption_by_default"),),
            ))  # fmt: skip
        cmk = configured_key()
        if cmk:
            key = str(ec2.get_ebs_default_kms_key_id().get("KmsKeyId") or AWS_MANAGED_ALIAS)
            if key != cmk and is_aws_managed_key(aws, key, AWS_MANAGED_ALIAS):
                changes.append(Change(
                    f"default EBS key is the AWS-managed {key}: use {cmk}", f"{arn}/kms-key",
                    {"KmsKeyId": key}, {"KmsKeyId": cmk},
                    Call("ec2", "modify_ebs_default_kms_key_id", {"KmsKeyId": cmk}),
                    (Call("ec2", "reset_ebs_default_kms_key_id"),),  # back to alias/aws/ebs
                ))  # fmt: skip
            if changes:
                check_key_usable(aws, cmk)
        return Evaluation(arn, tuple(changes))

    def current_state(self, change: Change, aws: Aws) -> Any:
        """The setting the change wrote: encryption by default, or the default key."""
        ec2 = aws("ec2")
        if change.call and change.call.operation == "modify_ebs_default_kms_key_id":
            return {
                "KmsKeyId": str(
                    ec2.get_ebs_default_kms_key_id().get("KmsKeyId") or AWS_MANAGED_ALIAS
                )
            }
        return {
            "EbsEncryptionByDefault": bool(
                ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]
            )
        }


REMEDIATOR = Ec2EbsDefaultEncryption()
handler = lambda_handler(REMEDIATOR)
