"""core.outcome: statuses, calls as data (IAM action, round trip, CLI line) and changes."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest
from botocore import xform_name
from botocore.session import get_session

from core.outcome import Call, Change, Mode, Outcome, Status

ROLE = "app-deploy-role"
ROLE_ARN = f"arn:aws:iam::123456789012:role/{ROLE}"
BEFORE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
    ],
}
AFTER = {"Version": "2012-10-17", "Statement": [BEFORE["Statement"][1]]}


def put(document: dict[str, Any]) -> Call:
    return Call(
        "iam",
        "put_role_policy",
        {"RoleName": ROLE, "PolicyName": "deploy", "PolicyDocument": json.dumps(document)},
    )


def test_status_values_are_the_contract() -> None:
    assert {s.value for s in Status} == {
        "COMPLIANT",
        "WOULD_REMEDIATE",
        "REMEDIATED",
        "FAILED",
        "SKIPPED",
        "EXEMPT",
    }
    assert {m.value for m in Mode} == {"report", "enforce"}
    assert Status.REMEDIATED == "REMEDIATED"  # StrEnum: serialises as its value
    assert json.dumps({"s": Status.FAILED}) == '{"s": "FAILED"}'


def test_outcome_defaults() -> None:
    outcome = Outcome(Status.COMPLIANT, "r", ROLE_ARN)
    assert (outcome.reason, outcome.changes, outcome.error_code) == ("", (), "")
    assert (outcome.transient, outcome.outcome_id, outcome.quiet) == (False, "", False)


# --- Call.action ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "action"),
    [
        ("iam", "put_role_policy", "iam:PutRolePolicy"),
        ("iam", "create_policy_version", "iam:CreatePolicyVersion"),
        ("iam", "update_assume_role_policy", "iam:UpdateAssumeRolePolicy"),
        ("iam", "detach_role_policy", "iam:DetachRolePolicy"),
        ("iam", "delete_policy_version", "iam:DeletePolicyVersion"),
        ("iam", "set_default_policy_version", "iam:SetDefaultPolicyVersion"),
        ("iam", "get_role", "iam:GetRole"),
        ("dynamodb", "put_item", "dynamodb:PutItem"),
        ("sns", "publish", "sns:Publish"),
    ],
)
def test_call_action(service: str, operation: str, action: str) -> None:
    assert Call(service, operation).action == action


def test_call_action_agrees_with_botocore_for_every_iam_write_we_use() -> None:
    # The boto3 method name is xform_name(OperationName); the IAM action is the OperationName.
    model = get_session().get_service_model("iam")
    for name in (
        "PutRolePolicy",
        "PutUserPolicy",
        "PutGroupPolicy",
        "DeleteRolePolicy",
        "AttachRolePolicy",
        "DetachUserPolicy",
        "DetachGroupPolicy",
        "CreatePolicyVersion",
        "UpdateAssumeRolePolicy",
        "TagRole",
    ):
        assert name in model.operation_names
        assert Call("iam", xform_name(name)).action == f"iam:{name}"


@pytest.mark.parametrize(
    ("service", "operation", "action"),
    [
        ("s3", "put_bucket_encryption", "s3:PutEncryptionConfiguration"),
        ("s3", "put_public_access_block", "s3:PutBucketPublicAccessBlock"),
        ("apigatewayv2", "update_stage", "apigateway:PATCH"),
    ],
)
def test_call_action_where_iam_names_differ(service: str, operation: str, action: str) -> None:
    """Where IAM names the permission differently, the remediator says so with iam_action."""
    derived = Call(service, operation).action
    assert derived != action  # the naive derivation would be wrong here...
    assert Call(service, operation, {}, iam_action=action).action == action  # ...so it is explicit


# --- Call round trip --------------------------------------------------------------------------


def test_call_to_dict_from_dict_round_trip() -> None:
    call = put(BEFORE)
    data = call.to_dict()
    assert data == {
        "service": "iam",
        "operation": "put_role_policy",
        "params": {"RoleName": ROLE, "PolicyName": "deploy", "PolicyDocument": json.dumps(BEFORE)},
    }
    assert Call.from_dict(data) == call
    # Through JSON, as the ledger stores it.
    assert Call.from_dict(json.loads(json.dumps(data))) == call


def test_call_to_dict_copies_params() -> None:
    call = Call("iam", "detach_role_policy", {"RoleName": ROLE})
    data = call.to_dict()
    data["params"]["RoleName"] = "other"
    assert call.params["RoleName"] == ROLE


def test_call_from_dict_without_params() -> None:
    assert Call.from_dict({"service": "iam", "operation": "list_roles"}) == Call(
        "iam", "list_roles", {}
    )


# --- Call.cli ---------------------------------------------------------------------------------


def test_cli_renders_a_usable_iam_command() -> None:
    call = put(BEFORE)
    line = call.cli()
    assert shlex.split(line) == [
        "aws",
        "iam",
        "put-role-policy",
        "--role-name",
        ROLE,
        "--policy-name",
        "deploy",
        "--policy-document",
        json.dumps(BEFORE),
    ]


def test_cli_option_names_are_those_of_the_aws_cli() -> None:
    # The AWS CLI names each option xform_name(member, "-") after the API member name.
    call = Call(
        "iam",
        "attach_role_policy",
        {"RoleName": ROLE, "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )
    words = shlex.split(call.cli())
    assert words[:3] == ["aws", "iam", "attach-role-policy"]
    assert words[3::2] == [f"--{xform_name(k, '-')}" for k in call.params]
    assert words[4::2] == list(call.params.values())


def test_cli_keeps_multi_line_documents_in_one_argument() -> None:
    pretty = json.dumps(BEFORE, indent=4)
    call = Call("iam", "update_assume_role_policy", {"RoleName": ROLE, "PolicyDocument": pretty})
    assert shlex.split(call.cli())[-1] == pretty


def test_cli_without_params() -> None:
    assert Call("iam", "list_roles").cli() == "aws iam list-roles"


def test_cli_renders_structures_as_json() -> None:
    tags = [{"Key": "team", "Value": "payments"}]
    call = Call("iam", "tag_role", {"RoleName": ROLE, "Tags": tags})
    words = shlex.split(call.cli())
    assert words[:5] == ["aws", "iam", "tag-role", "--role-name", ROLE]
    assert words[5] == "--tags"
    assert json.loads(words[6]) == tags


def test_cli_numbers_are_json() -> None:
    words = shlex.split(Call("iam", "list_roles", {"MaxItems": 5}).cli())
    assert words[3:] == ["--max-items", "5"]


def test_cli_quotes_values_with_single_quotes() -> None:
    document = json.dumps({"Statement": [{"Sid": "o'brien", "Effect": "Deny"}]})
    call = Call("iam", "put_role_policy", {"PolicyDocument": document})
    assert shlex.split(call.cli())[-1] == document


def test_cli_quotes_shell_metacharacters() -> None:
    hostile = "x; rm -rf / $(whoami) `id` \\ end"
    assert shlex.split(Call("iam", "get_role", {"RoleName": hostile}).cli())[-1] == hostile


@pytest.mark.parametrize(
    ("value", "flag"), [(True, "--set-as-default"), (False, "--no-set-as-default")]
)
def test_cli_boolean_flags(value: bool, flag: str) -> None:
    call = Call("iam", "create_policy_version", {"PolicyArn": "arn:p", "SetAsDefault": value})
    assert shlex.split(call.cli())[3:] == ["--policy-arn", "arn:p", flag]


@pytest.mark.parametrize(
    ("member", "option"),
    [
        # As the AWS CLI spells them (e.g. aws dynamodb update-table --sse-specification).
        ("SSESpecification", "--sse-specification"),
        ("WebACLArn", "--web-acl-arn"),
        ("KMSMasterKeyID", "--kms-master-key-id"),
        ("DBInstanceIdentifier", "--db-instance-identifier"),
        ("PolicyArn", "--policy-arn"),
    ],
)
def test_cli_option_names_with_acronyms(member: str, option: str) -> None:
    words = shlex.split(Call("x", "y", {member: "v"}).cli())
    assert words[3:] == [option, "v"]


@pytest.mark.parametrize("member", ["SSESpecification", "WebACLArn"])
def test_cli_boolean_flag_with_acronyms(member: str) -> None:
    flag = xform_name(member, "-")
    assert shlex.split(Call("x", "y", {member: False}).cli())[3:] == [f"--no-{flag}"]


def test_cli_for_s3_uses_s3api() -> None:
    call = Call("s3", "put_bucket_encryption", {"Bucket": "b"})
    assert shlex.split(call.cli())[:5] == ["aws", "s3api", "put-bucket-encryption", "--bucket", "b"]


@pytest.mark.parametrize("service", ["s3control", "iam", "apigatewayv2", "wafv2"])
def test_cli_other_services_keep_their_name(service: str) -> None:
    assert Call(service, "get_thing").cli() == f"aws {service} get-thing"


# --- Change.to_dict ---------------------------------------------------------------------------


def test_change_to_dict() -> None:
    undo = put(BEFORE)
    change = Change("remove statement Admin", ROLE_ARN, BEFORE, AFTER, put(AFTER), (undo,))
    data = change.to_dict()
    assert data == {
        "summary": "remove statement Admin",
        "resource": ROLE_ARN,
        "before": BEFORE,
        "after": AFTER,
        "call": put(AFTER).to_dict(),
        "manual": False,
        "undo": [undo.to_dict()],
        "undo_cli": [undo.cli()],
    }
    assert json.loads(json.dumps(data)) == data  # what goes to the ledger and SNS
    assert Call.from_dict(data["undo"][0]) == undo


def test_change_without_undo_and_with_none_states() -> None:
    change = Change("delete policy", ROLE_ARN, BEFORE, None, Call("iam", "delete_role_policy"))
    data = change.to_dict()
    assert (data["after"], data["undo"], data["undo_cli"]) == (None, [], [])


def test_change_with_several_undo_calls_keeps_their_order() -> None:
    first = Call("iam", "create_policy_version", {"PolicyArn": "arn:p", "PolicyDocument": "{}"})
    second = Call("iam", "attach_role_policy", {"RoleName": ROLE, "PolicyArn": "arn:p"})
    data = Change("detach", ROLE_ARN, "arn:p", None, second, (first, second)).to_dict()
    assert [u["operation"] for u in data["undo"]] == ["create_policy_version", "attach_role_policy"]
    assert [c.split()[2] for c in data["undo_cli"]] == [
        "create-policy-version",
        "attach-role-policy",
    ]
