"""The EBS encryption-by-default remediator in a moto account: each mode, before and after.

moto 5.2.5 serves Get/Enable/DisableEbsEncryptionByDefault and ModifyEbsDefaultKmsKeyId, but
not GetEbsDefaultKmsKeyId nor ResetEbsDefaultKmsKeyId (NotImplementedError): those two calls go
to a botocore Stubber (which validates them against EC2's model), answered from moto's own EBS
state as EC2 would answer ("alias/aws/ebs" until a default key is set). Everything else is moto.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

import ec2_ebs_default_encryption as module
from autoremediate_cli.undo import undo
from core.clients import Clients
from core.ledger import Ledger
from core.outcome import Outcome, Status
from ec2_ebs_default_encryption import REMEDIATOR
from tests.remediators.calls import api_calls, ledger_before
from tests.remediators.faults import FailingAws
from tests.remediators.stubs import StubbedAws
from tools.scenario import ACCOUNT, REGION, inbox, load_event

M = "ec2_ebs_default_encryption"
# This function's role as CloudFormation names it (events/...-own-action.json acts as it).
OWN_ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/autoremediate/"
    "autoremediate-Ec2EbsDefaultEncryptionRole-1A2B3C4D5E6F"
)
SETTING = f"arn:aws:ec2:{REGION}:{ACCOUNT}:ebs-encryption-by-default"
EVENT = "DisableEbsEncryptionByDefault"
WRITES = {"ec2:EnableEbsEncryptionByDefault", "ec2:ModifyEbsDefaultKmsKeyId"}

Run = Callable[..., list[Outcome]]
pytestmark = pytest.mark.usefixtures("no_baseline_key")  # a baseline key only where a test sets one


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    """The real runner with the stack's settings, and this function's own role for the guard."""
    return make_run(REMEDIATOR, own_role=OWN_ROLE)


def backend() -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[ACCOUNT][REGION]


def enabled(aws: Any) -> bool:
    return bool(aws("ec2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"])


def new_key(aws: Any, description: str) -> str:
    return str(aws("kms").create_key(Description=description)["KeyMetadata"]["Arn"])


class StubbedEbsKey(StubbedAws):
    """`aws` as the runner sees it, with the two EBS default-key calls moto lacks (see top)."""

    SERVICE, OPERATIONS = "ec2", ("get_ebs_default_kms_key_id", "reset_ebs_default_kms_key_id")

    def __init__(self, aws: Any) -> None:
        super().__init__(aws)
        self.calls: list[str] = []

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        self.calls.append(operation)
        if operation == "reset_ebs_default_kms_key_id":
            backend().default_kms_key_id = ""  # EC2 then uses alias/aws/ebs again
        key = backend().default_kms_key_id or "alias/aws/ebs"
        return self.reply(operation, params, {"KmsKeyId": key})


def test_report_mode_reports_and_changes_nothing(aws, stack, run):
    with api_calls(aws, "ec2") as calls:
        [outcome] = run(load_event(EVENT, M), "report")

    assert outcome.status is Status.WOULD_REMEDIATE, outcome.reason
    assert outcome.resource_arn == SETTING
    assert not enabled(aws) and WRITES.isdisjoint(calls)
    [note] = inbox(aws, stack)
    assert note["subject"] == (
        "[WOULD_REMEDIATE] ec2_ebs_default_encryption: ebs-encryption-by-default (by alice)"
    )
    assert note["body"]["changes"][0]["undo_cli"] == ["aws ec2 disable-ebs-encryption-by-default"]


def test_enforce_mode_turns_it_back_on_and_can_be_undone(aws, stack, run):
    [outcome] = run(load_event(EVENT, M), "enforce")

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert enabled(aws)
    assert [c.call.operation for c in outcome.changes if c.call] == [
        "enable_ebs_encryption_by_default"
    ]
    assert inbox(aws, stack)[0]["attributes"]["status"] == "REMEDIATED"
    assert [o.status for o in run(load_event(EVENT, M), "enforce")] == [Status.COMPLIANT]
    assert inbox(aws, stack) == []

    undo(outcome.outcome_id, Ledger(aws, stack.table), aws)
    assert not enabled(aws)


def test_baseline_cmk_replaces_the_aws_managed_default_key_and_undo_resets_it(
    aws, stack, run, monkeypatch
):
    cmk = new_key(aws, "baseline")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", cmk)
    stubbed = StubbedEbsKey(aws)

    [outcome] = run(load_event(EVENT, M), "enforce", aws_=stubbed)

    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert enabled(aws) and backend().default_kms_key_id == cmk
    turn_on, key = outcome.changes
    assert turn_on.after == {"EbsEncryptionByDefault": True}
    assert key.before == {"KmsKeyId": "alias/aws/ebs"} and key.after == {"KmsKeyId": cmk}
    undo(outcome.outcome_id, Ledger(aws, stack.table), cast(Clients, stubbed))
    assert not enabled(aws) and backend().default_kms_key_id == ""
    assert stubbed.calls[-1] == "reset_ebs_default_kms_key_id"


def test_aws_managed_default_key_named_by_its_arn_is_recognised(aws, stack, run, monkeypatch):
    aws("ec2").enable_ebs_encryption_by_default()
    managed = backend()._create_default_encryption_key()  # alias/aws/ebs, set as default by ARN
    cmk = new_key(aws, "baseline")
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", cmk)

    [outcome] = run(load_event(EVENT, M), "report", aws_=StubbedEbsKey(aws))

    assert outcome.status is Status.WOULD_REMEDIATE
    [change] = outcome.changes
    assert change.before == {"KmsKeyId": managed}
    assert backend().default_kms_key_id == managed


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize("baseline", ["", "baseline-cmk"])
def test_a_team_cmk_as_default_key_stays_and_compliant_is_untouched(
    aws, stack, run, monkeypatch, mode, baseline
):
    team = new_key(aws, "team")
    aws("ec2").enable_ebs_encryption_by_default()
    aws("ec2").modify_ebs_default_kms_key_id(KmsKeyId=team)
    if baseline:
        monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", new_key(aws, "baseline"))

    with api_calls(aws, "ec2", "kms") as calls:
        [outcome] = run(load_event(EVENT, M), mode, aws_=StubbedEbsKey(aws))

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert WRITES.isdisjoint(calls)
    assert enabled(aws) and backend().default_kms_key_id == team
    assert inbox(aws, stack) == []


def test_only_the_switch_is_fixed_when_the_default_key_is_a_team_cmk(aws, stack, run, monkeypatch):
    team = new_key(aws, "team")
    aws("ec2").modify_ebs_default_kms_key_id(KmsKeyId=team)
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", new_key(aws, "baseline"))

    [outcome] = run(load_event(EVENT, M), "enforce", aws_=StubbedEbsKey(aws))

    assert outcome.status is Status.REMEDIATED
    assert [c.summary for c in outcome.changes] == [
        f"EBS encryption by default is off in {REGION}: turn it on"
    ]
    assert enabled(aws) and backend().default_kms_key_id == team


def test_access_denied_fails_loudly_and_changes_nothing(aws, stack, run):
    failing = FailingAws(aws, "enable_ebs_encryption_by_default", "UnauthorizedOperation", "ec2")

    [outcome] = run(load_event(EVENT, M), "enforce", aws_=failing)

    assert outcome.status is Status.FAILED and not outcome.transient
    assert outcome.reason.startswith("UnauthorizedOperation while applying")
    assert not enabled(aws)
    assert Ledger(aws, stack.table).get(outcome.outcome_id)["status"] == "FAILED"


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_disabled_baseline_key_fails_with_a_clear_message_and_changes_nothing(
    aws, stack, run, monkeypatch, mode
):
    cmk = new_key(aws, "baseline")
    aws("kms").schedule_key_deletion(KeyId=cmk.rsplit("/", 1)[-1], PendingWindowInDays=7)
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", cmk)

    with api_calls(aws, "ec2") as calls:
        [outcome] = run(load_event(EVENT, M), mode, aws_=StubbedEbsKey(aws))

    assert outcome.status is Status.FAILED
    assert "KMSKeyUnusable" in outcome.reason and "is PendingDeletion" in outcome.reason
    assert WRITES.isdisjoint(calls) and not enabled(aws)
    assert backend().default_kms_key_id == ""


def test_ledger_holds_the_original_before_the_write(aws, stack, run):
    with ledger_before(aws, stack.table, "ec2", "EnableEbsEncryptionByDefault") as seen:
        [outcome] = run(load_event(EVENT, M), "enforce")

    assert outcome.status is Status.REMEDIATED
    [entry] = seen
    assert entry["status"] == "APPLYING"
    assert entry["changes"][0]["before"] == {"EbsEncryptionByDefault": False}


def test_failed_calls_are_skipped_quietly(aws, stack, run):
    with api_calls(aws, "ec2") as calls:
        [outcome] = run(load_event(f"{EVENT}-failed-call", M), "enforce")

    assert outcome.status is Status.SKIPPED and outcome.quiet
    assert calls == [] and not enabled(aws)
    assert inbox(aws, stack) == []


def test_our_own_call_is_re_checked_and_quiet_when_compliant(aws, stack, run):
    aws("ec2").enable_ebs_encryption_by_default()  # on, as our fix leaves it

    with api_calls(aws, "ec2") as calls:
        [outcome] = run(load_event(f"{EVENT}-own-action", M), "enforce")

    assert outcome.status is Status.COMPLIANT and outcome.quiet
    assert calls == ["ec2:GetEbsEncryptionByDefault"] and enabled(aws)
    assert inbox(aws, stack) == []


def test_the_pseudo_arn_can_be_exempted_by_pattern(aws, stack, run):
    exempt = "arn:aws:ec2:*:*:ebs-encryption-by-default"

    [outcome] = run(load_event(EVENT, M), "enforce", exempt=exempt)

    assert outcome.status is Status.EXEMPT and not enabled(aws)


def test_every_call_is_a_declared_action(aws, stack, run, monkeypatch):
    monkeypatch.setenv("ENCRYPTION_KMS_KEY_ARN", new_key(aws, "baseline"))
    stubbed = StubbedEbsKey(aws)

    with api_calls(aws, "ec2", "kms") as calls:
        [outcome] = run(load_event(EVENT, M), "enforce", aws_=stubbed)

    assert outcome.status is Status.REMEDIATED
    made = {*calls, *(f"ec2:{''.join(w.title() for w in op.split('_'))}" for op in stubbed.calls)}
    assert made <= {*REMEDIATOR.read_actions, *REMEDIATOR.write_actions}
    assert {"ec2:GetEbsDefaultKmsKeyId", "ec2:ModifyEbsDefaultKmsKeyId", "kms:DescribeKey"} <= made


def test_handler_runs_what_lambda_runs(aws, stack, monkeypatch):
    for key, value in {**stack.env("enforce"), "OWN_ROLE_ARNS": OWN_ROLE}.items():
        monkeypatch.setenv(key, value)

    [result] = module.handler(load_event(EVENT, M), None)

    assert result["status"] == "REMEDIATED" and result["resource"] == SETTING
    assert enabled(aws)
