"""`autoremediate status`, `pause`, `resume`: the kill switch, and each function of the stack
with the MODE it was deployed in (while the switch is on, enforce functions only report)."""

from __future__ import annotations

from typing import Any

from autoremediate_cli.context import Context
from autoremediate_cli.output import CommandError

FUNCTION = "AWS::Lambda::Function"
COLUMNS = (("function", "FUNCTION"), ("mode", "MODE"), ("logical_id", "RESOURCE"))


def function_modes(ctx: Context) -> list[dict[str, str]]:
    """One row per function of the stack: its name, logical id and MODE (Lambda's configuration
    as deployed, not the template's)."""
    if ctx.functions is not None:
        return ctx.functions
    if not ctx.stack:
        raise CommandError("status needs the stack (--stack), not only its ledger table")
    from botocore.exceptions import BotoCoreError, ClientError

    rows = []
    try:
        pages = ctx.aws("cloudformation").get_paginator("list_stack_resources")
        for page in pages.paginate(StackName=ctx.stack):
            for resource in page.get("StackResourceSummaries", []):
                if resource.get("ResourceType") == FUNCTION:
                    rows.append(_row(ctx, resource))
    except (ClientError, BotoCoreError) as error:
        raise CommandError(f"stack {ctx.stack}: {error}") from None
    return sorted(rows, key=lambda r: r["function"])


def _row(ctx: Context, resource: dict[str, Any]) -> dict[str, str]:
    name = str(resource.get("PhysicalResourceId", ""))
    config = ctx.aws("lambda").get_function_configuration(FunctionName=name)
    variables = (config.get("Environment") or {}).get("Variables") or {}
    return {
        "function": name,
        "logical_id": str(resource.get("LogicalResourceId", "")),
        "mode": str(variables.get("MODE", "-")),
    }


def kill_switch(ctx: Context) -> dict[str, Any]:
    """The switch as the functions read it (kill_switch.status), or why it is unknown."""
    from botocore.exceptions import BotoCoreError, ClientError

    from autoremediate_cli import kill_switch as switch

    name = _switch_name(ctx)
    try:
        found = switch.status(ctx.aws, name)
    except (ClientError, BotoCoreError) as error:
        return {"parameter": name, "value": "", "engaged": True, "error": str(error)}
    return {"parameter": found.parameter, "value": found.value, "engaged": found.engaged,
            "last_modified": found.last_modified}  # fmt: skip


def set_kill_switch(ctx: Context, engage: bool) -> dict[str, Any]:
    """pause (on) or resume (off); an unknown parameter is refused, nothing is created."""
    from botocore.exceptions import BotoCoreError, ClientError

    from autoremediate_cli import kill_switch as switch

    name = _switch_name(ctx)
    try:
        done = switch.pause(ctx.aws, name) if engage else switch.resume(ctx.aws, name)
    except (ClientError, BotoCoreError) as error:
        raise CommandError(f"kill switch {name}: {error}") from None
    return {"parameter": done.parameter, "value": done.value, "engaged": done.engaged,
            "last_modified": done.last_modified}  # fmt: skip


def describe(found: dict[str, Any]) -> str:
    """One line: what the functions do now (within 60 s of a change)."""
    if found.get("error"):
        name, why = found["parameter"], found["error"]
        return f"kill switch {name}: unreadable ({why}): the functions fail safe, report only"
    if found["engaged"]:
        return (
            f"kill switch {found['parameter']} is {found['value']!r}: enforce functions only report"
        )
    return f"kill switch {found['parameter']} is off: each function runs in its deployed mode"


def _switch_name(ctx: Context) -> str:
    if ctx.kill_switch:
        return ctx.kill_switch
    if not ctx.stack:
        raise CommandError("the kill switch needs the stack (--stack), not only its ledger table")
    return f"/{ctx.stack}/kill-switch"
