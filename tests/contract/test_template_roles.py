"""The functions' roles, on the transformed template, in both modes and both cases of
EncryptionKmsKeyArn: least privilege, report mode cannot write, own-account resources only."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pytest

from tests.contract.template_model import (
    INFRASTRUCTURE_ACTIONS,
    KEYS,
    MODES,
    STAR_RESOURCE_ACTIONS,
    allow_statements,
    allowed_actions,
    built,
    function,
    function_ids,
    function_role,
    is_kms,
    on_aws_managed_alias_only,
    on_stack_keys_only,
    policy_statements,
    remediator,
    resource_of,
)
from tools.check_template import (
    KEY_PARAMETER,
    role_findings,
    role_statements,
)
from tools.conditions import as_list
from tools.routing import Function

# ------------------------------------------------------------------------------------ roles


@KEYS
@MODES
def test_no_wildcard_action_in_any_role(mode: str, key: str) -> None:
    assert role_findings(built(mode, key=key)) == []


@KEYS
@MODES
def test_no_wildcard_action_in_any_policy(mode: str, key: str) -> None:
    """Key and queue policies too: least privilege applies to us first."""
    wildcards = [
        statement.get("Sid", statement)
        for statement in policy_statements(built(mode, key=key)["Resources"])
        if "NotAction" in statement or any("*" in a for a in as_list(statement["Action"]))
    ]
    assert wildcards == []


def assert_holds(resolved: dict[str, Any], f: Function, wanted: set[str], key: str) -> None:
    """With a baseline key the role holds every action in `wanted`. Without one it holds every
    non-KMS action of `wanted`, and KMS only on this stack's own keys (the infrastructure's) or
    on keys asked for by an AWS-managed alias: there is no customer key to use."""
    role = function_role(resolved, f)
    held = allowed_actions(resolved, role)
    if key:
        assert wanted - held == set()
        return
    assert {a for a in wanted if not is_kms(a)} - held == set()
    kms_elsewhere = [
        statement.get("Sid", statement)
        for statement in allow_statements(resolved, role)
        if any(is_kms(a) for a in as_list(statement["Action"]))
        and not on_stack_keys_only(resolved, statement)
        and not on_aws_managed_alias_only(statement)
    ]
    assert kms_elsewhere == [], "KMS granted without a baseline key"


@KEYS
@pytest.mark.parametrize("logical_id", function_ids())
def test_report_mode_role_reads_and_cannot_write(logical_id: str, key: str) -> None:
    f = function(logical_id)
    resolved = built("report", key=key)
    assert_holds(resolved, f, set(remediator(f).read_actions), key)
    held = allowed_actions(resolved, function_role(resolved, f))
    assert held & set(remediator(f).write_actions) == set()


@KEYS
@pytest.mark.parametrize("logical_id", function_ids())
def test_enforce_mode_role_can_write(logical_id: str, key: str) -> None:
    f = function(logical_id)
    wanted = {*remediator(f).read_actions, *remediator(f).write_actions}
    assert_holds(built("enforce", key=key), f, wanted, key)


@KEYS
@MODES
@pytest.mark.parametrize("logical_id", function_ids())
def test_role_holds_nothing_unlisted(logical_id: str, mode: str, key: str) -> None:
    f = function(logical_id)
    resolved = built(mode, key=key)
    role = function_role(resolved, f)
    listed = {*remediator(f).read_actions, *remediator(f).write_actions, *INFRASTRUCTURE_ACTIONS}
    actions = {
        action
        for name, statement in role_statements(resolved)
        if name == role
        for action in as_list(statement["Action"])
    }
    assert actions - listed == set()


# An ARN in Fn::Sub: a ${...} variable (AWS::Region has colons of its own) is one piece of a field.
_FIELD = r"((?:\$\{[^}]*\}|[^:$])*)"
ARN = re.compile(rf"arn:\$\{{AWS::Partition\}}:([a-z0-9-]+):{_FIELD}:{_FIELD}:(.+)")
ACCOUNT_ID = "${AWS::AccountId}"
AWS_MANAGED_POLICIES = "arn:${AWS::Partition}:iam::aws:policy/*"


def in_own_account(statement: Mapping[str, Any]) -> bool:
    """Whether S3 resources are limited to this account's buckets (bucket ARNs carry no
    account: s3:ResourceAccount is what scopes them)."""
    condition = statement.get("Condition", {})
    equals = condition.get("StringEquals", {}) if isinstance(condition, Mapping) else {}
    value = as_list(equals.get("s3:ResourceAccount", []))
    return value in ([{"Ref": "AWS::AccountId"}], [{"Fn::Sub": ACCOUNT_ID}])


def unscoped(
    resolved: dict[str, Any], f: Function, statement: Mapping[str, Any], resource: Any, key: str
) -> str | None:
    """Why `resource` of an Allow statement is not scoped to this account (None: it is)."""
    actions = set(as_list(statement["Action"]))
    if resource == "*":
        extra = actions - STAR_RESOURCE_ACTIONS
        return f"{sorted(extra)} on '*'" if extra else None
    if resource == {"Ref": KEY_PARAMETER}:
        if not key:
            return "the baseline key, which is not set (condition HasEncryptionKey)"
        other = sorted(a for a in actions if not is_kms(a))
        return f"{other} on the baseline key" if other else None
    if isinstance(resource, dict) and set(resource) == {"Fn::Sub"}:
        text = resource["Fn::Sub"]
        if not isinstance(text, str):
            return "Fn::Sub with its own variables (they could stand for another account)"
        if text == AWS_MANAGED_POLICIES:  # readable by anyone, changeable by nobody
            writes = sorted(actions - set(remediator(f).read_actions))
            return f"{writes} on AWS managed policies" if writes else None
        arn = ARN.fullmatch(text)
        if not arn:
            return f"{text} is not an ARN of the stack's partition"
        service, region, account, rest = arn.groups()
        if service == "s3" and region == account == "":
            return None if in_own_account(statement) else "bucket ARN without s3:ResourceAccount"
        if service == "apigateway" and account == "" and region == "${AWS::Region}":
            # API Gateway's public resources (/restapis/..., /domainnames/...) have ARNs without
            # an account: they name only the caller's own account's resources.
            return None if rest.startswith("/") else f"{text} is not an API Gateway path"
        if account != ACCOUNT_ID:
            return f"{text} is not in this account"
        if service == "kms" and "*" in rest and not on_aws_managed_alias_only(statement):
            return f"{text}: any key of the account, not only an AWS-managed alias"
        return None
    if isinstance(resource, dict) and len(resource) == 1 and set(resource) <= {"Ref", "Fn::GetAtt"}:
        name = resource_of(resource)
        return None if name in resolved["Resources"] else f"{name} is not a resource of the stack"
    return f"{resource!r} is not scoped"


@KEYS
@MODES
@pytest.mark.parametrize("logical_id", function_ids())
def test_role_grants_on_own_account_resources_only(logical_id: str, mode: str, key: str) -> None:
    """Every resource is this stack's, this account's (by ARN, or by s3:ResourceAccount for
    bucket ARNs), the baseline key (only when it is set), any key only when asked for by an
    AWS-managed alias, or AWS managed IAM policies (read only). "*" only for the actions AWS
    does not scope by resource."""
    f = function(logical_id)
    resolved = built(mode, key=key)
    problems = []
    for statement in allow_statements(resolved, function_role(resolved, f)):
        if "NotResource" in statement:
            problems.append(f"{statement.get('Sid')}: NotResource")
        for resource in as_list(statement.get("Resource", [])):
            problem = unscoped(resolved, f, statement, resource, key)
            if problem:
                problems.append(f"{statement.get('Sid')}: {problem}")
    assert problems == []


@KEYS
@MODES
def test_own_roles_are_protected_by_arn_never_by_path(mode: str, key: str) -> None:
    """Issue 7 item 5: a Deny on `role/autoremediate/*` also shielded any role that anyone
    creates under that path (with AdministratorAccess, it could not be fixed). The Deny names
    exactly the stack's roles."""
    resolved = built(mode, key=key)
    roles = {n for n, r in resolved["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    denies = [
        statement
        for _, statement in role_statements(resolved)
        if statement.get("Effect") == "Deny" and "iam:PutRolePolicy" in as_list(statement["Action"])
    ]
    assert denies, "the IAM remediator's role lost its Deny on changing our own roles"
    for statement in denies:
        resources = as_list(statement["Resource"])
        assert all(isinstance(r, dict) and set(r) == {"Fn::GetAtt"} for r in resources)
        assert {resource_of(r) for r in resources} == roles
    assert "role/autoremediate/" not in json.dumps(resolved["Resources"])


@KEYS
@pytest.mark.parametrize("logical_id", function_ids())
def test_writes_hold_only_for_calls_from_the_function_itself(logical_id: str, key: str) -> None:
    """Issue 7 item 4: the role's trust lets any Lambda function of the account assume it, so a
    write holds only when lambda:SourceFunctionArn is this function (calls that a service
    forwards, kms:ViaService, carry none and keep their own conditions)."""
    f = function(logical_id)
    resolved = built("enforce", key=key)
    name = resolved["Resources"][logical_id]["Properties"]["FunctionName"]
    assert name == {"Fn::Sub": f"${{AWS::StackName}}-{f.handler_module.replace('_', '-')}"}
    arn = {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
        + name["Fn::Sub"]
    }
    writes = set(remediator(f).write_actions)
    unpinned = [
        statement.get("Sid")
        for statement in allow_statements(resolved, function_role(resolved, f))
        if writes & set(as_list(statement["Action"]))
        and statement.get("Condition", {}).get("ArnEquals", {}).get("lambda:SourceFunctionArn")
        != arn
        and "kms:ViaService" not in json.dumps(statement.get("Condition", {}))
    ]
    assert unpinned == []
