"""Playing the story: both modes on one moto account, each event through its handlers.

Each mode starts from the same freshly seeded account, so that report and enforce mode can be
compared line by line; each event reaches only the functions the template's patterns route it to.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from tools.demo.checks import check_run
from tools.demo.command import print_command
from tools.demo.lambda_env import (
    FakeContext,
    demo_settings,
    function_env,
    invocation_environment,
)
from tools.demo.live_state import read_live_state
from tools.demo.outcomes import (
    ENFORCE_ONLY,
    FILTERED,
    ModeRun,
    Row,
    event_actor,
    event_resource,
    outcome_row,
)
from tools.demo.printing import print_mode, print_undo
from tools.demo.story import (
    REMEDIATOR,
    STORY,
    encryption_story,
    others,
    plays_in,
    stubbed,
)
from tools.routing import Function, functions, load_template, routes
from tools.scenario import (
    Aws,
    Stack,
    deploy_stack,
    inbox,
    load_event,
    load_few_managed_policies,
    moto_as_aws,
    replay,
    seed_estate,
    seed_principals,
)


def run_modes(problems: list[str]) -> list[ModeRun]:
    """Report mode, then enforce mode, each printed as it ends."""
    # Both import boto3: only now that the environment is faked.
    from moto import mock_aws

    from core.clients import Clients

    template = load_template()
    remediators = functions(template)
    events = {name: load_event(name, REMEDIATOR) for name in STORY}
    encryption = encryption_story(remediators)
    report_only = {
        f.logical_id
        for f in remediators
        if not importlib.import_module(f.handler_module).REMEDIATOR.write_actions
    }
    runs = []
    load_few_managed_policies()  # AdministratorAccess exists, as in every AWS account
    moto_as_aws()
    with mock_aws() as mock:
        for mode in ("report", "enforce"):
            mock.reset()  # both modes start from the same account
            aws = Clients()
            stack = deploy_stack(aws)
            seed_principals(aws)
            seed_estate(aws, others(remediators))
            run = ModeRun(mode, settings=demo_settings(template, remediators))
            run.encryption_events = len(encryption)
            play = (mode, aws, stack, template, remediators, problems)
            for name, event in events.items():
                run.rows += _play(name, event, True, *play)
            for name, event in encryption:
                run.encryption += _play(name, event, False, *play)
            run.state = read_live_state(aws)
            check_run(run, remediators, report_only, problems)
            print_mode(run)
            if mode == "enforce":
                print_undo(aws, stack, run.rows)
                print_command(aws, stack, run.rows, problems)
            runs.append(run)
    return runs


def _play(
    name: str,
    event: dict[str, Any],
    replayed: bool,
    mode: str,
    aws: Aws,
    stack: Stack,
    template: Mapping[str, Any],
    remediators: list[Function],
    problems: list[str],
) -> list[Row]:
    """Replay one event's call (when `replayed`), route it, run every handler it reaches; one row
    per outcome."""
    detail = event["detail"]
    error = str(detail.get("errorCode") or "")
    resource, actor = event_resource(event), event_actor(event)
    targets = routes(remediators, event)
    if not plays_in(name, mode):
        why = "the echo of our own fix: report mode makes none"
        return [
            Row(name, resource, actor, ENFORCE_ONLY, [why], None, f.logical_id) for f in targets
        ]
    cloudtrail = event["detail-type"] == "AWS API Call via CloudTrail"
    if cloudtrail and not error and replayed:
        replay(aws, event)
    if not targets:
        if not error:
            problems.append(f"{mode}: {name} reaches no function: check the template's patterns")
        why = f" (errorCode {error})" if error else ""
        return [Row(name, resource, actor, FILTERED, [f"filtered by the EventBridge pattern{why}"])]
    if error:
        problems.append(f"{mode}: the failed call {name} passed the EventBridge pattern")
    rows = []
    for function in targets:
        module = importlib.import_module(function.handler_module)
        context = FakeContext(function.logical_id, f"demo-{mode}-{name}")
        notes = inbox(aws, stack)  # nothing may be pending; anything left would be misattributed
        with invocation_environment(function_env(function, template, stack, mode, problems)):
            outcomes = module.handler(event, context)
        notes += inbox(aws, stack)
        for outcome in outcomes:
            row = outcome_row(name, resource, actor, outcome, notes)
            row.function = function.logical_id
            stub = stubbed(function.handler_module)
            if stub and row.status == "REMEDIATED":
                row.details.append(stub)
            rows.append(row)
        problems += [f"{mode}: {name}: notification of no outcome: {n['subject']}" for n in notes]
    return rows
