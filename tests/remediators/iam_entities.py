"""IAM's answers about who uses a managed policy, as AWS gives them and moto does not.

moto 5.2's `list_entities_for_policy` ignores `PolicyUsageFilter` and never lists the roles
that use the policy as their permissions boundary (AWS lists them too unless the filter says
`PermissionsPolicy`), and its `get_policy` leaves out `PermissionsBoundaryUsageCount`.
`PolicyUsage` answers these two calls (and the paginator of the first) from moto's live state,
through a botocore Stubber that checks each request against IAM's model; every other call is
moto's.
"""

from __future__ import annotations

from typing import Any, ClassVar

from botocore.exceptions import ClientError

from tests.remediators.stubs import ReplacedAws, StubbedAws

_USAGES = ("PermissionsPolicy", "PermissionsBoundary")


class PolicyUsage(StubbedAws):
    SERVICE: ClassVar[str] = "iam"
    OPERATIONS: ClassVar[tuple[str, ...]] = ("list_entities_for_policy", "get_policy")

    def __call__(self, service: str) -> Any:
        client = super().__call__(service)
        if service != self.SERVICE:
            return client
        outer = self

        class Pages:
            def paginate(self, **params: Any) -> list[Any]:
                return [outer.answer("list_entities_for_policy", params)]

        class WithPaginator:
            def __getattr__(self, name: str) -> Any:
                if name == "get_paginator":
                    return lambda op: (
                        Pages() if op == outer.OPERATIONS[0] else client.get_paginator(op)
                    )
                return getattr(client, name)

        return WithPaginator()

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        arn = params["PolicyArn"]
        if operation == "get_policy":
            policy = self.aws("iam").get_policy(**params)["Policy"]
            count = sum(map(len, self._entities(arn, ("PermissionsBoundary",)).values()))
            policy = {**policy, "PermissionsBoundaryUsageCount": count}
            return self.reply(operation, params, {"Policy": policy})
        usage = params.get("PolicyUsageFilter")
        entities = self._entities(arn, (usage,) if usage else _USAGES)
        response = {f"Policy{kind}s": found for kind, found in entities.items()}
        return self.reply(operation, params, {**response, "IsTruncated": False})

    def _entities(self, arn: str, usages: tuple[str, ...]) -> dict[str, list[dict[str, str]]]:
        """Groups, users and roles that use `arn` in one of `usages`, sorted by name."""
        iam = self.aws("iam")
        found: dict[str, list[dict[str, str]]] = {"Group": [], "User": [], "Role": []}
        for kind in found:
            for entity in getattr(iam, f"list_{kind.lower()}s")()[f"{kind}s"]:
                name = entity[f"{kind}Name"]
                if self._uses(kind, name, arn, usages):
                    found[kind].append({f"{kind}Name": name, f"{kind}Id": entity[f"{kind}Id"]})
            found[kind].sort(key=lambda e: e[f"{kind}Name"])
        return found

    def _uses(self, kind: str, name: str, arn: str, usages: tuple[str, ...]) -> bool:
        iam = self.aws("iam")
        key = {f"{kind}Name": name}
        if "PermissionsPolicy" in usages:
            listed = getattr(iam, f"list_attached_{kind.lower()}_policies")(**key)
            if arn in {p["PolicyArn"] for p in listed["AttachedPolicies"]}:
                return True
        if "PermissionsBoundary" in usages and kind == "Role":  # moto has no user boundary
            boundary = iam.get_role(RoleName=name)["Role"].get("PermissionsBoundary", {})
            return bool(boundary.get("PermissionsBoundaryArn") == arn)
        return False


class DetachedMeanwhile(ReplacedAws):
    """`detach_<kind>_policy` finds the attachment already gone (someone else detached it, or
    deleted the principal, between our look and our call): AWS answers NoSuchEntity."""

    def __init__(self, aws: Any, kind: str) -> None:
        super().__init__(aws, "iam", (f"detach_{kind}_policy",))

    def answer(self, operation: str, params: dict[str, Any]) -> Any:
        getattr(self.aws("iam"), operation)(**params)  # the other party's call
        message = f"Policy {params['PolicyArn']} was not found."
        raise ClientError({"Error": {"Code": "NoSuchEntity", "Message": message}}, operation)
