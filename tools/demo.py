"""`make demo`: the sample events, report mode then enforce mode, on an in-process moto account.

No AWS account or credentials are used. Each event's API call is replayed into moto, routed
through template.yaml's own EventBridge patterns and handed to the handler Lambda would run;
what each outcome would change (report) or changed (enforce) is read back from the SNS
notifications, as a subscriber sees them.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# `python tools/demo.py` puts tools/ first on sys.path. Lambda imports from the code folder
# (remediators/, the CodeUri), and the tools import each other from the repository root.
for _path in (ROOT / "remediators", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from tools.routing import Function, functions, load_template, routes  # noqa: E402
from tools.scenario import (  # noqa: E402
    Stack,
    deploy_stack,
    inbox,
    load_event,
    load_few_managed_policies,
    replay,
    seed_principals,
)

Aws = Callable[[str], Any]
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
# In AWS this record is the CloudTrail echo of the fix the handler has just written. The sample
# carries PutRolePolicy's wildcard document (so that only the loop guard can silence it), and
# replaying that would re-open the grant our own function had just closed.
NOT_REPLAYED = frozenset({"PutRolePolicy-own-action"})
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_SERVICE_NAME": "autoremediate",
}
WIDTH = 120
COLUMNS = (("event", 25), ("resource", 26), ("actor", 12), ("status", 15))
FILTERED = "(filtered)"
# What the end of the demo reads back live, to show that the fixes are real.
_INLINE = "role/app-deploy-role, inline policy deploy-wildcard"
_ATTACHED = "role/app-deploy-role, attached policies"
_TRUST = "role/open-trust-role, trust policy"


@dataclass(frozen=True)
class FakeContext:
    """The few Lambda context fields that handlers and Powertools read."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Row:
    """One outcome of one event (or one filtered event), as the table shows it."""

    event: str
    resource: str
    actor: str
    status: str
    details: list[str]
    note: dict[str, Any] | None = None
    """The SNS notification this outcome published (None: quiet or filtered)."""

    @property
    def outcome_id(self) -> str:
        return str(self.note["body"]["outcome_id"]) if self.note else ""


@dataclass
class ModeRun:
    mode: str
    rows: list[Row] = field(default_factory=list)
    state: dict[str, list[str]] = field(default_factory=dict)


def main() -> int:
    """Run and print both modes; 1 when anything unexpected happened."""
    started = time.perf_counter()
    problems: list[str] = []
    with _isolated_environment():
        runs = _run(problems)
    _print_state(runs)
    took = time.perf_counter() - started
    print(f"\n{len(STORY)} sample events per mode; both modes ran in {took:.1f} s")
    for problem in problems:
        print(f"UNEXPECTED: {problem}", file=sys.stderr)
    return 1 if problems else 0


@contextmanager
def _isolated_environment() -> Iterator[None]:
    """Fake credentials before boto3 is imported; the caller's environment comes back after."""
    saved = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(FAKE_ENV)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run(problems: list[str]) -> list[ModeRun]:
    # Both import boto3: only now that the environment is faked.
    from moto import mock_aws

    from core.clients import Clients

    template = load_template()
    remediators = functions(template)
    events = {name: load_event(name, REMEDIATOR) for name in STORY}
    runs = []
    load_few_managed_policies()  # AdministratorAccess exists, as in every AWS account
    with mock_aws() as mock:
        for mode in ("report", "enforce"):
            mock.reset()  # both modes start from the same account
            aws = Clients()
            stack = deploy_stack(aws)
            seed_principals(aws)
            run = ModeRun(mode)
            for name, event in events.items():
                run.rows += _play(name, event, mode, aws, stack, template, remediators, problems)
            run.state = _live_state(aws)
            _check(run, problems)
            _print_mode(run)
            if mode == "enforce":
                _print_undo(aws, stack, run.rows)
            runs.append(run)
    return runs


def _play(
    name: str,
    event: dict[str, Any],
    mode: str,
    aws: Aws,
    stack: Stack,
    template: Mapping[str, Any],
    remediators: list[Function],
    problems: list[str],
) -> list[Row]:
    """Replay one event's call, route it, run every handler it reaches; one row per outcome."""
    detail = event["detail"]
    error = str(detail.get("errorCode") or "")
    cloudtrail = event["detail-type"] == "AWS API Call via CloudTrail"
    if cloudtrail and not error and name not in NOT_REPLAYED:
        replay(aws, event)
    resource, actor = _event_resource(event), _event_actor(event)
    targets = routes(remediators, event)
    if not targets:
        if not error:
            problems.append(f"{mode}: {name} reaches no function: check the template's patterns")
        why = f" (errorCode {error})" if error else ""
        return [Row(name, resource, actor, FILTERED, [f"filtered by the EventBridge pattern{why}"])]
    if error:
        problems.append(f"{mode}: the failed call {name} passed the EventBridge pattern")
    rows = []
    for function in targets:
        os.environ.update(_function_env(function, template, stack, mode, problems))
        module = importlib.import_module(function.handler_module)
        context = FakeContext(function.logical_id, f"demo-{mode}-{name}")
        notes = inbox(aws, stack)  # nothing may be pending; anything left would be misattributed
        outcomes = module.handler(event, context)
        notes += inbox(aws, stack)
        rows += [_row(name, resource, actor, outcome, notes) for outcome in outcomes]
        problems += [f"{mode}: {name}: notification of no outcome: {n['subject']}" for n in notes]
    return rows


def _row(
    name: str, resource: str, actor: str, outcome: Mapping[str, Any], notes: list[dict[str, Any]]
) -> Row:
    """The outcome the handler returned, with its changes read from its own notification."""
    status, arn = str(outcome["status"]), str(outcome["resource"])
    note = next(
        (n for n in notes if n["body"]["status"] == status and n["body"]["resource_arn"] == arn),
        None,
    )
    resource = _short_arn(arn) or resource
    if note is None:  # a quiet outcome: logged, never published
        reason = str(outcome["reason"])
        return Row(name, resource, actor, status, [] if reason == "compliant" else [reason])
    notes.remove(note)
    body = note["body"]
    details = [str(c["summary"]) for c in body["changes"]]
    if status not in ("WOULD_REMEDIATE", "REMEDIATED") or not details:
        details.append(str(body["reason"]))
    if body["actor"].get("arn"):
        actor = _short_actor(str(body["actor"]["arn"]))
    return Row(name, resource, actor, status, details, note)


def _function_env(
    function: Function, template: Mapping[str, Any], stack: Stack, mode: str, problems: list[str]
) -> dict[str, str]:
    """Lambda's environment: the stack's values, then the template's literals and parameter
    defaults (WILDCARD_LEVEL...); the Powertools settings stay the demo's quiet ones."""
    env = stack.env(mode)
    parameters = template.get("Parameters") or {}
    for key, value in function.environment.items():
        if key in env or key.startswith("POWERTOOLS_"):
            continue
        if isinstance(value, str):
            env[key] = value
        elif isinstance(value, Mapping) and value.get("Ref") in parameters:
            env[key] = str(parameters[value["Ref"]].get("Default", ""))
        else:
            problems.append(f"{function.logical_id}: cannot resolve {key}={value!r} offline")
    return env


def _check(run: ModeRun, problems: list[str]) -> None:
    """Report mode changes nothing; enforce mode leaves nothing to report; nothing fails."""
    from iam_grants import strip_open_trust, strip_wildcard_grants

    forbidden = {"report": "REMEDIATED", "enforce": "WOULD_REMEDIATE"}[run.mode]
    for row in run.rows:
        if row.status in (forbidden, "FAILED"):
            problems.append(f"{run.mode}: {row.event} ended {row.status}: {'; '.join(row.details)}")
    if run.mode == "enforce":
        policy = [json.loads(s) for s in run.state[_INLINE]]
        trust = [json.loads(s) for s in run.state[_TRUST]]
        doc = {"Version": "2012-10-17"}
        if policy and strip_wildcard_grants({**doc, "Statement": policy}).changed:
            problems.append(f"enforce: {_INLINE} still grants a wildcard")
        if strip_open_trust({**doc, "Statement": trust}).changed:
            problems.append(f"enforce: {_TRUST} is still open")
        if run.state[_ATTACHED] != ["(none)"]:
            problems.append(f"enforce: {_ATTACHED} still holds {run.state[_ATTACHED]}")


def _live_state(aws: Aws) -> dict[str, list[str]]:
    """The documents that show whether a fix is real, read back from IAM (statement per line)."""
    iam = aws("iam")
    try:
        inline = iam.get_role_policy(RoleName="app-deploy-role", PolicyName="deploy-wildcard")
        policy = _statements(inline["PolicyDocument"])
    except iam.exceptions.NoSuchEntityException:
        policy = []
    attached = iam.list_attached_role_policies(RoleName="app-deploy-role")["AttachedPolicies"]
    trust = iam.get_role(RoleName="open-trust-role")["Role"]["AssumeRolePolicyDocument"]
    return {
        _INLINE: policy,
        _ATTACHED: [a["PolicyName"] for a in attached] or ["(none)"],
        _TRUST: _statements(trust),
    }


def _statements(document: Any) -> list[str]:
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return [json.dumps(s, separators=(",", ":")) for s in statements]


def _print_mode(run: ModeRun) -> None:
    title = {"report": "REPORT mode: what would change", "enforce": "ENFORCE mode: what changed"}
    print(f"\n=== {title[run.mode]} " + "=" * (WIDTH - len(title[run.mode]) - 5))
    print(" ".join(f"{name:<{w}}" for name, w in COLUMNS) + " - and each change, or why not")
    for row in run.rows:
        cells = (row.event, row.resource, row.actor, row.status)
        lead = " ".join(_clip(c, w).ljust(w) for c, (_, w) in zip(cells, COLUMNS, strict=True))
        print(lead.rstrip())
        for detail in row.details:
            print(textwrap.fill(detail, WIDTH, initial_indent="  - ", subsequent_indent="    "))
    _print_notes([row.note for row in run.rows if row.note])
    counts = Counter(row.status for row in run.rows)
    print(f"{run.mode} outcomes: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


def _print_notes(notes: list[dict[str, Any]]) -> None:
    """Each SNS notification: its subject and the message attributes subscribers filter on."""
    if not notes:
        print("\nno SNS notification published")
        return
    names = ("remediator", "mode", "status", "severity")
    first = notes[0]["attributes"]
    same = [k for k in names if all(n["attributes"].get(k) == first.get(k) for n in notes)]
    shared = " ".join(f"{k}={first.get(k)}" for k in same)
    print(f"\n{len(notes)} SNS notifications, attributes: {shared}")
    lines = []
    for note in notes:
        own = " ".join(f"{k}={note['attributes'].get(k)}" for k in names if k not in same)
        lines.append(f"  {note['subject']}  {own}".rstrip())
    # Identical notifications in a row (one resource, several events) are printed once.
    i = 0
    while i < len(lines):
        repeat = 1
        while i + repeat < len(lines) and lines[i + repeat] == lines[i]:
            repeat += 1
        print(_clip(lines[i] + (f"  (x{repeat})" if repeat > 1 else ""), WIDTH))
        i += repeat


def _print_undo(aws: Aws, stack: Stack, rows: list[Row]) -> None:
    """How to take one fix back, as the ledger entry of PutRolePolicy's outcome records it."""
    from core.ledger import Ledger

    row = next((r for r in rows if r.event == "PutRolePolicy" and r.outcome_id), None)
    if row is None:
        print("\nno ledger entry for PutRolePolicy")
        return
    entry = Ledger(aws, stack.table).get(row.outcome_id)
    print(f"\nledger entry {row.outcome_id} ({entry['status']}) of PutRolePolicy; undo it with")
    print(_clip(f"  {entry.get('undo', '(no undo command recorded)')}", WIDTH))
    for change in entry.get("changes", []):
        for cli in change.get("undo_cli", []):
            print(_clip(f"  = {cli}", WIDTH))


def _print_state(runs: list[ModeRun]) -> None:
    """The same documents read live after report mode (as alice left them) and after enforce."""
    print("\n=== the fix is real: live state in moto after report mode vs after enforce mode ===")
    before, after = runs[0].state, runs[-1].state
    for key in before:
        old, new = before[key] or ["(deleted)"], after.get(key) or ["(deleted)"]
        if len(old) == len(new) == 1 and len(key) + len(old[0]) + len(new[0]) < WIDTH - 20:
            print(f"{key}: before {old[0]}, after {new[0]}")
            continue
        print(key)
        for label, lines in (("before", old), ("after", new)):
            for i, line in enumerate(lines):
                print(_clip(f"  {label if i == 0 else '':<7}{line}", WIDTH))


def _event_resource(event: Mapping[str, Any]) -> str:
    """The resource an event names, for rows without an outcome ARN (filtered, quiet skips)."""
    detail = event["detail"]
    item = detail.get("configurationItem")
    if isinstance(item, Mapping):
        return _short_arn(str(item.get("ARN", "")))
    request = detail.get("requestParameters") or {}
    for key, kind in (("roleName", "role"), ("userName", "user"), ("groupName", "group")):
        if key in request:
            return f"{kind}/{request[key]}"
    if "policyArn" in request:
        return _short_arn(str(request["policyArn"]))
    return f"policy/{request['policyName']}" if "policyName" in request else "-"


def _event_actor(event: Mapping[str, Any]) -> str:
    identity = event["detail"].get("userIdentity")
    return _short_actor(str(identity.get("arn", ""))) if identity else "(AWS Config)"


def _short_arn(arn: str) -> str:
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn


def _short_actor(arn: str) -> str:
    return arn.rsplit("/", 1)[-1] or "-"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 2] + ".."


if __name__ == "__main__":
    sys.exit(main())
