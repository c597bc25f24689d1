"""`autoremediate status`: each function of the stack and the MODE it runs in.

The kill switch (issue 9: `pause` / `resume`) adds its state here: one more line above the
table, and a column for the mode each function is downgraded to while it is paused.
"""

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
