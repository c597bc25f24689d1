"""`autoremediate undo`: break -> remediate -> undo restores the exact before, exempts the
resource with an approved tag (the next run is EXEMPT), and the ledger holds both records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

import exemption_tag_approval
import iam_policy_least_privilege as iam
import sns_topic_encryption as sns
from core.exemptions import EXEMPT_TAG, approval_key, tags_to_dict
from core.ledger import Ledger
from core.outcome import Status
from tools.scenario import ACCOUNT, REGION, load_event, prepare

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:billing-events"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-deploy-role"
CALLER = f"arn:aws:sts::{ACCOUNT}:user/moto"  # moto's get_caller_identity


def topic_attributes(aws):
    attributes = aws("sns").get_topic_attributes(TopicArn=TOPIC)["Attributes"]
    return {k: v for k, v in attributes.items() if k != "SubscriptionsConfirmed"}


def topic_tags(aws):
    return tags_to_dict(aws("sns").list_tags_for_resource(ResourceArn=TOPIC)["Tags"])


def role_policy(aws):
    return aws("iam").get_role_policy(RoleName="app-deploy-role", PolicyName="deploy-wildcard")[
        "PolicyDocument"
    ]


def approval(aws, stack, arn):
    return Ledger(aws, stack.table).approval(approval_key(arn))


def entry(aws, stack, outcome_id):
    return Ledger(aws, stack.table).get(outcome_id)


@pytest.fixture
def topic_fixed(aws, remediate):
    """An unencrypted topic, remediated: (its attributes before the fix, the outcome)."""
    event = prepare(aws, "CreateTopic", "sns_topic_encryption")
    before = topic_attributes(aws)
    [outcome] = remediate(sns, event)
    assert outcome.status is Status.REMEDIATED, outcome.reason
    assert topic_attributes(aws) != before
    return before, outcome, event


def test_undo_round_trip_restores_exempts_and_records(aws, stack, cli, remediate, topic_fixed):
    before, outcome, event = topic_fixed

    ran = cli("undo", outcome.outcome_id, "--output", "json")

    assert ran.code == 0, ran.err
    done = ran.json()
    assert topic_attributes(aws) == before  # the exact before state
    until = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()  # UndoExemptionDays
    value = f"restored by {CALLER} until={until}"
    assert done["exemption"] == {"tag": EXEMPT_TAG, "value": value, "until": until}
    assert done["by"] == CALLER and done["dry_run"] is False and len(done["calls"]) == 1
    assert topic_tags(aws)[EXEMPT_TAG] == value
    approved = approval(aws, stack, TOPIC)
    assert approved["value"] == value and approved["by"] == CALLER
    assert approved["reason"] == f"restored by {CALLER}" and approved["until"] == until
    # The ledger holds both: the remediation, now UNDONE by the caller, and the undo itself.
    original = entry(aws, stack, outcome.outcome_id)
    assert original["status"] == "UNDONE" and original["undone_by"] == CALLER
    restored = entry(aws, stack, done["record_id"])
    assert restored["status"] == "RESTORED" and restored["undo_of"] == outcome.outcome_id
    assert restored["changes"][0]["after"] == original["changes"][0]["before"]
    # Not remediated again at once: the next event finds the resource exempt.
    [again] = remediate(sns, event)
    assert again.status is Status.EXEMPT, again.reason
    assert f"approved by {CALLER} until {until}" in again.reason
    assert topic_attributes(aws) == before
    rows = cli("history", "--output", "json").json()
    assert sorted(r["status"] for r in rows if r["resource_arn"] == TOPIC) == [
        "EXEMPT", "RESTORED", "UNDONE"
    ]  # fmt: skip


def test_undo_of_an_iam_fix_restores_the_document_and_tags_the_role(aws, stack, cli, remediate):
    event = prepare(aws, "PutRolePolicy")
    before = role_policy(aws)
    [outcome] = remediate(iam, event)
    assert outcome.status is Status.REMEDIATED and role_policy(aws) != before

    ran = cli("undo", outcome.outcome_id)

    assert ran.code == 0, ran.err
    assert role_policy(aws) == before
    assert "ran 1 call(s) as" in ran.out and f"tagged {EXEMPT_TAG} = restored by" in ran.out
    tags = tags_to_dict(aws("iam").list_role_tags(RoleName="app-deploy-role")["Tags"])
    assert tags[EXEMPT_TAG] == approval(aws, stack, ROLE)["value"]
    [again] = remediate(iam, event)
    assert again.status is Status.EXEMPT, again.reason
    assert role_policy(aws) == before


def tag_event(actor: str, value: str) -> dict[str, Any]:
    """TagRole of app-deploy-role's exemption tag, called by `actor` (an IAM user)."""
    event = load_event("TagRole", "exemption_tag_approval")
    event["detail"]["userIdentity"] = {"type": "IAMUser", "arn": actor, "accountId": ACCOUNT,
                                       "principalId": "AIDAEXAMPLE"}  # fmt: skip
    event["detail"]["requestParameters"] = {
        "roleName": "app-deploy-role", "tags": [{"key": EXEMPT_TAG, "value": value}]
    }  # fmt: skip
    return event


def test_the_tags_own_event_keeps_the_undo_approval(aws, stack, cli, remediate, monkeypatch):
    """The approval function hears undo's TagRole: set by the caller who recorded the approval,
    with its exact value, it stays approved (no ExemptionApprovers needed); anyone else's same
    call revokes it as before."""
    monkeypatch.setenv("LEDGER_TABLE", stack.table)
    monkeypatch.delenv("EXEMPTION_APPROVERS", raising=False)
    [outcome] = remediate(iam, prepare(aws, "PutRolePolicy"))
    assert cli("undo", outcome.outcome_id).code == 0
    value = approval(aws, stack, ROLE)["value"]

    [heard] = remediate(exemption_tag_approval, tag_event(CALLER, value))

    assert heard.status is Status.EXEMPT, heard.reason
    assert approval(aws, stack, ROLE)["value"] == value
    [other] = remediate(
        exemption_tag_approval, tag_event(f"arn:aws:iam::{ACCOUNT}:user/eve", value)
    )
    assert other.status is Status.WOULD_REMEDIATE
    assert approval(aws, stack, ROLE)["value"] is None


def test_undo_refuses_when_the_state_changed_since(aws, stack, cli, topic_fixed):
    before, outcome, _ = topic_fixed
    aws("sns").set_topic_attributes(TopicArn=TOPIC, AttributeName="KmsMasterKeyId",
                                    AttributeValue="alias/team-key")  # fmt: skip

    ran = cli("undo", outcome.outcome_id, "--output", "json")

    assert ran.code == 1
    assert ran.out == ""
    assert "changed since the remediation" in ran.err and "--force" in ran.err
    assert topic_attributes(aws)["KmsMasterKeyId"] == "alias/team-key"
    assert EXEMPT_TAG not in topic_tags(aws)
    assert approval(aws, stack, TOPIC) is None
    assert entry(aws, stack, outcome.outcome_id)["status"] == "REMEDIATED"
    # Who has looked and still wants the old state says so.
    forced = cli("undo", outcome.outcome_id, "--force")
    assert forced.code == 0, forced.err
    assert topic_attributes(aws) == before


def test_dry_run_changes_nothing(aws, stack, cli, topic_fixed):
    _, outcome, _ = topic_fixed
    fixed = topic_attributes(aws)

    ran = cli("undo", outcome.outcome_id, "--dry-run", "--output", "json")

    assert ran.code == 0, ran.err
    done = ran.json()
    assert done["dry_run"] is True and done["record_id"] == ""
    assert done["calls"][0].startswith("aws sns set-topic-attributes")
    assert done["exemption"]["tag"] == EXEMPT_TAG
    assert topic_attributes(aws) == fixed
    assert EXEMPT_TAG not in topic_tags(aws)
    assert approval(aws, stack, TOPIC) is None
    assert entry(aws, stack, outcome.outcome_id)["status"] == "REMEDIATED"


def test_a_resource_without_tags_is_restored_and_not_exempted(aws, stack, cli, remediate):
    [outcome] = remediate(iam, prepare(aws, "PutGroupPolicy"))
    assert outcome.status is Status.REMEDIATED, outcome.reason

    ran = cli("undo", outcome.outcome_id)

    assert ran.code == 0, ran.err
    assert "not exempted: IAM groups cannot be tagged" in ran.out
    assert entry(aws, stack, outcome.outcome_id)["status"] == "UNDONE"


def test_no_exempt_restores_without_tag_or_approval(aws, stack, cli, topic_fixed):
    before, outcome, _ = topic_fixed

    ran = cli("undo", outcome.outcome_id, "--no-exempt", "--output", "json")

    assert ran.code == 0, ran.err
    assert ran.json()["exemption"] == {"skipped": "--no-exempt"}
    assert topic_attributes(aws) == before
    assert EXEMPT_TAG not in topic_tags(aws) and approval(aws, stack, TOPIC) is None


def test_a_tag_that_cannot_be_set_restores_nothing(aws, stack, cli, remediate):
    [outcome] = remediate(iam, prepare(aws, "PutRolePolicy"))
    fixed = role_policy(aws)

    def denied(**_: object) -> None:
        error = {"Error": {"Code": "AccessDenied", "Message": "explicit deny in an SCP"}}
        raise ClientError(error, "TagRole")  # type: ignore[arg-type]

    aws("iam").meta.events.register("before-call.iam.TagRole", denied)
    ran = cli("undo", outcome.outcome_id)

    assert ran.code == 1
    assert "explicit deny in an SCP" in ran.err and "nothing was restored" in ran.err
    assert "--no-exempt" in ran.err
    assert role_policy(aws) == fixed
    assert approval(aws, stack, ROLE)["value"] is None  # the approval it wrote is revoked
    assert entry(aws, stack, outcome.outcome_id)["status"] == "REMEDIATED"


@pytest.mark.parametrize("options", [(), ("--no-exempt",)])
def test_a_caller_the_ledger_refuses_changes_nothing(aws, stack, cli, topic_fixed, options):
    """The table's resource policy denies item writes to all but our roles and UndoOperatorArns
    (moto does not evaluate resource policies: the deny is raised where DynamoDB would)."""
    _, outcome, _ = topic_fixed
    fixed = topic_attributes(aws)

    def denied(**_: object) -> None:
        error = {"Error": {"Code": "AccessDeniedException", "Message": "explicit deny in a"
                           " resource-based policy"}}  # fmt: skip
        raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]

    for call in ("PutItem", "UpdateItem"):
        aws("dynamodb").meta.events.register(f"before-call.dynamodb.{call}", denied)
    ran = cli("undo", outcome.outcome_id, *options)
    for call in ("PutItem", "UpdateItem"):
        aws("dynamodb").meta.events.unregister(f"before-call.dynamodb.{call}", denied)

    assert ran.code == 1
    assert "UndoOperatorArns" in ran.err and "Nothing was changed" in ran.err
    assert topic_attributes(aws) == fixed
    assert EXEMPT_TAG not in topic_tags(aws)
    assert approval(aws, stack, TOPIC) is None
    assert entry(aws, stack, outcome.outcome_id)["status"] == "REMEDIATED"


def test_undo_refusals_exit_1(aws, stack, cli, topic_fixed):
    _, outcome, _ = topic_fixed
    assert cli("undo", "nope").code == 1
    done = cli("undo", outcome.outcome_id, "--output", "json")
    assert done.code == 0

    again = cli("undo", outcome.outcome_id)
    assert again.code == 1 and "already UNDONE" in again.err
    record = cli("undo", done.json()["record_id"])  # the undo's own record undoes nothing
    assert record.code == 1 and "nothing to undo" in record.err


def test_notifications_carry_the_command(aws, stack, topic_fixed):
    from tools.scenario import inbox

    _, outcome, _ = topic_fixed
    [note] = inbox(aws, stack)
    assert note["body"]["undo"].startswith(
        f"autoremediate undo {outcome.outcome_id} --table {stack.table}"
    )
    assert json.dumps(note["body"]).count("python -m core.undo") == 0
