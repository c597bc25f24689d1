"""`make bench`: cold start, warm event, AWS calls, artifact size and Powertools start-up cost.

Every figure is measured against a moto server over HTTP, which this script starts and resets.
Timings are medians over several runs, with their spread: the machines are shared and noisy.
Fresh interpreters import dependencies from cached bytecode (as Lambda's runtime and layers do)
but compile our own code from source each run (Lambda cannot write .pyc into /var/task).
The figures also go to build/bench.json. Exit status 0 even when a target is missed; 1 when
something breaks (for example a remediation that does not reach REMEDIATED).

moto 5.2 ignores DynamoDB UpdateTable's SSESpecification, so the DynamoDB fix could never be
verified: the moto server here applies it as DynamoDB does (scenario.moto_applies_dynamodb_sse),
and the DynamoDB function is measured end to end in enforce mode like the others.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
# `python tools/bench.py` puts tools/ first on sys.path; the tools import each other from the
# repository root and Lambda imports from the code folder (remediators/, the CodeUri).
for _path in (ROOT / "remediators", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from tools.routing import Function, functions, load_template, routes  # noqa: E402
from tools.scenario import (  # noqa: E402
    ACCOUNT,
    EVENTS,
    REGION,
    Stack,
    deploy_stack,
    prepare,
    replay,
    seed_db_instance,
    seed_encryption_event,
    seed_principals,
)

if TYPE_CHECKING:
    from core.clients import Clients

CODE = ROOT / "remediators"
TEMPLATE = ROOT / "template.yaml"
BUILD = ROOT / ".aws-sam" / "build"
SAM = ROOT / ".venv" / "sam" / "bin" / "sam"
OUT = ROOT / "build" / "bench.json"
PYCACHE = ROOT / "build" / "pycache"

COLD_RUNS = 9
WARM_RUNS = 25
# The encryption functions: fewer runs keep `make bench` within ~4 minutes on 2 CPUs.
COLD_RUNS_ENCRYPTION = 7
WARM_RUNS_ENCRYPTION = 15
STARTUP_RUNS = 7
COLD_TARGET_MS = 100.0
WARM_TARGET_MS = 50.0
CALLS_OVER_MINIMUM = 2
SIZE_TARGET_BYTES = 100 * 1024
STACK_NAME = "autoremediate"
PHYSICAL_SUFFIX = "1A2B3C4D5E6F"  # CloudFormation's random part of generated names
FLOOR_ROLE = "app-deploy-role"  # seed_principals creates it: the floor's one API call reads it
WIDTH = 100

# Each function's most representative sample: a real remediation (ledger write and SNS publish),
# or for a report-only function (RDS: no write permission at all) its WOULD_REMEDIATE.
SAMPLES: dict[str, str] = {
    "IamPolicyLeastPrivilegeFunction": "PutRolePolicy",
    "S3BucketEncryptionFunction": "CreateBucket",
    "S3BucketSecureTransportFunction": "CreateBucket",
    "SnsTopicEncryptionFunction": "CreateTopic",
    "SqsQueueEncryptionFunction": "CreateQueue",
    "DynamodbTableEncryptionFunction": "CreateTable",
    "Ec2EbsDefaultEncryptionFunction": "DisableEbsEncryptionByDefault",
    "RdsStorageEncryptionFunction": "CreateDBInstance",
}
FALLBACK = Function("IamPolicyLeastPrivilegeFunction", "iam_policy_least_privilege", ())
"""Used only while template.yaml does not exist."""
IAM_MODULE = "iam_policy_least_privilege"
# Where the bench departs from the template's parameter defaults, so that a fix happens: with
# SSE-S3 (the default) a bucket is compliant as AWS creates it (SSE-S3 since 2023).
BENCH_SETTINGS: dict[str, dict[str, str]] = {
    "S3BucketEncryptionFunction": {"S3_ENCRYPTION_LEVEL": "SSE-KMS"},
}
# Report-only functions never change anything, so the same event stays WOULD_REMEDIATE; their
# "compliant" warm runs need a compliant resource instead (seeded untimed).
COMPLIANT_SEED: dict[str, Callable[[Any], None]] = {
    "rds_storage_encryption": lambda aws: seed_db_instance(aws, encrypted=True),
}


class Minimum(NamedTuple):
    """The fewest API calls on the resource a change needs (reads to decide + writes; the
    ledger's and the notification's calls apart), and the expected status."""

    calls: int
    why: str
    status: str = "REMEDIATED"


# ListPolicyVersions is part of the minimum: without the version count a correct write cannot
# honour IAM's 5-version limit. ListAttached* is: report mode must not report (and verification
# must not accept) an attachment that no longer exists.
_MANAGED = (
    "GetPolicy + GetPolicyVersion + ListPolicyVersions (5-version limit) + CreatePolicyVersion"
)
_AWS_MANAGED = "ListAttached* (still attached?) + GetPolicy + GetPolicyVersion + Detach"
# Tags are part of the minimum: an exemption by tag must be honoured before any write.
_S3_ENC = "GetBucketEncryption + GetBucketTagging (exemptions) + PutBucketEncryption"
_S3_TLS = "GetBucketPolicy + GetBucketTagging (exemptions) + PutBucketPolicy"
_SNS = "GetTopicAttributes + ListTagsForResource (exemptions) + SetTopicAttributes"
# GetQueueUrl: records carry odd hosts; one SetQueueAttributes can set SSE and Policy together.
_SQS = "GetQueueUrl + GetQueueAttributes + ListQueueTags + 1 SetQueueAttributes (SSE + Policy)"
_DDB = "DescribeTable (SSE and status) + ListTagsOfResource (exemptions) + UpdateTable"
_FAILED = "errorCode: the call changed nothing"
_OWN = "loop guard: our own change"
MINIMUM: dict[str, dict[str, Minimum]] = {
    "iam_policy_least_privilege": {
        "PutRolePolicy": Minimum(2, "GetRolePolicy + PutRolePolicy"),
        "PutUserPolicy": Minimum(2, "GetUserPolicy + DeleteUserPolicy (nothing left)"),
        "PutGroupPolicy": Minimum(2, "GetGroupPolicy + DeleteGroupPolicy (nothing left)"),
        "AttachRolePolicy": Minimum(4, _AWS_MANAGED),
        "AttachGroupPolicy": Minimum(4, _AWS_MANAGED),
        "AttachUserPolicy": Minimum(4, "customer-managed: " + _MANAGED),
        "CreatePolicy": Minimum(4, _MANAGED),
        "CreatePolicyVersion": Minimum(4, _MANAGED),
        "SetDefaultPolicyVersion": Minimum(4, _MANAGED),
        "Config-Policy": Minimum(4, _MANAGED),
        "CreateRole": Minimum(2, "GetRole + UpdateAssumeRolePolicy"),
        "UpdateAssumeRolePolicy": Minimum(2, "GetRole + UpdateAssumeRolePolicy"),
        "Config-Role": Minimum(8, "GetRole (trust) + List/Get/PutRolePolicy + ListAttached + "
                                  "GetPolicy + GetPolicyVersion + Detach"),
        "Config-User": Minimum(4, "List/Get/DeleteUserPolicy + ListAttachedUserPolicies"),
        "Config-Group": Minimum(7, "List/Get/DeleteGroupPolicy + ListAttached + GetPolicy + "
                                   "GetPolicyVersion + Detach"),
        "Config-Role-deleted": Minimum(0, "the event says the role is gone", "SKIPPED"),
        "PutRolePolicy-failed-call": Minimum(0, "errorCode: the call changed nothing", "SKIPPED"),
        "PutRolePolicy-own-action": Minimum(0, "loop guard: our own change", "SKIPPED"),
    },
    # S3_ENCRYPTION_LEVEL=SSE-KMS (BENCH_SETTINGS): a bucket on none or AES256 gets aws:kms.
    "s3_bucket_encryption": {
        "CreateBucket": Minimum(3, _S3_ENC),
        "PutBucketEncryption": Minimum(3, _S3_ENC + " (AES256 -> aws:kms)"),
        "DeleteBucketEncryption": Minimum(3, _S3_ENC),
        "Config-Bucket": Minimum(3, _S3_ENC),
        "DeleteBucketEncryption-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "PutBucketEncryption-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    "s3_bucket_secure_transport": {
        "CreateBucket": Minimum(3, _S3_TLS),
        "PutBucketPolicy": Minimum(3, _S3_TLS + " (statements kept)"),
        "DeleteBucketPolicy": Minimum(3, _S3_TLS),
        "Config-Bucket": Minimum(3, _S3_TLS + " (its Deny misses the objects)"),
        "PutBucketPolicy-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "PutBucketPolicy-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    "sns_topic_encryption": {
        "CreateTopic": Minimum(3, _SNS),
        "SetTopicAttributes": Minimum(3, _SNS),
        "Config-Topic": Minimum(3, _SNS),
        "SetTopicAttributes-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "SetTopicAttributes-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    "sqs_queue_encryption": {
        "CreateQueue": Minimum(4, _SQS),
        "SetQueueAttributes": Minimum(4, _SQS),
        "Config-Queue": Minimum(4, _SQS),
        "SetQueueAttributes-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "SetQueueAttributes-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    "dynamodb_table_encryption": {
        "CreateTable": Minimum(3, _DDB),
        "UpdateTable": Minimum(3, _DDB),
        "Config-Table": Minimum(3, _DDB),
        "CreateTable-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "CreateTable-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    "ec2_ebs_default_encryption": {
        "DisableEbsEncryptionByDefault": Minimum(2, "GetEbsEncryptionByDefault + Enable (no "
                                                    "baseline key: no key calls)"),
        "DisableEbsEncryptionByDefault-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "DisableEbsEncryptionByDefault-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
    # Report-only: RDS cannot encrypt in place; the outcome is WOULD_REMEDIATE in every mode.
    "rds_storage_encryption": {
        "CreateDBInstance": Minimum(1, "DescribeDBInstances (report-only: manual steps)",
                                    "WOULD_REMEDIATE"),
        "Config-DBInstance": Minimum(1, "DescribeDBInstances (report-only: manual steps)",
                                     "WOULD_REMEDIATE"),
        "CreateDBCluster": Minimum(1, "DescribeDBClusters (report-only: manual steps)",
                                   "WOULD_REMEDIATE"),
        "CreateDBInstance-aurora": Minimum(2, "DescribeDBInstances + DescribeDBClusters (an Aurora"
                                              " instance is judged by its cluster)",
                                           "WOULD_REMEDIATE"),
        "CreateDBInstance-failed-call": Minimum(0, _FAILED, "SKIPPED"),
        "CreateDBInstance-own-action": Minimum(0, _OWN, "SKIPPED"),
    },
}  # fmt: skip

# Runs in a fresh interpreter: untimed setup, then timed `load` (imports) and `call` (first
# event). HTTP round trips of the call are timed apart, to tell moto's latency from ours, and
# CPU time beside wall time: CPU time hardly moves when other jobs load the machine.
PROBE = r"""
import json, sys, time
out, setup, load, call = sys.argv[1:5]
ns = {}
exec(setup, ns)
t0, c0 = time.perf_counter(), time.process_time()
exec(load, ns)
t1, c1 = time.perf_counter(), time.process_time()
http = [0.0, 0]
if call:
    import botocore.httpsession as h
    send = h.URLLib3Session.send
    def timed(self, request):
        start = time.perf_counter()
        try:
            return send(self, request)
        finally:
            http[0] += time.perf_counter() - start
            http[1] += 1
    h.URLLib3Session.send = timed
t2, c2 = time.perf_counter(), time.process_time()
if call:
    exec(call, ns)
t3, c3 = time.perf_counter(), time.process_time()
with open(out, "w") as f:
    json.dump({"load": t1 - t0, "call": t3 - t2, "load_cpu": c1 - c0, "call_cpu": c3 - c2,
               "http": http[0], "requests": http[1], "result": ns.get("result")}, f)
"""
PROBE_SETUP = (
    "import json, sys, types\n"
    "sys.path.insert(0, {code!r})\n"
    "event = json.load(open({event!r}))\n"
    "context = types.SimpleNamespace(aws_request_id='bench', function_name={name!r})\n"
)
# Moto loads all ~1,300 AWS-managed policies on every reset (seconds each); keep those named.
# DynamoDB's UpdateTable SSESpecification is applied as DynamoDB does (moto ignores it).
SERVER = r"""
import json, sys
import moto.iam.models as iam
keep = set(sys.argv[2].split(",")) - {""}
every = json.loads(iam.aws_managed_policies_data)
iam.aws_managed_policies_data = json.dumps({k: v for k, v in every.items() if k in keep})
sys.path.insert(0, sys.argv[3])
from tools.scenario import moto_applies_dynamodb_sse
moto_applies_dynamodb_sse()
from moto.server import main
main(["-H", "127.0.0.1", "-p", sys.argv[1]])
"""
STARTUP: dict[str, str] = {
    "Logger() (kept)": "from aws_lambda_powertools import Logger\nLogger(service='autoremediate')",
    "Metrics()": "from aws_lambda_powertools import Metrics\nMetrics(namespace='Autoremediate')",
    "single_metric (kept)": "from aws_lambda_powertools.metrics import MetricUnit, single_metric",
    "Tracer() (dropped)": "from aws_lambda_powertools import Tracer\nTracer()",
    "EventBridgeEvent (kept)": (
        "from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent\n"
        "EventBridgeEvent(event).detail"
    ),
    "parser + EventBridgeModel": (
        "from aws_lambda_powertools.utilities.parser import parse\n"
        "from aws_lambda_powertools.utilities.parser.models import EventBridgeModel\n"
        "parse(event=event, model=EventBridgeModel)"
    ),
    "idempotency": (
        "from aws_lambda_powertools.utilities.idempotency import (\n"
        "    DynamoDBPersistenceLayer, idempotent_function)"
    ),
    "kept, together": (
        "from aws_lambda_powertools import Logger\n"
        "from aws_lambda_powertools.metrics import MetricUnit, single_metric\n"
        "from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent\n"
        "Logger(service='autoremediate')\n"
        "EventBridgeEvent(event).detail"
    ),
    "import core.runner": "import core.runner",
    "handler module": "import {module}",
    "handler module, .pyc cached": "import {module}",
}


class BenchError(RuntimeError):
    """Something broke: the figures would be meaningless."""


@dataclass(frozen=True)
class Stats:
    """Median and spread of timings, in milliseconds."""

    n: int
    median: float
    q1: float
    q3: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        if len(values) < 2:
            raise BenchError(f"need at least 2 values for statistics, got {len(values)}")
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(len(values), median, q1, q3, min(values), max(values))

    def __str__(self) -> str:
        return (
            f"{self.median:7.1f}  [IQR {self.q1:.1f}-{self.q3:.1f}, "
            f"min {self.low:.1f}, max {self.high:.1f}, n={self.n}]"
        )


@dataclass
class Target:
    name: str
    passed: bool
    figure: str


@dataclass
class Report:
    data: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Breakage that leaves the other figures valid: reported at the end, exit status 1."""

    def target(self, name: str, passed: bool, figure: str) -> None:
        self.targets.append(Target(name, passed, figure))


# ------------------------------------------------------------------ moto server and the account


class Moto:
    """A moto server in its own process (as AWS is remote), reset between runs."""

    def __init__(self, managed_policies: Sequence[str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        env = {**_pycache_env(), "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(port), ",".join(managed_policies), str(ROOT)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise BenchError("the moto server did not start") from None
                time.sleep(0.1)

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=30).close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def fresh_account(moto: Moto, aws: Clients, module: str, event_name: str) -> tuple[Stack, Any]:
    """Reset moto, deploy the stack, seed principals (the floor reads one), then replay what an
    IAM sample event records or seed the resource an encryption sample event describes."""
    moto.reset()
    stack = deploy_stack(aws)
    seed_principals(aws)
    if module == IAM_MODULE:
        return stack, prepare(aws, event_name)
    try:
        return stack, seed_encryption_event(aws, module, event_name)
    except ValueError as error:
        raise BenchError(f"tools/scenario.py cannot seed {module} {event_name}: {error}") from None


def aws_managed_policies() -> list[str]:
    """Names of the AWS-managed policies any sample event names."""
    names = set()
    for path in EVENTS.glob("*/*.json"):
        for word in path.read_text().replace('"', " ").split():
            if word.startswith("arn:aws:iam::aws:policy/"):
                names.add(word.rsplit("/", 1)[1].rstrip(",}"))
    return sorted(names)


# ------------------------------------------------------------------ functions and environments


def discover() -> tuple[dict[str, Any], list[Function]]:
    """The template and its functions (the single IAM function until template.yaml exists)."""
    if not TEMPLATE.exists():
        return {}, [FALLBACK]
    template = load_template(TEMPLATE)
    return template, functions(template)


def function_env(template: Mapping[str, Any], fn: Function, stack: Stack) -> dict[str, str]:
    """The function's environment as the template sets it, for Mode=enforce and the parameter
    defaults, but BENCH_SETTINGS."""
    if not template:
        return {
            **stack.env("enforce"),
            "WILDCARD_LEVEL": "service",
            "POWERTOOLS_SERVICE_NAME": "autoremediate",
            "POWERTOOLS_METRICS_NAMESPACE": "Autoremediate",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
    env = {}
    for name, value in fn.environment.items():
        resolved = _resolve(value, template, stack)
        env[name] = resolved if isinstance(resolved, str) else ",".join(resolved)
    return {**env, **BENCH_SETTINGS.get(fn.logical_id, {})}


def _resolve(value: Any, template: Mapping[str, Any], stack: Stack) -> str | list[str]:
    """Resolve the few intrinsics environment variables use: Ref (parameter or resource), Join."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, Mapping) and len(value) == 1:
        [(key, arg)] = value.items()
        if key == "Ref" and arg == "Mode":
            return "enforce"
        if key == "Ref" and arg in template.get("Parameters", {}):
            parameter = template["Parameters"][arg]
            default = str(parameter.get("Default", ""))
            is_list = parameter.get("Type") == "CommaDelimitedList"
            return [p for p in default.split(",") if p] if is_list else default
        if key == "Ref" and arg in template.get("Resources", {}):
            kind = template["Resources"][arg].get("Type")
            by_type = {"AWS::DynamoDB::Table": stack.table, "AWS::SNS::Topic": stack.topic_arn}
            if kind in by_type:
                return by_type[kind]
        if key == "Fn::GetAtt":
            logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            resource = template.get("Resources", {}).get(logical_id, {})
            if resource.get("Type") == "AWS::IAM::Role" and attribute == "Arn":
                return _role_arn(logical_id, resource.get("Properties", {}))
        if key == "Fn::Join":
            separator, items = arg
            resolved = (
                _resolve(items, template, stack)
                if isinstance(items, Mapping)
                else [str(_resolve(i, template, stack)) for i in items]
            )
            return str(separator).join([resolved] if isinstance(resolved, str) else resolved)
    raise BenchError(f"bench cannot resolve environment value {value!r}")


def _role_arn(logical_id: str, properties: Mapping[str, Any]) -> str:
    """The ARN CloudFormation gives a role: stack-LogicalId-SUFFIX under its path, the name that
    tools/scenario.py's own-action sample uses for the stack `autoremediate`."""
    name = properties.get("RoleName")
    if not isinstance(name, str):
        name = f"{STACK_NAME}-{logical_id}-{PHYSICAL_SUFFIX}"
    return f"arn:aws:iam::{ACCOUNT}:role{properties.get('Path', '/')}{name}"


def lambda_env(url: str, fn: Function, code: Path, variables: Mapping[str, str]) -> dict[str, str]:
    """What a Lambda sandbox has: fake credentials here, the endpoint, the template's variables."""
    return {
        **_pycache_env(),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": url,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(code),
        **variables,
    }


def _pycache_env() -> dict[str, str]:
    """A clean environment whose interpreters cache bytecode under build/pycache."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    return {**env, "PYTHONPYCACHEPREFIX": str(PYCACHE), "PYTHONUNBUFFERED": "1"}


class CodeCopies:
    """Fresh copies of a function's code: a new path each run, so nothing is cached (as Lambda)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0

    def fresh(self, source: Path) -> Path:
        self.count += 1
        target = self.root / f"code-{self.count}"
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return target


def code_dir(fn: Function) -> Path:
    """The built artifact Lambda would run, or remediators/ when it has not been built."""
    built = BUILD / fn.logical_id
    return built if built.is_dir() else CODE


def probe(
    env: Mapping[str, str], setup: str, load: str, call: str = "", warm_up: bool = False
) -> dict[str, Any]:
    """Run PROBE in a fresh interpreter; stdout (logs, EMF) goes to /dev/null, as it costs.

    Only warm-up runs write bytecode (of the dependencies, into build/pycache); measured runs
    read it but write none, as Lambda cannot write into /var/task.
    """
    env = dict(env) if warm_up else {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(out), setup, load, call],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"probe failed ({load!r}):\n{done.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result
    finally:
        out.unlink(missing_ok=True)


# ------------------------------------------------------------------ 1. cold start


def cold_start(
    moto: Moto,
    aws: Clients,
    template: Mapping[str, Any],
    fns: list[Function],
    copies: CodeCopies,
    report: Report,
) -> None:
    """Floor and cold start in fresh interpreters, alternating, after a reset and re-seed each."""
    header("1. Cold start: fresh interpreter, import + first event (enforce), vs the boto3 floor")
    print(
        "   floor = `import boto3` + one call; cold = import handler module + its first event;\n"
        f"   ms, medians of {COLD_RUNS} runs (IAM) or {COLD_RUNS_ENCRYPTION} (encryption), +1 "
        "warm-up each; differences are paired per run"
    )
    results: dict[str, Any] = {}
    for fn in fns:
        sample = _sample(fn)
        expected = _status(fn, sample)
        source = code_dir(fn)
        runs: dict[str, list[float]] = {}
        ratios: list[float] = []
        requests = 0
        variables: dict[str, str] = {}
        cold_runs = COLD_RUNS if fn.handler_module == IAM_MODULE else COLD_RUNS_ENCRYPTION
        for run in range(cold_runs + 1):
            stack, _ = fresh_account(moto, aws, fn.handler_module, sample)
            code = copies.fresh(source)
            variables = function_env(template, fn, stack)
            env = lambda_env(moto.url, fn, code, variables)
            event_path = EVENTS / fn.handler_module / f"{sample}.json"
            setup = PROBE_SETUP.format(code=str(code), event=str(event_path), name=fn.logical_id)
            jobs: dict[str, tuple[str, str]] = {
                "floor": (
                    "import boto3",
                    f"result = boto3.client('iam').get_role(RoleName={FLOOR_ROLE!r})"
                    "['Role']['RoleName']",
                ),
                "floor_sts": (
                    "import boto3",
                    "result = boto3.client('sts').get_caller_identity()['Account']",
                ),
                "cold": (
                    f"import importlib\nfn = importlib.import_module({fn.handler_module!r})",
                    "result = fn.handler(event, context)",
                ),
            }
            order = list(jobs) if run % 2 else list(reversed(jobs))
            got = {name: probe(env, setup, *jobs[name], warm_up=run == 0) for name in order}
            _expect(got["cold"]["result"] or [], expected, fn, f"{sample} (cold)")
            if run == 0:
                continue  # warm-up: fills the bytecode cache of the dependencies
            figures = {
                f"{name}_{part}": 1000 * value[part]
                for name, value in got.items()
                for part in ("load", "call", "http", "load_cpu", "call_cpu")
            }
            for name in jobs:
                figures[name] = figures[f"{name}_load"] + figures[f"{name}_call"]
                figures[f"{name}_cpu"] = figures[f"{name}_load_cpu"] + figures[f"{name}_call_cpu"]
            figures["over_floor"] = figures["cold"] - figures["floor"]
            figures["over_floor_cpu"] = figures["cold_cpu"] - figures["floor_cpu"]
            figures["over_floor_outside_http"] = figures["over_floor"] - (
                figures["cold_http"] - figures["floor_http"]
            )
            for key, value in figures.items():
                runs.setdefault(key, []).append(value)
            ratios.append(figures["cold"] / figures["floor"])
            requests = got["cold"]["requests"]
        stats = {k: Stats.of(v) for k, v in runs.items()}
        ratio = Stats.of(ratios)
        over = stats["over_floor"]
        print(
            f"\n   {fn.logical_id}: {fn.handler_module}, event {sample} ({expected}), code "
            f"{_rel(source)}"
        )
        print("   env: " + " ".join(f"{k}={v}" for k, v in sorted(variables.items())))
        rows = (
            ("floor: import boto3", "floor_load"),
            ("floor: + iam.get_role (client + 1 request)", "floor_call"),
            ("floor: total", "floor"),
            ("(floor with sts.get_caller_identity instead)", "floor_sts"),
            ("cold: import handler module", "cold_load"),
            (f"cold: first event ({requests} requests)", "cold_call"),
            ("cold: total (import + first event)", "cold"),
            ("cold - floor", "over_floor"),
            ("cold - floor, outside HTTP round trips", "over_floor_outside_http"),
            (f"HTTP round trips to moto, cold ({requests})", "cold_http"),
            ("HTTP round trips to moto, floor (1)", "floor_http"),
            ("CPU time: floor", "floor_cpu"),
            ("CPU time: cold (import + first event)", "cold_cpu"),
            ("CPU time: cold - floor", "over_floor_cpu"),
        )
        for label, key in rows:
            print(f"   {label:<48}{stats[key]}")
        print(
            f"   {'ratio cold / floor':<48}{ratio.median:7.2f}  "
            f"[IQR {ratio.q1:.2f}-{ratio.q3:.2f}, min {ratio.low:.2f}, max {ratio.high:.2f}]"
        )
        report.target(
            f"cold start {fn.logical_id} <= {COLD_TARGET_MS:.0f} ms over the floor",
            over.median <= COLD_TARGET_MS,
            f"+{over.median:.0f} ms (cold {stats['cold'].median:.0f} ms, floor "
            f"{stats['floor'].median:.0f} ms, x{ratio.median:.2f}; outside HTTP "
            f"+{stats['over_floor_outside_http'].median:.0f} ms; CPU time "
            f"+{stats['over_floor_cpu'].median:.0f} ms)",
        )
        results[fn.logical_id] = {
            "event": sample,
            "status": expected,
            "code": _rel(source),
            "env": variables,
            "http_requests": requests,
            **{f"{k}_ms": asdict(v) for k, v in stats.items()},
            "ratio": asdict(ratio),
            "target_ms": COLD_TARGET_MS,
        }
    report.data["cold_start"] = results


# ------------------------------------------------------------------ 2. warm events


def warm(
    moto: Moto, aws: Clients, template: Mapping[str, Any], fns: list[Function], report: Report
) -> None:
    """The module's own handler in this process: a first call, then re-seeded remediations."""
    header("2. Warm event: same process, after a first call; moto over HTTP")
    print(
        f"   remediation: the violation is re-seeded (untimed) before each of {WARM_RUNS} (IAM) or"
        f" {WARM_RUNS_ENCRYPTION}\n   (encryption) events; compliant: the same event again,"
        " nothing to do (report-only RDS:\n   the instance re-created encrypted first, untimed);"
        " ms"
    )
    results: dict[str, Any] = {}
    http = _HttpTimer()
    for fn in fns:
        sample = _sample(fn)
        expected = _status(fn, sample)
        warm_runs = WARM_RUNS if fn.handler_module == IAM_MODULE else WARM_RUNS_ENCRYPTION
        stack, event = fresh_account(moto, aws, fn.handler_module, sample)
        env = lambda_env(moto.url, fn, CODE, function_env(template, fn, stack))
        env.pop("PYTHONPYCACHEPREFIX")
        timings: dict[str, list[float]] = {}
        requests: dict[str, int] = {}
        with _environment(env), _stdout_to_devnull(), http:
            handler = importlib.import_module(fn.handler_module).handler
            context = SimpleNamespace(aws_request_id="bench", function_name=fn.logical_id)
            started = time.perf_counter()
            _expect(handler(event, context), expected, fn, sample)
            first = 1000 * (time.perf_counter() - started)
            for kind, status in (("remediation", expected), ("compliant", "COMPLIANT")):
                if kind == "compliant" and fn.handler_module in COMPLIANT_SEED:
                    COMPLIANT_SEED[fn.handler_module](aws)
                for _ in range(warm_runs):
                    if kind == "remediation":
                        _reseed(moto, aws, fn, sample, event)
                    http.reset()
                    started, cpu = time.perf_counter(), time.process_time()
                    outcomes = handler(event, context)
                    elapsed = 1000 * (time.perf_counter() - started)
                    timings.setdefault(f"{kind}_cpu", []).append(1000 * (time.process_time() - cpu))
                    _expect(outcomes, status, fn, sample)
                    timings.setdefault(kind, []).append(elapsed)
                    timings.setdefault(f"{kind}_http", []).append(1000 * http.seconds)
                    timings.setdefault(f"{kind}_outside_http", []).append(
                        elapsed - 1000 * http.seconds
                    )
                    requests[kind] = http.requests
        stats = {k: Stats.of(v) for k, v in timings.items()}
        print(f"\n   {fn.logical_id}: event {sample}")
        for kind, status in (("remediation", expected), ("compliant", "COMPLIANT, quiet")):
            print(f"   {f'{kind} ({status})':<48}{stats[kind]}")
            print(f"   {f'  HTTP round trips ({requests[kind]})':<48}{stats[f'{kind}_http']}")
            print(f"   {'  outside HTTP (our code + botocore)':<48}{stats[f'{kind}_outside_http']}")
            print(f"   {'  CPU time of this process':<48}{stats[f'{kind}_cpu']}")
        median = stats["remediation"].median
        report.target(
            f"warm remediation {fn.logical_id} <= {WARM_TARGET_MS:.0f} ms",
            median <= WARM_TARGET_MS,
            f"{median:.0f} ms, of which {stats['remediation_http'].median:.0f} ms in "
            f"{requests['remediation']} HTTP round trips (compliant "
            f"{stats['compliant'].median:.0f} ms)",
        )
        results[fn.logical_id] = {
            "event": sample,
            "status": expected,
            "first_call_in_bench_process_ms": first,
            "requests": requests,
            "target_ms": WARM_TARGET_MS,
            **{f"{k}_ms": asdict(v) for k, v in stats.items()},
        }
    report.data["warm"] = results


def _reseed(moto: Moto, aws: Clients, fn: Function, sample: str, event: Mapping[str, Any]) -> None:
    """Put the violation back: seed the encryption resource again (idempotent), replay the IAM
    event's call (CloudTrail), or rebuild the account."""
    if fn.handler_module != IAM_MODULE:
        seed_encryption_event(aws, fn.handler_module, sample)
    elif event.get("detail-type") == "AWS API Call via CloudTrail":
        replay(aws, dict(event))
    else:
        fresh_account(moto, aws, fn.handler_module, sample)


class _HttpTimer:
    """Time spent in HTTP round trips in this process (botocore's URLLib3Session.send)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.requests = 0
        self._original: Any = None

    def reset(self) -> None:
        self.seconds, self.requests = 0.0, 0

    def __enter__(self) -> _HttpTimer:
        from botocore.httpsession import URLLib3Session

        self._original = original = URLLib3Session.send

        def send(session: Any, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(session, request)
            finally:
                self.seconds += time.perf_counter() - started
                self.requests += 1

        URLLib3Session.send = send  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *_: object) -> None:
        from botocore.httpsession import URLLib3Session

        URLLib3Session.send = self._original  # type: ignore[method-assign]


# ------------------------------------------------------------------ 3. AWS calls per remediation


def api_calls(
    moto: Moto, aws: Clients, template: Mapping[str, Any], fns: list[Function], report: Report
) -> None:
    """Count each call of each sample event's handling, in enforce mode, by service/operation;
    the calls on the resource apart from the ledger's (DynamoDB) and the notification's (SNS)."""
    import boto3

    from core.clients import Clients
    from core.handler import lambda_handler

    header("3. AWS API calls per event (enforce mode), calls on the resource vs the minimum")
    calls: list[tuple[str, str, str]] = []  # (service, operation, resource|ledger|notify)
    current: list[Stack] = []
    session = boto3.Session()

    def count(model: Any, params: Mapping[str, Any], **_: Any) -> None:
        service, operation, stack = model.service_model.service_name, model.name, current[-1]
        kind = "resource"
        if service == "dynamodb" and params.get("TableName") == stack.table:
            kind = "ledger"
        elif (
            service == "sns"
            and operation == "Publish"
            and params.get("TopicArn") == (stack.topic_arn)
        ):
            kind = "notify"
        calls.append((service, operation, kind))

    # Before the request is built: with the API parameters (whose table? whose topic?).
    session.events.register("before-parameter-build", count)
    print(
        "   reads/writes = calls on the resource (Get/List/Describe are reads); min = the fewest"
        " such calls\n   the change needs; over = calls - min (flagged above"
        f" +{CALLS_OVER_MINIMUM}); ddb = ledger, sns = notification;\n"
        "   * = the template's rule drops this event (invoked directly anyway)"
    )
    results: dict[str, Any] = {}
    for fn in fns:
        names = sorted(p.stem for p in (EVENTS / fn.handler_module).glob("*.json"))
        width = max(28, *(len(n) + 3 for n in names))
        print(f"\n   {fn.logical_id} ({fn.handler_module})")
        print(
            f"   {'event':<{width}}{'status':<16}{'reads':>6}{'writes':>7}{'min':>5}{'over':>6}"
            f"{'ddb':>5}{'sns':>5}  minimum: why"
        )
        module = importlib.import_module(fn.handler_module)
        table = MINIMUM.get(fn.handler_module, {})
        per_event: dict[str, Any] = {}
        worst: tuple[int, str] = (-1, "")
        for name in names:
            stack, event = fresh_account(moto, aws, fn.handler_module, name)
            current.append(stack)
            handler = lambda_handler(
                module.REMEDIATOR, Clients(session=session, endpoint_url=moto.url)
            )
            calls.clear()
            with _environment(function_env(template, fn, stack)), _stdout_to_devnull():
                outcomes = handler(event, None)
            minimum = table.get(name)
            status = ",".join(str(o["status"]) for o in outcomes)
            unexpected = bool(minimum and status != minimum.status) or "FAILED" in status
            if unexpected:
                expected = minimum.status if minimum else "no FAILED outcome"
                report.problems.append(f"{fn.logical_id} {name}: {outcomes!r}, expected {expected}")
            own = [f"{s}:{o}" for s, o, kind in calls if kind == "resource"]
            reads = [c for c in own if c.split(":")[1].startswith(("Get", "List", "Describe"))]
            by_kind = Counter(kind for _, _, kind in calls)
            over = len(own) - minimum.calls if minimum else None
            routed = not template or bool(routes(template, event))
            flag = "" if over is None or over <= CALLS_OVER_MINIMUM else "  <-- over"
            flag += "  <-- UNEXPECTED STATUS" if unexpected else ""
            label = name + ("" if routed else " *")
            print(
                f"   {label:<{width}}{status:<16}{len(reads):>6}{len(own) - len(reads):>7}"
                f"{minimum.calls if minimum else '?':>5}"
                f"{'?' if over is None else f'{over:+d}':>6}"
                f"{by_kind['ledger']:>5}{by_kind['notify']:>5}  "
                f"{minimum.why if minimum else 'no minimum defined in bench.py'}{flag}"
            )
            if own:
                print(f"   {'':<{width}}{' '.join(own)}")
            if over is not None and over > worst[0]:
                worst = (over, name)
            per_event[name] = {
                "status": status,
                "routed": routed,
                "reads": len(reads),
                "writes": len(own) - len(reads),
                "resource_calls": own,
                "minimum": minimum.calls if minimum else None,
                "minimum_why": minimum.why if minimum else None,
                "over_minimum": over,
                "calls": Counter(f"{s}:{o}" for s, o, _ in calls),
            }
        flagged = sorted(
            k
            for k, v in per_event.items()
            if v["over_minimum"] is not None and v["over_minimum"] > CALLS_OVER_MINIMUM
        )
        report.target(
            f"API calls {fn.logical_id} <= minimum + {CALLS_OVER_MINIMUM}",
            not flagged,
            f"worst {worst[0]:+d} ({worst[1]}); over: {', '.join(flagged) or 'none'}",
        )
        results[fn.logical_id] = per_event
    report.data["api_calls"] = results


# ------------------------------------------------------------------ 4. artifact size


def ensure_built(fns: list[Function]) -> None:
    """`sam build` when a function's artifact is missing (make bench has just built it)."""
    if any(not (BUILD / fn.logical_id).is_dir() for fn in fns) and TEMPLATE.exists():
        print("(not built: running sam build)", flush=True)
        built = subprocess.run(
            [str(SAM), "build", "--template-file", str(TEMPLATE)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if built.returncode != 0:
            raise BenchError(f"sam build failed:\n{built.stdout[-1500:]}{built.stderr[-1500:]}")


def artifact_size(fns: list[Function], report: Report) -> None:
    """Bytes of each built function, raw and as a deflate zip (what Lambda stores)."""
    header("4. Artifact size: .aws-sam/build/<LogicalId>/")
    results: dict[str, Any] = {}
    for fn in fns:
        folder = BUILD / fn.logical_id
        if not folder.is_dir():
            raise BenchError(f"{folder} does not exist after sam build")
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        raw = sum(p.stat().st_size for p in files)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, path.relative_to(folder))
        zipped = len(buffer.getvalue())
        largest = sorted(files, key=lambda p: p.stat().st_size, reverse=True)[:3]
        print(
            f"   {fn.logical_id:<40}{len(files):>4} files  {raw / 1024:7.1f} KB raw  "
            f"{zipped / 1024:7.1f} KB zip"
        )
        print(
            "   largest: "
            + ", ".join(
                f"{p.relative_to(folder)} ({p.stat().st_size / 1024:.1f} KB)" for p in largest
            )
        )
        report.target(
            f"artifact {fn.logical_id} <= {SIZE_TARGET_BYTES // 1024} KB (zip)",
            zipped <= SIZE_TARGET_BYTES,
            f"{zipped / 1024:.1f} KB zip, {raw / 1024:.1f} KB raw, {len(files)} files",
        )
        results[fn.logical_id] = {
            "files": len(files),
            "raw_bytes": raw,
            "zip_bytes": zipped,
            "target_bytes": SIZE_TARGET_BYTES,
        }
    report.data["artifact"] = results


# ------------------------------------------------------------------ 5. start-up cost of features


def startup(fns: list[Function], copies: CodeCopies, report: Report) -> None:
    """Each feature's import (and construction) in a fresh interpreter, after `import boto3`."""
    header("5. Start-up cost over the boto3 floor: fresh interpreter, `import boto3` untimed first")
    fn = fns[0]
    source = code_dir(fn)
    cached = copies.fresh(source)
    event = EVENTS / fn.handler_module / f"{_sample(fn)}.json"
    timings: dict[str, list[float]] = {k: [] for k in STARTUP}
    cpu: dict[str, list[float]] = {k: [] for k in STARTUP}
    for run in range(STARTUP_RUNS + 1):
        for label, snippet in STARTUP.items():
            code = cached if "cached" in label else copies.fresh(source)
            env = lambda_env(
                "http://127.0.0.1:9",
                fn,
                code,
                {
                    "POWERTOOLS_SERVICE_NAME": "autoremediate",
                    "POWERTOOLS_LOG_LEVEL": "INFO",
                    "POWERTOOLS_METRICS_NAMESPACE": "Autoremediate",
                },
            )
            setup = PROBE_SETUP.format(code=str(code), event=str(event), name=fn.logical_id)
            load = snippet.format(module=fn.handler_module)
            got = probe(env, setup + "import boto3\n", load, warm_up=run == 0)
            if run:
                timings[label].append(1000 * got["load"])
                cpu[label].append(1000 * got["load_cpu"])
    print(
        f"   wall ms, medians of {STARTUP_RUNS} (+1 warm-up), and CPU ms; our code compiled from"
        " source unless '.pyc cached'"
    )
    results = {}
    for label, values in timings.items():
        stats, cpu_stats = Stats.of(values), Stats.of(cpu[label])
        print(f"   {label:<40}{stats}  cpu {cpu_stats.median:5.1f}")
        results[label] = {**asdict(stats), "cpu_median": cpu_stats.median}
    compiling = Stats.of([_compile_ms(source) for _ in range(STARTUP_RUNS)])
    print(f"   {'(compiling our .py alone, in-process)':<40}{compiling}")
    results["compile our code"] = asdict(compiling)
    report.data["startup_over_boto3_ms"] = results


def _compile_ms(folder: Path) -> float:
    """What Lambda spends compiling our sources at each cold start (no .pyc is shipped)."""
    sources = [(str(p), p.read_text()) for p in sorted(folder.rglob("*.py"))]
    started = time.perf_counter()
    for name, text in sources:
        compile(text, name, "exec")
    return 1000 * (time.perf_counter() - started)


def import_profile(fns: list[Function], copies: CodeCopies, report: Report) -> None:
    """One `python -X importtime` of the handler module: the 10 largest imports above boto3."""
    header("6. Import profile of the handler module above boto3 (-X importtime, one run)")
    for fn in fns:
        code = copies.fresh(code_dir(fn))
        done = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-c",
                f"import sys; sys.path.insert(0, {str(code)!r}); import boto3; "
                f"import {fn.handler_module}",
            ],
            env=lambda_env("http://127.0.0.1:9", fn, code, {}),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise BenchError(f"importtime failed:\n{done.stderr[-2000:]}")
        rows = _importtime_above_boto3(done.stderr)
        total = sum(self_us for _, self_us, _ in rows) / 1000
        print(
            f"   {fn.logical_id}: {total:.0f} ms of imports after boto3 "
            f"({len(rows)} modules); top 10 by cumulative ms (self ms):"
        )
        top = sorted(rows, key=lambda r: -r[0])[:10]
        for cumulative, self_us, name in top:
            print(f"   {cumulative / 1000:8.1f} ({self_us / 1000:5.1f})  {name}")
        report.data.setdefault("import_profile", {})[fn.logical_id] = {
            "total_ms": total,
            "top": [
                {"module": n.strip(), "cumulative_ms": c / 1000, "self_ms": s / 1000}
                for c, s, n in top
            ],
        }


def _importtime_above_boto3(stderr: str) -> list[tuple[int, int, str]]:
    """(cumulative us, self us, indented name) of each import after `import boto3` completed."""
    rows: list[tuple[int, int, str]] = []
    after = False
    for line in stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[0].startswith("import time:"):
            continue
        name = parts[2].rstrip()
        if not after:
            after = name == " boto3"
            continue
        try:
            rows.append((int(parts[1]), int(parts[0].split(":")[1]), name))
        except ValueError:
            continue
    return rows


# ------------------------------------------------------------------ helpers and main


def _sample(fn: Function) -> str:
    if fn.logical_id not in SAMPLES:
        raise BenchError(f"add {fn.logical_id}'s representative sample event to SAMPLES")
    return SAMPLES[fn.logical_id]


def _status(fn: Function, sample: str) -> str:
    """The status the sample must reach: REMEDIATED, or WOULD_REMEDIATE for report-only ones."""
    minimum = MINIMUM.get(fn.handler_module, {}).get(sample)
    return minimum.status if minimum else "REMEDIATED"


def _expect(outcomes: Any, status: str, fn: Function, sample: str) -> None:
    if [o.get("status") for o in outcomes] != [status]:
        raise BenchError(f"{fn.logical_id} {sample}: {outcomes!r}, expected one {status}")


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    """Logs and EMF lines go to /dev/null at the file-descriptor level, as cheap as in Lambda."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """A temporary folder for code copies; their bytecode (mirrored under build/pycache by the
    warm-up runs) goes with it."""
    with tempfile.TemporaryDirectory(prefix="bench-code-") as name:
        folder = Path(name)
        try:
            yield folder
        finally:
            shutil.rmtree(PYCACHE / folder.relative_to(folder.anchor), ignore_errors=True)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def header(title: str) -> None:
    print(f"\n{title}\n{'-' * min(len(title), WIDTH)}", flush=True)


def summarise(report: Report, seconds: float) -> None:
    header("Targets")
    for target in report.targets:
        print(f"   {'PASS' if target.passed else 'MISS'}  {target.name}: {target.figure}")
    for problem in report.problems:
        print(f"   BROKEN  {problem}")
    report.data["targets"] = [asdict(t) for t in report.targets]
    report.data["problems"] = report.problems
    report.data["seconds"] = seconds
    report.data["load_after"] = note = load_note()
    print(f"   ({note})")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(report.data, indent=2, default=str) + "\n")
    print(
        f"\n{len(report.targets)} targets, {sum(not t.passed for t in report.targets)} missed; "
        f"{seconds:.0f} s; figures in {_rel(OUT)}"
    )


def load_note() -> str:
    """How busy the machine is: wall times stretch when other jobs share the CPUs."""
    one_minute = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    note = f"load average {one_minute:.1f} on {cpus} CPUs"
    if one_minute > cpus + 1:  # the bench itself keeps about one CPU busy
        note += ": busy, wall times are inflated; CPU-time figures are the steadier ones"
    return note


def versions() -> dict[str, str]:
    from importlib.metadata import version

    packages = ("boto3", "botocore", "aws-lambda-powertools", "moto", "aws-xray-sdk", "pydantic")
    found = {"python": sys.version.split()[0]}
    for package in packages:
        try:
            found[package] = version(package)
        except ImportError:
            found[package] = "absent"
    return found


def main() -> int:
    """Measure, print, write build/bench.json; 1 when something broke."""
    started = time.perf_counter()
    # Our own imports (moto, boto3) from cached bytecode too: build/ is ours and git-ignored.
    PYCACHE.mkdir(parents=True, exist_ok=True)
    sys.pycache_prefix = str(PYCACHE)
    sys.dont_write_bytecode = False
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    report = Report()
    report.data["versions"] = found = versions()
    print("autoremediate bench: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    print("(Lambda runs python3.13 on arm64; these figures compare, they do not predict)")
    report.data["load_before"] = note = load_note()
    print(note)
    template, fns = discover()
    print("functions: " + ", ".join(f"{f.logical_id} -> {f.handler_module}" for f in fns))
    for logical_id, settings in BENCH_SETTINGS.items():
        values = " ".join(f"{k}={v}" for k, v in settings.items())
        print(f"{logical_id}: {values} (not the template default), so that a fix happens")
    print(
        "RdsStorageEncryptionFunction is report-only: WOULD_REMEDIATE (manual steps) is its"
        " success\nmoto server patched: DynamoDB UpdateTable applies SSESpecification as DynamoDB"
        " does (moto 5.2 ignores it),\nso DynamodbTableEncryptionFunction is measured in enforce"
        " mode, its fix verified like the others"
    )
    moto = Moto(aws_managed_policies())
    try:
        with _scratch() as scratch:
            from core.clients import Clients

            aws = Clients(endpoint_url=moto.url)
            copies = CodeCopies(scratch)
            ensure_built(fns)
            sections: list[tuple[str, Callable[[], None]]] = [
                ("cold start", lambda: cold_start(moto, aws, template, fns, copies, report)),
                ("warm", lambda: warm(moto, aws, template, fns, report)),
                ("api calls", lambda: api_calls(moto, aws, template, fns, report)),
                ("artifact", lambda: artifact_size(fns, report)),
                ("startup", lambda: startup(fns, copies, report)),
                ("import profile", lambda: import_profile(fns, copies, report)),
            ]
            for name, section in sections:
                section_started = time.perf_counter()
                section()
                seconds = time.perf_counter() - section_started
                report.data.setdefault("section_seconds", {})[name] = seconds
                print(f"   ({seconds:.0f} s)")
    except BenchError as error:
        print(f"\nBENCH BROKEN: {error}", file=sys.stderr)
        return 1
    finally:
        moto.stop()
    summarise(report, time.perf_counter() - started)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
