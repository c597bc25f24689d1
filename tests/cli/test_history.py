"""`autoremediate history` and `show`: outcomes from the ledger's by-day index, never a scan."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import iam_policy_least_privilege as iam
import sns_topic_encryption as sns
from core.ledger import Ledger
from core.outcome import Status
from tools.scenario import prepare


@pytest.fixture
def no_scan(aws):
    """History and show must never scan the ledger: a Scan call fails the test."""

    def refuse(**_: object) -> None:
        raise AssertionError("the ledger was scanned")

    aws("dynamodb").meta.events.register("before-call.dynamodb.Scan", refuse)


@pytest.fixture
def outcomes(aws, remediate):
    """Two REMEDIATED outcomes (an IAM role, an SNS topic) and one WOULD_REMEDIATE."""
    [role] = remediate(iam, prepare(aws, "PutRolePolicy"))
    [topic] = remediate(sns, prepare(aws, "CreateTopic", "sns_topic_encryption"))
    [user] = remediate(iam, prepare(aws, "PutUserPolicy"), "report")
    assert (role.status, topic.status) == (Status.REMEDIATED, Status.REMEDIATED), role.reason
    assert user.status is Status.WOULD_REMEDIATE
    return {"role": role, "topic": topic, "user": user}


def old_entry(aws, stack, days: int, outcome_id: str) -> None:
    """A REMEDIATED entry `days` ago, as the runner writes it."""
    when = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    Ledger(aws, stack.table).record(
        {
            "outcome_id": outcome_id,
            "remediator": "s3_bucket_encryption",
            "status": "REMEDIATED",
            "mode": "enforce",
            "resource_arn": "arn:aws:s3:::old-bucket",
            "time": when,
            "reason": "verified",
            "changes": [],
        }
    )


@pytest.mark.usefixtures("no_scan")
def test_history_json_lists_every_outcome_newest_first(cli, outcomes):
    ran = cli("history", "--output", "json")

    assert ran.code == 0, ran.err
    rows = ran.json()
    ids = [r["outcome_id"] for r in rows]
    assert set(ids) == {o.outcome_id for o in outcomes.values()}
    assert [r["time"] for r in rows] == sorted((r["time"] for r in rows), reverse=True)
    role = next(r for r in rows if r["outcome_id"] == outcomes["role"].outcome_id)
    assert role["status"] == "REMEDIATED"
    assert role["remediator"] == "iam_policy_least_privilege"
    assert role["resource_arn"].endswith(":role/app-deploy-role")
    assert role["by"].startswith("arn:aws:sts::")


def test_options_before_or_after_the_subcommand(cli, outcomes):
    after, before = cli("history", "--output", "json"), cli("--output", "json", "history")

    assert after.code == before.code == 0
    assert after.json() == before.json()


@pytest.mark.usefixtures("no_scan")
def test_history_filters(cli, outcomes):
    def ids(*argv: str) -> set[str]:
        ran = cli("history", "--output", "json", *argv)
        assert ran.code == 0, ran.err
        return {r["outcome_id"] for r in ran.json()}

    role, topic, user = (outcomes[k].outcome_id for k in ("role", "topic", "user"))
    assert ids("--status", "remediated") == {role, topic}
    assert ids("--status", "WOULD_REMEDIATE,FAILED") == {user}
    assert ids("--status", "FAILED", "--status", "REMEDIATED") == {role, topic}
    assert ids("--remediator", "sns_topic_encryption") == {topic}
    assert ids("--resource", outcomes["topic"].resource_arn) == {topic}
    assert ids("--resource", "role/app-deploy-role") == {role}
    assert ids("--resource", "arn:aws:iam::123456789012:role/app") == set()  # an ARN: exact
    [newest] = ids("--limit", "1")
    rows = cli("history", "--output", "json").json()
    assert newest in {r["outcome_id"] for r in rows if r["time"] == rows[0]["time"]}


@pytest.mark.usefixtures("no_scan")
def test_history_walks_back_to_since_day_by_day(aws, stack, cli, outcomes):
    old_entry(aws, stack, 3, "old-3")
    old_entry(aws, stack, 10, "old-10")

    def ids(since: str) -> list[str]:
        ran = cli("history", "--since", since, "--output", "json", "--limit", "0")
        assert ran.code == 0, ran.err
        return [r["outcome_id"] for r in ran.json()]

    assert "old-3" not in ids("2d")
    assert ids("7d")[-1] == "old-3" and "old-10" not in ids("7d")
    assert ids("11d")[-2:] == ["old-3", "old-10"]
    recent = ids("1h")
    assert "old-3" not in recent and outcomes["role"].outcome_id in recent


def test_history_leaves_approvals_out(aws, stack, cli, outcomes):
    Ledger(aws, stack.table).put_approval(
        "approval#arn:aws:s3:::b", {"resource_arn": "arn:aws:s3:::b", "value": "x", "time": "t"}
    )
    ran = cli("history", "--output", "json")
    assert all(not r["outcome_id"].startswith("approval#") for r in ran.json())


def test_history_table_is_readable(cli, outcomes):
    ran = cli("history")

    assert ran.code == 0
    header, rule, *rows = ran.out.splitlines()
    assert header.split() == ["TIME", "STATUS", "REMEDIATOR", "OUTCOME", "ID", "RESOURCE"]
    assert set(rule) <= {"-", " "}
    assert len(rows) == 3
    assert any(outcomes["topic"].outcome_id in row and "REMEDIATED" in row for row in rows)


def test_history_of_an_empty_ledger(cli):
    assert cli("history", "--output", "json").json() == []
    ran = cli("history")
    assert ran.code == 0 and "no outcome since 7d" in ran.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "--status", "BOGUS"], "unknown status BOGUS"),
        (["history", "--remediator", "nope"], "unknown remediator nope"),
        (["history", "--since", "3x"], "write 7d, 12h, 30m"),
        (["history", "--since", "2999-01-01"], "in the future"),
        (["history", "--output", "yaml"], "invalid choice"),
        (["show"], "outcome_id"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_usage_errors_exit_2(cli, argv, message):
    with pytest.raises(SystemExit) as exited:
        cli(*argv)
    assert exited.value.code == 2


def test_show_gives_a_unified_diff_of_before_and_after(cli, outcomes):
    outcome_id = outcomes["role"].outcome_id

    ran = cli("show", outcome_id)

    assert ran.code == 0, ran.err
    assert f"outcome:    {outcome_id}" in ran.out
    assert "status:     REMEDIATED" in ran.out
    assert "--- before" in ran.out and "+++ after" in ran.out
    removed = [line for line in ran.out.splitlines() if line.startswith("-  ")]
    assert any('"Sid": "Admin"' in line for line in removed)  # the statement the fix removed
    assert f"autoremediate undo {outcome_id} --table" in ran.out


def test_show_json(cli, outcomes):
    ran = cli("show", outcomes["topic"].outcome_id, "--output", "json")

    shown = ran.json()
    assert shown["outcome"]["outcome_id"] == outcomes["topic"].outcome_id
    [change] = shown["changes"]
    assert change["applied"] is True
    assert change["diff"][:2] == ["--- before", "+++ after"]
    assert any(line.startswith("+") and "alias/aws/sns" in line for line in change["diff"])


def test_show_unknown_outcome_exits_1(cli, outcomes):
    ran = cli("show", "20260101T000000Z-000000000000", "--output", "json")

    assert ran.code == 1
    assert ran.out == ""  # nothing but JSON on stdout, and there is none
    assert "no ledger entry with outcome id 20260101T000000Z-000000000000" in ran.err


def test_show_pretty_prints_documents_held_as_text(cli):
    from autoremediate_cli.show import pretty

    document = json.dumps({"Statement": [{"Effect": "Allow", "Action": "*"}]})
    assert pretty(document).splitlines()[:3] == ["{", '  "Statement": [', "    {"]
    assert pretty(None) == "(none)"
