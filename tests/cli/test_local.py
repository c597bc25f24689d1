"""`--local`: the demo's embedded account, after its enforce story, in the command's process."""

from __future__ import annotations

import json

from autoremediate_cli.main import main


def test_local_history_shows_the_demo_story(capsys):
    assert main(["history", "--local", "--output", "json", "--status", "REMEDIATED"]) == 0

    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["status"] == "REMEDIATED" for r in rows)
    assert {r["outcome_id"] for r in rows} >= {"local-0001", "local-0003"}  # the same each run
    assert {r["remediator"] for r in rows} >= {
        "iam_policy_least_privilege", "s3_bucket_encryption", "sns_topic_encryption"
    }  # fmt: skip


def test_local_undo_restores_and_exempts(capsys):
    """local-0003 is the story's PutRolePolicy fix of app-deploy-role (see the history)."""
    assert main(["undo", "local-0003", "--local", "--output", "json"]) == 0

    done = json.loads(capsys.readouterr().out)
    assert done["resource_arn"].endswith(":role/app-deploy-role")
    assert done["calls"][0].startswith("aws iam put-role-policy --role-name app-deploy-role")
    assert done["exemption"]["value"].startswith("restored by arn:aws:sts::123456789012:")
    assert done["record_id"]
