"""Where the command acts: the stack's outputs, samconfig.toml, the ledger's tag; and status."""

from __future__ import annotations

import json

import pytest

from autoremediate_cli.context import Context, aws_context, samconfig_stack
from autoremediate_cli.main import main
from autoremediate_cli.output import CommandError
from tools.scenario import ACCOUNT, REGION

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
         "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip


def deploy(aws, name: str = "autoremediate", max_days: str = "30") -> None:
    """A stack as `sam deploy` leaves it, the parts the command reads: ledger, topic, outputs,
    ExemptionMaxDays, and one function with its MODE."""
    role = aws("iam").create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(TRUST))
    template = {
        "Parameters": {"ExemptionMaxDays": {"Type": "Number", "Default": 90},
                       "UndoExemptionDays": {"Type": "Number", "Default": 7}},
        "Resources": {
            "LedgerTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "outcome_id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "outcome_id", "KeyType": "HASH"}]}},
            "NotificationTopic": {"Type": "AWS::SNS::Topic"},
            "SnsTopicEncryptionFunction": {"Type": "AWS::Lambda::Function", "Properties": {
                "FunctionName": f"{name}-sns-topic-encryption", "Runtime": "python3.13",
                "Handler": "index.handler", "Role": role["Role"]["Arn"],
                "Code": {"ZipFile": "def handler(event, context):\n    return None\n"},
                "Environment": {"Variables": {"MODE": "enforce"}}}},
        },
        "Outputs": {
            "LedgerTableName": {"Value": {"Ref": "LedgerTable"}},
            "NotificationTopicArn": {"Value": {"Ref": "NotificationTopic"}},
            "UndoExemptionDays": {"Value": {"Ref": "UndoExemptionDays"}},
        },
    }  # fmt: skip
    aws("cloudformation").create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": "ExemptionMaxDays", "ParameterValue": max_days},
            {"ParameterKey": "UndoExemptionDays", "ParameterValue": "14"},
        ],
    )


def test_samconfig_names_the_default_stack(tmp_path):
    assert samconfig_stack(tmp_path) == "autoremediate"  # none: the default
    (tmp_path / "samconfig.toml").write_text(
        'version = 0.1\n[default.deploy.parameters]\nstack_name = "ops-remediate"\n'
    )
    assert samconfig_stack(tmp_path) == "ops-remediate"
    (tmp_path / "samconfig.toml").write_text("not = [toml")
    assert samconfig_stack(tmp_path) == "autoremediate"


def test_the_stack_outputs_name_the_ledger_and_the_undo_days(aws):
    deploy(aws, max_days="10")

    found = aws_context(None, REGION, "autoremediate", None)

    outputs = aws("cloudformation").describe_stacks(StackName="autoremediate")["Stacks"][0]
    table = next(o for o in outputs["Outputs"] if o["OutputKey"] == "LedgerTableName")
    assert found.table == table["OutputValue"]
    assert found.topic_arn.startswith(f"arn:aws:sns:{REGION}:{ACCOUNT}:")
    assert (found.undo_days, found.max_days) == (14, 10)
    assert found.exemption_days == 10  # never beyond ExemptionMaxDays


def test_an_unknown_stack_is_a_clear_error(aws):
    with pytest.raises(CommandError, match=r"stack nope: .*--stack.*--table"):
        aws_context(None, REGION, "nope", None)


def test_the_ledger_table_names_its_stack_by_tag(aws):
    deploy(aws, "ops")
    aws("dynamodb").create_table(
        TableName="ledger", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "outcome_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "outcome_id", "KeyType": "HASH"}],
        Tags=[{"Key": "aws:cloudformation:stack-name", "Value": "ops"}],
    )  # fmt: skip
    found = aws_context(None, REGION, None, "ledger")
    assert (found.table, found.stack, found.undo_days) == ("ledger", "ops", 14)
    with pytest.raises(CommandError, match="no ledger table missing"):
        aws_context(None, REGION, None, "missing")


def test_status_shows_each_functions_mode(aws, capsys):
    deploy(aws)
    ctx = aws_context(None, REGION, "autoremediate", None)

    assert main(["status", "--output", "json"], ctx=ctx) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["stack"] == "autoremediate"
    assert shown["functions"] == [
        {"function": "autoremediate-sns-topic-encryption",
         "logical_id": "SnsTopicEncryptionFunction", "mode": "enforce"}
    ]  # fmt: skip
    assert main(["status"], ctx=ctx) == 0
    assert "autoremediate-sns-topic-encryption  enforce" in capsys.readouterr().out


def test_status_without_a_stack_exits_1(aws, capsys):
    assert main(["status"], ctx=Context(aws, "ledger")) == 1
    assert "needs the stack" in capsys.readouterr().err
