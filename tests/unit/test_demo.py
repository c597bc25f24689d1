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

from tools.routing import TemplateError, functions, load_template, matches, routes
from tools.scenario import load_event

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "tools/demo.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def sections(demo: subprocess.CompletedProcess[str]) -> dict[str, str]:
    out = demo.stdout
    report, enforce, state = (
        out.index("=== REPORT mode"),
        out.index("=== ENFORCE mode"),
        out.index("=== the fix is real"),
    )
    assert report < enforce < state
    return {"report": out[report:enforce], "enforce": out[enforce:state], "state": out[state:]}


def row(section: str, event: str) -> tuple[str, list[str]]:
    """(status, detail lines) of the first table row for `event`."""
    lines = section.splitlines()
    for i, line in enumerate(lines):
        if line.split(" ", 1)[0] == event:
            details = []
            for following in lines[i + 1 :]:
                if not following.startswith("  "):
                    break
                details.append(following.strip())
            return line.split()[-1], details
    raise AssertionError(f"no row for {event} in:\n{section}")


def test_demo_succeeds_quietly_and_fits_a_screen(demo: subprocess.CompletedProcess[str]) -> None:
    assert demo.returncode == 0, demo.stderr
    assert "UNEXPECTED" not in demo.stderr
    assert '"level"' not in demo.stdout  # no Powertools JSON logs in the table
    lines = demo.stdout.splitlines()
    assert len(lines) <= 130
    assert max(len(line) for line in lines) <= 120


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
    assert "WOULD_REMEDIATE" not in sections["enforce"]
    # AWS Config's later look finds the fixed role compliant: quiet, no notification.
    assert row(sections["enforce"], "Config-Role") == ("COMPLIANT", [])


@pytest.mark.parametrize("mode", ["report", "enforce"])
def test_failed_call_is_filtered_and_own_action_skipped(
    sections: dict[str, str], mode: str
) -> None:
    status, details = row(sections[mode], "PutRolePolicy-failed-call")
    assert status == "(filtered)"
    assert details == ["- filtered by the EventBridge pattern (errorCode AccessDenied)"]
    status, details = row(sections[mode], "PutRolePolicy-own-action")
    assert status == "SKIPPED"
    assert "loop guard" in details[0]


def test_notifications_are_printed_with_their_attributes(sections: dict[str, str]) -> None:
    report, enforce = sections["report"], sections["enforce"]
    assert "remediator=iam_policy_least_privilege" in report
    assert "mode=report" in report and "status=WOULD_REMEDIATE" in report
    assert "severity=HIGH" in report
    assert "mode=enforce" in enforce and "status=REMEDIATED" in enforce
    assert "[REMEDIATED] iam_policy_least_privilege: role/app-deploy-role (by alice)" in enforce
    assert "[WOULD_REMEDIATE] iam_policy_least_privilege: role/open-trust-role (by alice)" in report
    # Quiet outcomes publish nothing: no notification mentions the loop guard's skip.
    assert "[SKIPPED]" not in report + enforce


def test_live_state_shows_the_fix_and_the_undo(sections: dict[str, str]) -> None:
    state, enforce = sections["state"], sections["enforce"]
    before, after = state.split("  after ", 1)[0], state.split("  after ", 1)[1]
    assert '{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"}' in before
    assert '"Action":"*"' not in after.split("role/app-deploy-role, attached")[0]
    assert '"Action":["s3:GetObject"]' in after  # the specific grant stays
    assert "organizations:LeaveOrganization" in after  # the Deny stays
    assert "attached policies: before AdministratorAccess, after (none)" in state
    assert '"Sid":"AutoremediateNoOpenTrust","Effect":"Deny"' in state
    assert "python -m core.undo " in enforce
    assert "= aws iam put-role-policy --role-name app-deploy-role --policy-name" in enforce


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
