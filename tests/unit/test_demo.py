"""`make demo` and the routing it relies on.

The demo runs as a subprocess, exactly as `make demo` runs it: it starts its own mock_aws, which
would nest badly with the session-wide mock of tests/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from registry import REMEDIATORS
from tools.demo.lambda_env import function_env
from tools.demo.outcomes import ENFORCE_ONLY, manual_steps
from tools.demo.story import REMEDIATOR, encryption_story, plays_in
from tools.routing import TemplateError, functions, load_template, matches, routes
from tools.samples import samples_of
from tools.scenario import EVENTS, Stack, load_event

ROOT = Path(__file__).resolve().parents[2]
# "Fits a screen", kept honest as the functions grow: the IAM story and the frame take 129
# lines; every other function ~10 (a row, its details and its notification in each mode, a
# live-state line; RDS's five manual steps take 16, a plain fix 6). The limit grows by that.
FIXED_LINES = 145  # 15 of them: the autoremediate command's history and undo at the end
LINES_PER_FUNCTION = 10
WIDTH = 120
NOTIFIED = ("WOULD_REMEDIATE", "REMEDIATED")  # the others are quiet: logged, never published
ECHO = ["- our own change echoes back: re-checked, compliant"]  # an own-action's row, enforce


def encryption_functions() -> dict[str, str]:
    """Every function beyond the IAM story, as the table shows it -> its module (registry)."""
    others = [f for f in functions(load_template()) if f.handler_module != REMEDIATOR]
    assert {f.handler_module for f in others} == set(REMEDIATORS) - {REMEDIATOR}
    return {f.logical_id.removesuffix("Function"): f.handler_module for f in others}


def encryption_outcomes() -> dict[tuple[str, str], tuple[str, str]]:
    """(event, function) -> (report, enforce) status, for each sample its samples.toml's `demo`
    lists, at every function that has the same sample event (a REST stage's CreateStage is a
    sample of the WAF and the throttling functions; the demo plays it once, to both): its
    expected status in enforce mode, a fix only reported in report mode (the echo of our own fix
    plays in enforce mode only)."""
    every = functions(load_template())
    modules = encryption_functions()
    outcomes = {}
    for name, event in encryption_story(every):
        for reached in routes(every, event):
            module = modules.get(reached.logical_id.removesuffix("Function"))
            sample = samples_of(module).samples.get(name) if module else None
            if module is None or sample is None or load_event(name, module) != event:
                continue  # not a sample of this function, or another call of the same name
            report = "WOULD_REMEDIATE" if sample.status == "REMEDIATED" else sample.status
            outcomes[(name, reached.logical_id.removesuffix("Function"))] = (
                report if plays_in(name, "report") else ENFORCE_ONLY,
                sample.status,
            )
    return outcomes


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "tools.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def sections(demo: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each mode, its IAM table (<mode>-iam) and encryption table (<mode>-encryption), the state."""
    out = demo.stdout
    report, enforce, state = (
        out.index("=== REPORT mode"),
        out.index("=== ENFORCE mode"),
        out.index("=== the fix is real"),
    )
    assert report < enforce < state
    found = {"report": out[report:enforce], "enforce": out[enforce:state], "state": out[state:]}
    for mode in ("report", "enforce"):
        iam, encryption = found[mode].split("\nothers: ", 1)
        found[f"{mode}-iam"] = iam
        found[f"{mode}-encryption"] = encryption.split("\n\n", 1)[0]
    return found


def row(section: str, event: str, function: str = "") -> tuple[str, list[str]]:
    """(status, detail lines) of the first table row for `event` (and `function`, in the
    encryption table)."""
    lines = section.splitlines()
    for i, line in enumerate(lines):
        cells = line.split()
        if cells[:1] == [event] and (not function or cells[1:2] == [function]):
            details = []
            for following in lines[i + 1 :]:
                if not following.startswith("  "):
                    break
                details.append(following.strip())
            return cells[-1], details
    raise AssertionError(f"no row for {event} {function} in:\n{section}")


def test_demo_succeeds_quietly_and_fits_a_screen(demo: subprocess.CompletedProcess[str]) -> None:
    assert demo.returncode == 0, demo.stderr
    assert "UNEXPECTED" not in demo.stderr
    assert '"level"' not in demo.stdout  # no Powertools JSON logs in the table
    lines = demo.stdout.splitlines()
    assert len(lines) <= FIXED_LINES + LINES_PER_FUNCTION * len(encryption_functions())
    assert max(len(line) for line in lines) <= WIDTH


def test_report_mode_would_remediate_and_changes_nothing(sections: dict[str, str]) -> None:
    status, details = row(sections["report"], "PutRolePolicy")
    assert status == "WOULD_REMEDIATE"
    assert any("removed Action 's3:*'" in d and "removed Action '*'" in d for d in details)
    assert row(sections["report"], "CreateRole")[0] == "WOULD_REMEDIATE"
    assert " REMEDIATED" not in sections["report"].replace("WOULD_REMEDIATE", "")


def test_enforce_mode_remediates(sections: dict[str, str]) -> None:
    status, details = row(sections["enforce"], "PutRolePolicy")
    assert status == "REMEDIATED"
    assert any("inline policy deploy-wildcard" in d for d in details)
    assert row(sections["enforce"], "AttachRolePolicy")[0] == "REMEDIATED"
    assert "WOULD_REMEDIATE" not in sections["enforce-iam"]
    # AWS Config's later look finds the fixed role compliant: quiet, no notification.
    assert row(sections["enforce"], "Config-Role") == ("COMPLIANT", [])


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_failed_call_is_filtered_and_the_echo_of_our_fix_re_checked(
    sections: dict[str, str], mode: str
) -> None:
    status, details = row(sections[mode], "PutRolePolicy-failed-call")
    assert status == "(filtered)"
    assert details == ["- filtered by the EventBridge pattern (errorCode AccessDenied)"]
    status, details = row(sections[mode], "PutRolePolicy-own-action")
    if mode == "report":
        assert (status, details) == (
            ENFORCE_ONLY,
            ["- the echo of our own fix: report mode makes none"],
        )
    else:
        assert (status, details) == ("COMPLIANT", ECHO)


def test_notifications_are_printed_with_their_attributes(sections: dict[str, str]) -> None:
    report, enforce = sections["report"], sections["enforce"]
    assert "remediator=iam_policy_least_privilege" in report
    assert "mode=report" in report and "status=WOULD_REMEDIATE" in report
    assert "severity=HIGH" in report
    assert "mode=enforce" in enforce and "status=REMEDIATED" in enforce
    assert "[REMEDIATED] iam_policy_least_privilege: role/app-deploy-role (by alice)" in enforce
    assert "[WOULD_REMEDIATE] iam_policy_least_privilege: role/open-trust-role (by alice)" in report
    # Quiet outcomes publish nothing: neither the deleted item's skip nor our fix's echo.
    assert "[SKIPPED]" not in report + enforce
    assert "(by autoremediate-" not in report + enforce


def test_live_state_shows_the_fix_and_the_undo(sections: dict[str, str]) -> None:
    state, enforce = sections["state"], sections["enforce"]
    before, after = state.split("  after ", 1)[0], state.split("  after ", 1)[1]
    assert '{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"}' in before
    assert '"Action":"*"' not in after.split("role/app-deploy-role, attached")[0]
    assert '"Action":["s3:GetObject"]' in after  # the specific grant stays
    assert "organizations:LeaveOrganization" in after  # the Deny stays
    assert "attached policies: before AdministratorAccess, after (none)" in state
    assert '"Sid":"AutoremediateNoOpenTrust","Effect":"Deny"' in state
    assert "autoremediate undo " in enforce
    assert "= aws iam put-role-policy --role-name app-deploy-role --policy-name" in enforce


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_every_encryption_function_ends_as_expected(sections: dict[str, str], mode: str) -> None:
    table = sections[f"{mode}-encryption"]
    assert table.startswith("S3_ENCRYPTION_LEVEL=SSE-KMS for the demo (template default SSE-S3)")
    rows = [line.split() for line in table.splitlines()[2:] if not line.startswith("  ")]
    assert {cells[1] for cells in rows} == set(encryption_functions())
    outcomes = encryption_outcomes()
    assert len(rows) == len(outcomes)
    for (event, function), statuses in outcomes.items():
        expected = statuses[0] if mode == "report" else statuses[1]
        assert row(table, event, function)[0] == expected, (event, function)


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_encryption_changes_are_described(sections: dict[str, str], mode: str) -> None:
    table = sections[f"{mode}-encryption"]
    assert row(table, "CreateBucket", "S3BucketEncryption")[1] == [
        "- default encryption none -> SSE-KMS (aws/s3)"
    ]
    assert row(table, "CreateBucket", "S3BucketSecureTransport")[1] == [
        "- no bucket policy: create one that denies requests without TLS"
    ]
    assert row(table, "CreateTopic")[1] == [
        "- encrypt topic with KMS key alias/aws/sns (it had none)"
    ]
    assert row(table, "CreateQueue")[1] == [
        "- encrypt queue at rest with SSE-SQS",
        "- queue policy: deny requests without TLS (aws:SecureTransport false)",
    ]
    assert row(table, "DisableEbsEncryptionByDefault")[1] == [
        "- EBS encryption by default is off in us-east-1: turn it on"
    ]
    echo = row(table, "PutBucketEncryption-own-action")
    assert echo[1] == (
        ["- the echo of our own fix: report mode makes none"] if mode == "report" else ECHO
    )
    table_details = row(table, "CreateTable")[1]
    assert table_details[0] == (
        "- table orders is encrypted with the AWS-owned key: use alias/aws/dynamodb"
    )
    # moto ignores UpdateTable's SSESpecification: only enforce mode calls it, and says so.
    stubbed = [d for d in table_details if "moto ignores this call; stubbed" in d]
    assert len(stubbed) == (1 if mode == "enforce" else 0)


def test_rds_is_report_only_with_manual_steps_in_enforce_mode(sections: dict[str, str]) -> None:
    status, details = row(sections["enforce-encryption"], "CreateDBInstance")
    assert status == "WOULD_REMEDIATE"
    steps = " ".join(details)
    assert details[0] == "- storage is not encrypted and RDS cannot encrypt it in place:"
    assert [d.split(" ", 1)[0] for d in details if d[:1].isdigit()] == [
        "1.",
        "2.",
        "3.",
        "4.",
        "5.",
    ]
    assert "aws rds create-db-snapshot --db-instance-identifier billing-db" in steps
    assert (
        "--target-db-snapshot-identifier billing-db-encrypted --kms-key-id alias/aws/rds" in steps
    )
    assert "restore-db-instance-from-db-snapshot" in steps and "delete-db-instance" in steps
    status, details = row(sections["report-encryption"], "CreateDBInstance")
    assert status == "WOULD_REMEDIATE"
    assert details == [
        "- storage is not encrypted and RDS cannot encrypt it in place: 5 manual steps (listed in"
        " enforce mode)"
    ]


def test_encryption_notifications_name_their_remediator(sections: dict[str, str]) -> None:
    report, enforce = sections["report"], sections["enforce"]
    for i, mode in enumerate(("report", "enforce")):
        count = sum(statuses[i] in NOTIFIED for statuses in encryption_outcomes().values())
        assert f"{count} SNS notifications (others), attributes: mode={mode}" in sections[mode]
    assert "  [WOULD_REMEDIATE] s3_bucket_secure_transport: app-data-bucket (by alice)\n" in report
    assert "  [REMEDIATED] s3_bucket_encryption: app-data-bucket (by alice)\n" in enforce
    assert "  [REMEDIATED] dynamodb_table_encryption: table/orders (by alice)\n" in enforce
    assert "  [WOULD_REMEDIATE] rds_storage_encryption: db:billing-db (by alice)\n" in enforce
    assert "  [REMEDIATED] rds_storage_encryption" not in enforce


def test_live_state_shows_the_encryption_fixes(sections: dict[str, str]) -> None:
    state = sections["state"]
    for line in (
        "bucket app-data-bucket, default encryption: before none, after aws:kms (aws/s3), "
        "bucket key on",
        "bucket app-data-bucket, bucket policy Sids: before (no policy), after "
        "AutoremediateDenyInsecureTransport",
        "topic billing-events, KmsMasterKeyId: before (none), after alias/aws/sns",
        "queue orders, SqsManagedSseEnabled: before false (no KmsMasterKeyId), after true "
        "(no KmsMasterKeyId)",
        "queue orders, queue policy Sids: before (no policy), after "
        "AutoremediateDenyInsecureTransport",
        "table orders, SSE: before (none: AWS-owned key), after KMS ENABLED key/",
        "EBS encryption by default in us-east-1: before off, after on",
        "db instance billing-db: before StorageEncrypted=False, after StorageEncrypted=False",
    ):
        assert "\n" + line in state, line
    assert "moto limit, EBS: no Get/ResetEbsDefaultKmsKeyId" in state


def test_each_function_runs_with_its_own_role_and_the_template_defaults() -> None:
    """OWN_ROLE_ARNS is the role the function's own-action sample event comes from."""
    template = load_template()
    stack = Stack("ledger", "arn:aws:sns:us-east-1:123456789012:topic", "inbox")
    problems: list[str] = []
    for function in functions(template):
        env = function_env(function, template, stack, "enforce", problems)
        assert env["MODE"] == "enforce" and env["LEDGER_TABLE"] == "ledger"
        [own] = (EVENTS / function.handler_module).glob("*-own-action.json")
        issuer = load_event(own.stem, function.handler_module)["detail"]["userIdentity"]
        assert env["OWN_ROLE_ARNS"] == issuer["sessionContext"]["sessionIssuer"]["arn"]
        if "ENCRYPTION_KMS_KEY_ARN" in function.environment:
            assert env["ENCRYPTION_KMS_KEY_ARN"] == ""  # the parameter's default
        if function.handler_module == "s3_bucket_encryption":
            assert env["S3_ENCRYPTION_LEVEL"] == "SSE-KMS"  # the demo's one departure
        if function.handler_module == "sqs_queue_encryption":
            assert env["SQS_ENCRYPTION_LEVEL"] == "SSE-SQS"
    assert problems == []


def test_manual_steps_are_split_from_their_summary() -> None:
    detail = "cannot fix in place: 1. snapshot; 2. copy; it; 3. restore"
    assert manual_steps(["other", detail]) == ["1. snapshot", "2. copy; it", "3. restore"]
    assert manual_steps(["no steps here"]) == []


TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Mode: {Type: String, Default: report}
Globals:
  Function:
    Handler: shared.handler
    Environment:
      Variables:
        MODE: !Ref Mode
        TOPIC_ARN: !GetAtt Topic.TopicArn
Resources:
  Topic:
    Type: AWS::SNS::Topic
  IamFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: iam_policy_least_privilege.handler
      Environment:
        Variables:
          WILDCARD_LEVEL: !If [Strict, any, service]
      Events:
        CloudTrail:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.iam]
              detail-type: [AWS API Call via CloudTrail]
              detail:
                eventName: [PutRolePolicy]
                errorCode: [{exists: false}]
        Nightly:
          Type: Schedule
          Properties: {Schedule: rate(1 day)}
  ConfigFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Config:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.config]
              detail:
                configurationItem:
                  resourceType: [{prefix: "AWS::IAM::"}]
"""


@pytest.fixture
def fixture_template(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return load_template(path)


def test_functions_read_handlers_patterns_and_environment(fixture_template: dict[str, Any]) -> None:
    iam, config = functions(fixture_template)
    assert (iam.logical_id, iam.handler_module) == ("IamFunction", "iam_policy_least_privilege")
    assert (config.logical_id, config.handler_module) == ("ConfigFunction", "shared")
    assert len(iam.patterns) == 1  # the Schedule event is no EventBridge pattern
    assert iam.environment == {
        "MODE": {"Ref": "Mode"},
        "TOPIC_ARN": {"Fn::GetAtt": ["Topic", "TopicArn"]},
        "WILDCARD_LEVEL": {"Fn::If": ["Strict", "any", "service"]},
    }


def test_routes_follow_the_patterns(fixture_template: dict[str, Any]) -> None:
    def reached(name: str) -> list[str]:
        return [f.logical_id for f in routes(fixture_template, load_event(name))]

    assert reached("PutRolePolicy") == ["IamFunction"]
    assert reached("PutRolePolicy-failed-call") == []  # errorCode exists
    assert reached("PutUserPolicy") == []  # not in eventName
    assert reached("Config-Role") == ["ConfigFunction"]
    assert routes(functions(fixture_template), load_event("Config-Policy"))[0].logical_id == (
        "ConfigFunction"
    )


def test_matches_is_eventbridge_matching() -> None:
    event = load_event("PutRolePolicy")
    assert matches({"detail": {"eventName": [{"prefix": "Put"}]}}, event)
    assert not matches({"detail": {"eventName": [{"anything-but": "PutRolePolicy"}]}}, event)
    assert not matches({"detail": {"errorCode": [{"exists": True}]}}, event)


def test_a_template_without_handler_or_resources_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties: {}\n")
    with pytest.raises(TemplateError, match="Handler"):
        functions(load_template(path))
    path.write_text("Description: nothing\n")
    with pytest.raises(TemplateError, match="Resources"):
        load_template(path)
