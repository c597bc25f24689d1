"""The ledger accepts item writes only from our functions and UndoOperatorArns (issue 7 item 7).

Undo replays what a ledger entry says with an administrator's rights, so whoever may write an
entry could have that administrator's undo run it. The table's resource policy denies item
writes to every other principal; these tests read the policy as CloudFormation deploys it and
evaluate it for our roles, an administrator and a named undo operator (moto does not enforce
DynamoDB resource policies, so the evaluation is the check).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from typing import Any

import pytest

from tests.contract.template_model import MODES, resource_of, template
from tools.check_template import resolve, role_statements, transform
from tools.conditions import as_list

ACCOUNT = "123456789012"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_1a2b"
OPERATORS = f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_*"
WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
          "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate")  # fmt: skip
REGIONS = pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])


def deployed(mode: str, region: str, operators: str = "") -> dict[str, Any]:
    parameters = {"Mode": mode, "UndoOperatorArns": operators.split(",")}
    return resolve(transform(mode, template(), region), parameters, region=region)


def role_arns(resolved: Mapping[str, Any]) -> dict[str, str]:
    """Each role's logical id -> a stand-in for its ARN (what GetAtt Arn resolves to)."""
    return {
        name: f"arn:aws:iam::{ACCOUNT}:role/autoremediate/autoremediate-{name}-X1"
        for name, r in resolved["Resources"].items()
        if r["Type"] == "AWS::IAM::Role"
    }


def arn_values(node: Any, arns: Mapping[str, str], parameters: Mapping[str, Any]) -> list[str]:
    """A condition value as principal ARNs: GetAtt of a role, a parameter's list, a string."""
    if isinstance(node, list):
        return [arn for item in node for arn in arn_values(item, arns, parameters)]
    if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
        return [arns[resource_of(node)]]
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return list(parameters[node["Ref"]])
    assert isinstance(node, str), node
    return [node]


def matches(operator: str, value: str, patterns: list[str]) -> bool:
    """ArnEquals/ArnLike and their Not forms, for one principal ARN."""
    like = operator.startswith("ArnLike") or operator.startswith("ArnNotLike")
    hit = any(fnmatch.fnmatchcase(value, p) if like else value == p for p in patterns)
    return not hit if "Not" in operator else hit


def denied(resolved: Mapping[str, Any], principal: str, action: str, operators: str = "") -> bool:
    """Whether the table's resource policy denies `action` to `principal` (its only effects are
    Deny; every condition operator of a statement must hold, as IAM evaluates them)."""
    arns, parameters = role_arns(resolved), {"UndoOperatorArns": operators.split(",")}
    policy = resolved["Resources"]["LedgerTable"]["Properties"]["ResourcePolicy"]
    for statement in as_list(policy["PolicyDocument"]["Statement"]):
        assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
        assert statement["Resource"] == "*"
        if action not in as_list(statement["Action"]):
            continue
        conditions = statement.get("Condition", {})
        if all(
            matches(op, principal, arn_values(keys["aws:PrincipalArn"], arns, parameters))
            for op, keys in conditions.items()
        ):
            return True
    return False


def ledger_roles(resolved: Mapping[str, Any]) -> set[str]:
    """The roles LedgerAccessPolicy lets write the ledger."""
    properties = resolved["Resources"]["LedgerAccessPolicy"]["Properties"]
    return {resource_of(role) for role in properties["Roles"]}


@MODES
@REGIONS
def test_every_function_writes_the_ledger_and_nobody_else(mode: str, region: str) -> None:
    resolved = deployed(mode, region)
    arns = role_arns(resolved)
    functions = {
        resource_of(r["Properties"]["Role"])
        for r in resolved["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "LEDGER_TABLE" in r["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert functions and ledger_roles(resolved) == functions
    for role in functions:
        assert not any(denied(resolved, arns[role], write) for write in WRITES), role
    for outsider in (ADMIN, OPERATOR, f"arn:aws:iam::{ACCOUNT}:root"):
        assert all(denied(resolved, outsider, write) for write in WRITES), outsider
    # A role of the same path and stack name that someone else created is an outsider too.
    lookalike = f"arn:aws:iam::{ACCOUNT}:role/autoremediate/autoremediate-Mallory-X1"
    assert denied(resolved, lookalike, "dynamodb:PutItem")
    # Reads stay with IAM: `autoremediate history` and `show` need no listing here.
    assert not denied(resolved, ADMIN, "dynamodb:Query")


@MODES
@REGIONS
def test_undo_operators_may_write_the_ledger(mode: str, region: str) -> None:
    resolved = deployed(mode, region, operators=OPERATORS)
    assert not any(denied(resolved, OPERATOR, write, OPERATORS) for write in WRITES)
    assert all(denied(resolved, ADMIN, write, OPERATORS) for write in WRITES)
    for arn in role_arns(resolved).values():
        assert not denied(resolved, arn, "dynamodb:PutItem", OPERATORS)


@MODES
def test_our_functions_never_change_the_table_itself(mode: str) -> None:
    """The DynamoDB remediator may UpdateTable any table: never this one. CloudFormation,
    acting as the deployer, still may (a Deny on it would lock the stack)."""
    resolved = deployed(mode, "us-east-1")
    for role, arn in role_arns(resolved).items():
        for change in (
            "dynamodb:UpdateTable",
            "dynamodb:DeleteTable",
            "dynamodb:PutResourcePolicy",
        ):
            assert denied(resolved, arn, change), (role, change)
    assert not denied(resolved, ADMIN, "dynamodb:UpdateTable")


def test_no_role_names_the_table_in_its_own_policies() -> None:
    """The table's policy names the roles: a role whose inline policy named the table would be
    a circular dependency, which CloudFormation refuses."""
    resolved = deployed("enforce", "us-east-1")
    for name, resource in resolved["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role":
            assert "LedgerTable" not in json.dumps(resource["Properties"]), name
    ledger_statements = [
        (role, s) for role, s in role_statements(resolved) if "LedgerTable" in json.dumps(s)
    ]
    assert {role for role, _ in ledger_statements} == ledger_roles(resolved)
    functions = [r for r in resolved["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    for function in functions:  # not invoked before it may write the ledger
        if "LEDGER_TABLE" in function["Properties"].get("Environment", {}).get("Variables", {}):
            assert "LedgerAccessPolicy" in as_list(function.get("DependsOn", []))
