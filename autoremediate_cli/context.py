"""Where the command acts: the AWS account of the caller's credentials and the stack's ledger.

The stack's outputs name the ledger table and topic (`--stack`, by default samconfig.toml's
stack name); `--table` names the ledger directly (the line notifications carry), and its stack
is then found from the table's CloudFormation tag, for UndoExemptionDays.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoremediate_cli.output import CommandError

if TYPE_CHECKING:
    from core.clients import Clients

log = logging.getLogger("autoremediate_cli")
DEFAULT_STACK = "autoremediate"
DEFAULT_UNDO_DAYS = 7  # as the template's UndoExemptionDays default
DEFAULT_MAX_DAYS = 90  # as the template's ExemptionMaxDays default
STACK_TAG = "aws:cloudformation:stack-name"

Aws = Callable[[str], Any]


@dataclass
class Context:
    """The clients and the stack's resources that every subcommand works with."""

    aws: Clients
    table: str
    stack: str = ""
    topic_arn: str = ""
    undo_days: int = DEFAULT_UNDO_DAYS
    max_days: int = DEFAULT_MAX_DAYS
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    functions: list[dict[str, str]] | None = None
    """The stack's functions and modes when known without asking Lambda (--local)."""
    kill_switch: str = ""
    """The stack's kill switch: an SSM parameter name (output KillSwitchParameterName)."""

    @property
    def exemption_days(self) -> int:
        """Days an undo exempts its resource: UndoExemptionDays, never beyond ExemptionMaxDays."""
        return max(1, min(self.undo_days, self.max_days))


def samconfig_stack(directory: Path | None = None) -> str:
    """The stack name samconfig.toml deploys (default environment), or `autoremediate`."""
    path = (directory or Path.cwd()) / "samconfig.toml"
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return DEFAULT_STACK
    default = config.get("default", {})
    for command in ("global", "deploy"):
        name = default.get(command, {}).get("parameters", {}).get("stack_name")
        if isinstance(name, str) and name:
            return name
    return DEFAULT_STACK


def aws_context(
    profile: str | None, region: str | None, stack: str | None, table: str | None
) -> Context:
    """The caller's account: `table` as given, or the ledger that `stack`'s outputs name."""
    import boto3
    from botocore.exceptions import BotoCoreError

    from core.clients import Clients

    try:
        aws = Clients(boto3.Session(profile_name=profile, region_name=region))
    except BotoCoreError as error:  # an unknown profile
        raise CommandError(str(error)) from None
    if table and not stack:
        stack = _stack_of_table(aws, table)
        if not stack:
            log.info("the table %s names no stack: UndoExemptionDays is the default", table)
            return Context(aws, table)
    name = stack or samconfig_stack()
    try:
        described = _describe(aws, name)
    except CommandError as error:
        if not table:
            raise
        log.info("%s: UndoExemptionDays is the default", error)
        return Context(aws, table)
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in described.get("Outputs", [])}
    parameters = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])
    }
    ledger = table or outputs.get("LedgerTableName", "")
    if not ledger:
        raise CommandError(f"stack {name} has no LedgerTableName output: is it autoremediate's?")
    return Context(
        aws,
        ledger,
        stack=name,
        topic_arn=outputs.get("NotificationTopicArn", ""),
        undo_days=parse_days(outputs.get("UndoExemptionDays"), DEFAULT_UNDO_DAYS),
        max_days=parse_days(parameters.get("ExemptionMaxDays"), DEFAULT_MAX_DAYS),
        kill_switch=outputs.get("KillSwitchParameterName", ""),
    )


def _describe(aws: Clients, name: str) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = aws("cloudformation").describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise CommandError(
            f"stack {name}: {message} (name it with --stack, or the ledger with --table)"
        ) from None
    except BotoCoreError as error:
        raise CommandError(f"stack {name}: {error}") from None
    if not stacks:
        raise CommandError(f"stack {name} does not exist")
    found: dict[str, Any] = stacks[0]
    return found


def _stack_of_table(aws: Clients, table: str) -> str:
    """The stack that created the ledger table (CloudFormation tags it), or '' when unknown."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        arn = aws("dynamodb").describe_table(TableName=table)["Table"]["TableArn"]
        tags = aws("dynamodb").list_tags_of_resource(ResourceArn=arn).get("Tags", [])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise CommandError(f"no ledger table {table} in this account and region") from None
        return ""
    except BotoCoreError:
        return ""
    return next((str(t["Value"]) for t in tags if t.get("Key") == STACK_TAG), "")


def parse_days(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.strip().isdigit() and int(raw) > 0 else default
