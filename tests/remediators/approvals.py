"""An approved exemption tag, as exemption_tag_approval records it, for the remediators' tests:
since the tag counts only with an approval, a test of "exempt by tag" approves it first."""

from __future__ import annotations

from typing import Any

from core.exemptions import approval_key
from core.ledger import Ledger

APPROVER = "arn:aws:iam::123456789012:role/SecurityApprover"


def approve(aws: Any, stack: Any, arn: str, value: str, until: str = "2026-12-31") -> None:
    """The ledger of `stack` holds an approval of exemption tag `value` on `arn`."""
    record = {"resource_arn": arn, "value": value, "until": until, "by": APPROVER,
              "reason": value.split(" until=")[0], "time": "2026-11-24T11:00:00Z"}  # fmt: skip
    Ledger(aws, stack.table).put_approval(approval_key(arn), record)
