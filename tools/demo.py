"""`make demo`: the sample events, report mode then enforce mode, on an in-process moto account.

No AWS account or credentials are used. Each IAM event's API call is replayed into moto; the
encryption events find their unencrypted resources seeded by tools/scenario.py. Every event is
routed through template.yaml's own EventBridge patterns and handed to each handler Lambda would
run, with that function's environment as the template sets it; what each outcome would change
(report) or changed (enforce) is read back from the SNS notifications, as a subscriber sees them.
"""

from __future__ import annotations

import importlib
import json
import os
import re
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
    ACCOUNT,
    BUCKET,
    DB_INSTANCE,
    OWN_ROLE_ARN,
    QUEUE,
    REGION,
    TABLE,
    TOPIC,
    Stack,
    deploy_stack,
    inbox,
    load_event,
    load_few_managed_policies,
    moto_applies_dynamodb_sse,
    replay,
    seed_encryption_estate,
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
# The encryption remediators, one event each on resources seed_encryption_estate leaves
# unencrypted: CreateBucket reaches both S3 functions; the own-action is our S3 fix's echo.
ENCRYPTION_STORY = (
    ("s3_bucket_encryption", "CreateBucket"),
    ("sns_topic_encryption", "CreateTopic"),
    ("sqs_queue_encryption", "CreateQueue"),
    ("dynamodb_table_encryption", "CreateTable"),
    ("ec2_ebs_default_encryption", "DisableEbsEncryptionByDefault"),
    ("rds_storage_encryption", "CreateDBInstance"),
    ("s3_bucket_encryption", "PutBucketEncryption-own-action"),
)
# The demo's one departure from the template's parameter defaults. With the default SSE-S3 a
# bucket is compliant as AWS creates it (SSE-S3 since 2023): SSE-KMS makes the S3 fix visible.
DEMO_SETTINGS = {"S3_ENCRYPTION_LEVEL": "SSE-KMS"}
# How CloudFormation names a role of stack `autoremediate` (tools/scenario.OWN_ROLE's pattern).
STACK_NAME = "autoremediate"
PHYSICAL_SUFFIX = "1A2B3C4D5E6F"
# Calls moto does not serve as AWS does, and what the demo does about them.
STUBBED = {
    "dynamodb_table_encryption": "UpdateTable's SSESpecification: moto ignores this call; stubbed"
    " (the demo's moto applies it as DynamoDB does)",
}
MOTO_LIMITS = (
    "moto limit, S3: a new bucket has no default encryption (read as 'none'); AWS gives every"
    " bucket SSE-S3 since 2023",
    "moto limit, EBS: no Get/ResetEbsDefaultKmsKeyId, called only with EncryptionKmsKeyArn set"
    " (demo: default '')",
)
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
ENCRYPTION_COLUMNS = (("event", 30), ("function", 24), ("resource", 26), ("status", 15))
FILTERED = "(filtered)"
REPORT_ONLY_NOTE = "(listed in enforce mode)"
# What the end of the demo reads back live, to show that the fixes are real.
_INLINE = "role/app-deploy-role, inline policy deploy-wildcard"
_ATTACHED = "role/app-deploy-role, attached policies"
_TRUST = "role/open-trust-role, trust policy"
_BUCKET_SSE = f"bucket {BUCKET}, default encryption"
_BUCKET_POLICY = f"bucket {BUCKET}, bucket policy Sids"
_TOPIC_KEY = f"topic {TOPIC}, KmsMasterKeyId"
_QUEUE_SSE = f"queue {QUEUE}, SqsManagedSseEnabled"
_QUEUE_POLICY = f"queue {QUEUE}, queue policy Sids"
_TABLE_SSE = f"table {TABLE}, SSE"
_EBS = f"EBS encryption by default in {REGION}"
_DB = f"db instance {DB_INSTANCE}"
TLS_SID = "AutoremediateDenyInsecureTransport"
# The encryption state as seed_encryption_estate leaves it: report mode must leave it so.
SEEDED = {
    _BUCKET_SSE: "none",
    _BUCKET_POLICY: "(no policy)",
    _TOPIC_KEY: "(none)",
    _QUEUE_SSE: "false (no KmsMasterKeyId)",
    _QUEUE_POLICY: "(no policy)",
    _TABLE_SSE: "(none: AWS-owned key)",
    _EBS: "off",
    _DB: "StorageEncrypted=False",
}
# ... and what enforce mode must leave (RDS is report-only: nothing changes).
ENFORCED = {
    _BUCKET_SSE: "aws:kms (aws/s3), bucket key on",
    _BUCKET_POLICY: TLS_SID,
    _TOPIC_KEY: "alias/aws/sns",
    _QUEUE_SSE: "true (no KmsMasterKeyId)",
    _QUEUE_POLICY: TLS_SID,
    _TABLE_SSE: "KMS ENABLED key/",  # + the AWS-managed key's id, which moto makes up
    _EBS: "on",
    _DB: "StorageEncrypted=False",
}


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
    function: str = ""
    """The logical id of the function that produced the outcome ("" when filtered)."""

    @property
    def outcome_id(self) -> str:
        return str(self.note["body"]["outcome_id"]) if self.note else ""


@dataclass
class ModeRun:
    mode: str
    rows: list[Row] = field(default_factory=list)
    encryption: list[Row] = field(default_factory=list)
    state: dict[str, list[str]] = field(default_factory=dict)
    settings: str = ""
    """DEMO_SETTINGS and the template defaults they replace, for the encryption table's title."""


def main() -> int:
    """Run and print both modes; 1 when anything unexpected happened."""
    started = time.perf_counter()
    problems: list[str] = []
    with _isolated_environment():
        runs = _run(problems)
    _print_state(runs)
    print()
    for limit in MOTO_LIMITS:
        print(textwrap.fill(limit, WIDTH, subsequent_indent="  "))
    took = time.perf_counter() - started
    print(
        f"\n{len(STORY)} IAM and {len(ENCRYPTION_STORY)} encryption sample events per mode; "
        f"both modes ran in {took:.1f} s"
    )
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
    encryption = [(name, load_event(name, module)) for module, name in ENCRYPTION_STORY]
    report_only = {
        f.logical_id
        for f in remediators
        if not importlib.import_module(f.handler_module).REMEDIATOR.write_actions
    }
    runs = []
    load_few_managed_policies()  # AdministratorAccess exists, as in every AWS account
    moto_applies_dynamodb_sse()
    with mock_aws() as mock:
        for mode in ("report", "enforce"):
            mock.reset()  # both modes start from the same account
            aws = Clients()
            stack = deploy_stack(aws)
            seed_principals(aws)
            seed_encryption_estate(aws)
            run = ModeRun(mode, settings=_settings(template, remediators))
            play = (mode, aws, stack, template, remediators, problems)
            for name, event in events.items():
                run.rows += _play(name, event, name not in NOT_REPLAYED, *play)
            for name, event in encryption:
                run.encryption += _play(name, event, False, *play)
            run.state = _live_state(aws)
            _check(run, remediators, report_only, problems)
            _print_mode(run)
            if mode == "enforce":
                _print_undo(aws, stack, run.rows)
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
    cloudtrail = event["detail-type"] == "AWS API Call via CloudTrail"
    if cloudtrail and not error and replayed:
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
        module = importlib.import_module(function.handler_module)
        context = FakeContext(function.logical_id, f"demo-{mode}-{name}")
        notes = inbox(aws, stack)  # nothing may be pending; anything left would be misattributed
        with _environment(_function_env(function, template, stack, mode, problems)):
            outcomes = module.handler(event, context)
        notes += inbox(aws, stack)
        for outcome in outcomes:
            row = _row(name, resource, actor, outcome, notes)
            row.function = function.logical_id
            stubbed = STUBBED.get(function.handler_module)
            if stubbed and row.status == "REMEDIATED":
                row.details.append(stubbed)
            rows.append(row)
        problems += [f"{mode}: {name}: notification of no outcome: {n['subject']}" for n in notes]
    return rows


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """One function's environment for one invocation; the previous one comes back after."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


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
    """Lambda's environment: the stack's values, then the template's literals, parameter
    defaults (WILDCARD_LEVEL...) except DEMO_SETTINGS, and the function's own role ARN (its loop
    guard); the Powertools settings stay the demo's quiet ones."""
    env = {k: v for k, v in stack.env(mode).items() if k != "OWN_ROLE_ARNS"}
    parameters = template.get("Parameters") or {}
    for key, value in function.environment.items():
        if key in env or key.startswith("POWERTOOLS_"):
            continue
        role = _role_arn(template, value)
        if key in DEMO_SETTINGS:
            env[key] = DEMO_SETTINGS[key]
        elif isinstance(value, str):
            env[key] = value
        elif isinstance(value, Mapping) and value.get("Ref") in parameters:
            env[key] = str(parameters[value["Ref"]].get("Default", ""))
        elif role:
            env[key] = role
        else:
            problems.append(f"{function.logical_id}: cannot resolve {key}={value!r} offline")
    if function.handler_module == REMEDIATOR and env.get("OWN_ROLE_ARNS") != OWN_ROLE_ARN:
        problems.append(f"{function.logical_id}: OWN_ROLE_ARNS is not {OWN_ROLE_ARN}")
    return env


def _settings(template: Mapping[str, Any], remediators: list[Function]) -> str:
    """'NAME=demo value for the demo (template default X)' for each of DEMO_SETTINGS."""
    parameters = template.get("Parameters") or {}
    said = []
    for key, value in DEMO_SETTINGS.items():
        values = [f.environment.get(key) for f in remediators]
        refs = {v.get("Ref") for v in values if isinstance(v, Mapping)}
        defaults = {str(parameters.get(r, {}).get("Default")) for r in refs if r in parameters}
        said.append(f"{key}={value} for the demo (template default {', '.join(sorted(defaults))})")
    return "; ".join(said)


def _role_arn(template: Mapping[str, Any], value: Any) -> str:
    """A role's ARN as CloudFormation makes it, for {"Fn::GetAtt": [Role, "Arn"]} ("" for any
    other value): the name that events/*-own-action.json's session issuer carries."""
    target = value.get("Fn::GetAtt") if isinstance(value, Mapping) else None
    if isinstance(target, str):
        target = target.split(".", 1)
    if not isinstance(target, list) or len(target) != 2 or target[1] != "Arn":
        return ""
    resource = (template.get("Resources") or {}).get(target[0]) or {}
    if resource.get("Type") != "AWS::IAM::Role":
        return ""
    properties = resource.get("Properties") or {}
    name = properties.get("RoleName") or f"{STACK_NAME}-{target[0]}-{PHYSICAL_SUFFIX}"
    return f"arn:aws:iam::{ACCOUNT}:role{properties.get('Path', '/')}{name}"


def _check(
    run: ModeRun, remediators: list[Function], report_only: set[str], problems: list[str]
) -> None:
    """Report mode changes nothing; enforce mode leaves nothing to report (but report-only
    functions, whose outcome is WOULD_REMEDIATE with manual steps in both modes); nothing fails;
    every encryption function shows its outcome, and the live state agrees."""
    from iam_grants import strip_open_trust, strip_wildcard_grants

    forbidden = {"report": "REMEDIATED", "enforce": "WOULD_REMEDIATE"}[run.mode]
    for row in run.rows:
        if row.status in (forbidden, "FAILED"):
            problems.append(f"{run.mode}: {row.event} ended {row.status}: {'; '.join(row.details)}")
    for row in run.encryption:
        expected = _expected(row, run.mode, report_only)
        if row.status != expected:
            problems.append(
                f"{run.mode}: {row.event} -> {row.function} ended {row.status}, expected "
                f"{expected}: {'; '.join(row.details)}"
            )
        elif (
            row.status == "WOULD_REMEDIATE"
            and row.function in report_only
            and not _steps(row.details)
        ):
            problems.append(f"{run.mode}: {row.event} -> {row.function}: no manual steps")
    shown = {row.function for row in run.encryption}
    for function in remediators:
        if function.handler_module != REMEDIATOR and function.logical_id not in shown:
            problems.append(
                f"{run.mode}: no event of ENCRYPTION_STORY reaches {function.logical_id}"
            )
    wanted = SEEDED if run.mode == "report" else ENFORCED
    for key, value in wanted.items():
        if not (run.state.get(key) or [""])[0].startswith(value):
            problems.append(f"{run.mode}: {key} is {run.state.get(key)}, expected {value!r}")
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


def _expected(row: Row, mode: str, report_only: set[str]) -> str:
    if row.event.endswith("-own-action"):
        return "SKIPPED"  # the loop guard: the function's own role made the call
    if row.function in report_only:
        return "WOULD_REMEDIATE"
    return "WOULD_REMEDIATE" if mode == "report" else "REMEDIATED"


def _live_state(aws: Aws) -> dict[str, list[str]]:
    """The documents and settings that show whether a fix is real, read back live."""
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
        **{key: [value] for key, value in _encryption_state(aws).items()},
    }


def _encryption_state(aws: Aws) -> dict[str, str]:
    """Each encryption resource's setting, one short line each (the SEEDED/ENFORCED keys)."""
    from botocore.exceptions import ClientError

    s3 = aws("s3")
    try:
        rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]
        bucket_sse = ", ".join(_rule(rule) for rule in rules["Rules"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        bucket_sse = "none"
    try:
        bucket_policy = _sids(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
            raise
        bucket_policy = "(no policy)"
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{TOPIC}"
    topic = aws("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    table = aws("dynamodb").describe_table(TableName=TABLE)["Table"].get("SSEDescription")
    ebs = aws("ec2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"]
    [db] = aws("rds").describe_db_instances(DBInstanceIdentifier=DB_INSTANCE)["DBInstances"]
    return {
        _BUCKET_SSE: bucket_sse,
        _BUCKET_POLICY: bucket_policy,
        _TOPIC_KEY: topic.get("KmsMasterKeyId") or "(none)",
        _QUEUE_SSE: f"{queue.get('SqsManagedSseEnabled')} ({_key_of(queue)})",
        _QUEUE_POLICY: _sids(queue["Policy"]) if queue.get("Policy") else "(no policy)",
        _TABLE_SSE: (
            f"{table['SSEType']} {table['Status']} {table['KMSMasterKeyArn'].split(':')[-1]}"
            if table
            else "(none: AWS-owned key)"
        ),
        _EBS: "on" if ebs else "off",
        _DB: f"StorageEncrypted={db['StorageEncrypted']}",
    }


def _key_of(queue: Mapping[str, Any]) -> str:
    key = queue.get("KmsMasterKeyId")
    return f"KmsMasterKeyId {key}" if key else "no KmsMasterKeyId"


def _rule(rule: Mapping[str, Any]) -> str:
    default = rule.get("ApplyServerSideEncryptionByDefault", {})
    algorithm = str(default.get("SSEAlgorithm"))
    if algorithm.startswith("aws:kms"):
        algorithm += f" ({default.get('KMSMasterKeyID') or 'aws/s3'})"
    return algorithm + (", bucket key on" if rule.get("BucketKeyEnabled") else "")


def _sids(policy: str) -> str:
    statements = json.loads(policy).get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return ", ".join(str(s.get("Sid") or "(no Sid)") for s in statements) or "(no statement)"


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
        _print_row((row.event, row.resource, row.actor, row.status), COLUMNS, row, run.mode)
    print(f"\nencryption: {run.settings}, all else as the template")
    print(" ".join(f"{name:<{w}}" for name, w in ENCRYPTION_COLUMNS).rstrip())
    for row in run.encryption:
        function = row.function.removesuffix("Function") or "-"
        cells = (row.event, function, row.resource, row.status)
        _print_row(cells, ENCRYPTION_COLUMNS, row, run.mode)
    print()
    _print_notes([row.note for row in run.rows if row.note])
    _print_notes([row.note for row in run.encryption if row.note], " (encryption)")
    counts = Counter(row.status for row in run.rows)
    encrypted = Counter(row.status for row in run.encryption)
    print(
        "outcomes: IAM "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        + "; encryption "
        + ", ".join(f"{n} {s}" for s, n in sorted(encrypted.items()))
    )


def _print_row(
    cells: tuple[str, ...], columns: tuple[tuple[str, int], ...], row: Row, mode: str
) -> None:
    lead = " ".join(_clip(c, w).ljust(w) for c, (_, w) in zip(cells, columns, strict=True))
    print(lead.rstrip())
    for detail in row.details:
        steps = _steps([detail])
        if not steps:
            print(textwrap.fill(detail, WIDTH, initial_indent="  - ", subsequent_indent="    "))
            continue
        # A manual change (report-only function): its numbered steps, one per line in enforce
        # mode; report mode gives their count (the same steps follow in enforce mode).
        lead_in = detail.split(" 1. ", 1)[0]
        if mode != "enforce":
            lead_in += f" {len(steps)} manual steps {REPORT_ONLY_NOTE}"
        print(textwrap.fill(lead_in, WIDTH, initial_indent="  - ", subsequent_indent="    "))
        if mode == "enforce":
            for step in steps:
                print(
                    textwrap.fill(
                        step,
                        WIDTH,
                        initial_indent="    ",
                        subsequent_indent="       ",
                        break_on_hyphens=False,  # keep CLI options whole
                    )
                )


def _steps(details: list[str]) -> list[str]:
    """The numbered manual steps ("...: 1. ...; 2. ...") a detail holds, if any."""
    for detail in details:
        if ": 1. " in detail:
            return re.split(r"; (?=\d+\. )", "1. " + detail.split(": 1. ", 1)[1])
    return []


def _print_notes(notes: list[Mapping[str, Any]], whose: str = "") -> None:
    """Each SNS notification: its subject and the message attributes subscribers filter on
    (the remediator attribute is the name in the subject)."""
    if not notes:
        print(f"no SNS notification published{whose}")
        return
    names = ("remediator", "mode", "status", "severity")
    first = notes[0]["attributes"]
    same = [k for k in names if all(n["attributes"].get(k) == first.get(k) for n in notes)]
    shared = " ".join(f"{k}={first.get(k)}" for k in same)
    # Attributes the subject shows ("[status] remediator: ...") are not repeated on its line.
    in_subject = [k for k in ("remediator", "status") if k not in same]
    if in_subject:
        shared += f" {', '.join(in_subject)}: see subject"
    print(f"{len(notes)} SNS notifications{whose}, attributes: {shared}")
    lines = []
    for note in notes:
        own = " ".join(
            f"{k}={note['attributes'].get(k)}" for k in names if k not in same + in_subject
        )
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
    for key, kind in (("roleName", "role/"), ("userName", "user/"), ("groupName", "group/"),
                      ("bucketName", ""), ("tableName", "table/"), ("queueName", ""),
                      ("dBInstanceIdentifier", "db:")):  # fmt: skip
        if key in request:
            return f"{kind}{request[key]}"
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
