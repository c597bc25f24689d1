"""Read the live IAM state of the scenario in moto, as plain data, to compare before and after."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

POLICY_ARN = "arn:aws:iam::123456789012:policy/app-wildcard-policy"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


def inline(aws: Any, kind: str, name: str, policy: str) -> Any:
    """An inline policy document, or None when it does not exist."""
    try:
        return getattr(aws("iam"), f"get_{kind}_policy")(
            **{f"{kind.title()}Name": name, "PolicyName": policy}
        )["PolicyDocument"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchEntity"
        return None


def attached(aws: Any, kind: str, name: str) -> set[str]:
    iam = aws("iam")
    response = getattr(iam, f"list_attached_{kind}_policies")(**{f"{kind.title()}Name": name})
    return {p["PolicyArn"] for p in response["AttachedPolicies"]}


def trust(aws: Any, role: str) -> Any:
    return aws("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]


def default_document(aws: Any, arn: str = POLICY_ARN) -> Any:
    iam = aws("iam")
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


def versions(aws: Any, arn: str = POLICY_ARN) -> list[str]:
    return [v["VersionId"] for v in aws("iam").list_policy_versions(PolicyArn=arn)["Versions"]]


def snapshot(aws: Any) -> dict[str, Any]:
    """Everything a remediation could touch in the scenario account."""
    iam = aws("iam")
    state: dict[str, Any] = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        state[f"role/{name}/trust"] = role["AssumeRolePolicyDocument"]
        state[f"role/{name}/attached"] = attached(aws, "role", name)
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            state[f"role/{name}/inline/{policy}"] = inline(aws, "role", name, policy)
    for user in iam.list_users()["Users"]:
        name = user["UserName"]
        state[f"user/{name}/attached"] = attached(aws, "user", name)
        for policy in iam.list_user_policies(UserName=name)["PolicyNames"]:
            state[f"user/{name}/inline/{policy}"] = inline(aws, "user", name, policy)
    for group in iam.list_groups()["Groups"]:
        name = group["GroupName"]
        state[f"group/{name}/attached"] = attached(aws, "group", name)
        for policy in iam.list_group_policies(GroupName=name)["PolicyNames"]:
            state[f"group/{name}/inline/{policy}"] = inline(aws, "group", name, policy)
    for policy in iam.list_policies(Scope="Local")["Policies"]:
        state[f"policy/{policy['PolicyName']}/default"] = default_document(aws, policy["Arn"])
        state[f"policy/{policy['PolicyName']}/versions"] = versions(aws, policy["Arn"])
    return state
