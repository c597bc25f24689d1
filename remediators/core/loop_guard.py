"""The loop guard: changes made with our own role's session are re-checked, never trusted.

Our genuine fix echoes back through CloudTrail: re-evaluated, it is compliant, and stays quiet.
Anything else our role changed was not our fix: our role can write what it protects, and
whoever can pass it to a function (or replace our code) holds it. Such a finding is reported
HIGH in every mode and never applied, even in enforce mode (fixing a change made with our role
with that same role could set two copies of us against each other: a person must look), and no
exemption silences it (our role has no business changing an exempt resource either).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.event import Trigger
from core.outcome import Change

SEVERITY = "HIGH"
ECHO = "our own change echoes back: re-checked, compliant"


def own_role(trigger: Trigger, own_role_arns: Sequence[str]) -> str:
    """The role of ours (exact ARN, from OWN_ROLE_ARNS) whose session made the call, or ''."""
    issuer = trigger.actor.session_issuer_arn if trigger.actor else ""
    return issuer if issuer and issuer in own_role_arns else ""


def reason(role_arn: str, changes: Sequence[Change], fixes: bool) -> str:
    """Why a finding on a change made with our own role is reported and not applied; `fixes`:
    whether this remediator ever writes (a report-only one makes no fix to echo)."""
    said = f"changed with autoremediate's own role {role_arn}"
    if not fixes or any(c.call is not None for c in changes):  # our fix leaves none of these
        return f"{said}, yet no fix of ours leaves this: not applied; investigate who used the role"
    # A fix of ours that could only do part leaves exactly this: manual steps (SQS: the TLS
    # statement added, the key left to the team), which its own notification listed.
    return (
        f"{said}; only manual steps are left, as after a partial fix of ours (its notification"
        " lists them): if none came before, investigate who used the role"
    )
