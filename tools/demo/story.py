"""What the demo plays: the IAM story, in order, then each other function's demo samples.

Kept apart from the code that plays them, so that the IAM story reads top to bottom as a list;
what the other functions play is their events/<module>/samples.toml's, so that a new
remediator joins the demo without a line here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tools.routing import Function
from tools.samples import samples_of
from tools.scenario import load_event

REMEDIATOR = "iam_policy_least_privilege"
# Alice builds a wildcard estate; then two calls that must change nothing; then AWS Config's view.
STORY = (
    "CreatePolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "PutRolePolicy",
    "PutUserPolicy",
    "PutGroupPolicy",
    "AttachRolePolicy",
    "AttachUserPolicy",
    "AttachGroupPolicy",
    "CreateRole",
    "UpdateAssumeRolePolicy",
    "PutRolePolicy-failed-call",
    "PutRolePolicy-own-action",
    "Config-Role",
    "Config-User",
    "Config-Group",
    "Config-Policy",
    "Config-Role-deleted",
)
# An `-own-action` sample is the CloudTrail echo of the fix our function has just written (for
# IAM, the stripped document PutRolePolicy's fix puts: replayed, it changes nothing). Re-checked,
# it is compliant and quiet. Report mode makes no fix, so it plays in enforce mode only.
ECHO = "-own-action"
# Every other function plays the samples its events/<module>/samples.toml lists under `demo`
# (its representative by default) on an account seeded with each representative's state
# (scenario.seed_estate); its settings, stub notes and moto limits come from there too.


def encryption_story(remediators: Iterable[Function]) -> list[tuple[str, dict[str, Any]]]:
    """(sample, event) in the order the demo plays them: every function's first demo sample
    in template order, then every second one...; an event already in the story (CreateBucket
    reaches both S3 functions) is played once."""
    entries = [
        (position, module, name)
        for module in others(remediators)
        for position, name in enumerate(samples_of(module).demo)
    ]
    story: list[tuple[str, dict[str, Any]]] = []
    for _, module, name in sorted(entries, key=lambda entry: entry[0]):  # stable: template order
        event = load_event(name, module)
        if all(event != played for _, played in story):
            story.append((name, event))
    return story


def others(remediators: Iterable[Function]) -> list[str]:
    """The modules of the functions beyond the IAM story's, in template order."""
    return [f.handler_module for f in remediators if f.handler_module != REMEDIATOR]


def settings_for(module: str) -> Mapping[str, str]:
    """The demo's departures from the template's parameter defaults for this function: with the
    defaults some samples are compliant as AWS creates them, and no fix would be seen."""
    return samples_of(module).settings


def stubbed(module: str) -> str:
    """What the demo says on the function's REMEDIATED rows when moto does not serve a call."""
    return samples_of(module).stubbed


def moto_limits(remediators: Iterable[Function]) -> list[str]:
    """Where moto does not behave as AWS does, and what the demo does about it."""
    return [limit for module in others(remediators) for limit in samples_of(module).moto_limits]


def plays_in(name: str, mode: str) -> bool:
    """Whether sample `name` plays in `mode`: the echo of our own fix, in enforce mode only."""
    return mode == "enforce" or not name.endswith(ECHO)


def expected_status(module: str, name: str, mode: str) -> str:
    """What sample `name` of `module` must end as in `mode`: its samples.toml status (enforce
    mode), a fix only reported in report mode; "" when the module has no such sample."""
    sample = samples_of(module).samples.get(name)
    if sample is None:
        return ""
    return (
        "WOULD_REMEDIATE" if mode == "report" and sample.status == "REMEDIATED" else sample.status
    )
