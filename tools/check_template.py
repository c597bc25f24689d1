"""Check template.yaml where sam validate, cfn-lint and checkov cannot see on their own.

They do not expand the SAM transform, so a typo in an IAM action or a wildcard inside a function's
role passes them. This script transforms the template offline (samtranslator, no AWS call) once
per Mode, runs cfn-lint and checkov on the results, and then checks our own rules on the roles:
no wildcard action anywhere, and in report mode no write action of any remediator. Roles differ
with EncryptionKmsKeyArn (condition HasEncryptionKey), so checkov and the role check see both
cases: without a baseline key and with a sample one.

    .venv/test/bin/python tools/check_template.py --sam .venv/sam/bin/sam \\
        --checkov .venv/checkov/bin/checkov

The contract tests import `transform`, `resolve`, `role_statements` and `role_findings` from here,
so that they check exactly what this script checks.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.translator.transform import transform as sam_transform

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python tools/check_template.py`, not imported
    sys.path.insert(0, str(ROOT))

from tools.conditions import ACCOUNT_ID, PARTITION, REGION, as_list, conditions  # noqa: E402
from tools.routing import SERVERLESS_FUNCTION, TEMPLATE, functions, load_template  # noqa: E402

CODE_ROOT = ROOT / "remediators"
BUILD = ROOT / "build"
MODES = ("report", "enforce")
# IAM sends its events to us-east-1 only; the IAM remediator exists only there: check that region.
KEY_PARAMETER = "EncryptionKmsKeyArn"
# A baseline key of the (offline) account, to resolve the HasEncryptionKey branch of the roles.
SAMPLE_KMS_KEY_ARN = (
    f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)
SLACK_PARAMETER = "SlackWebhookSecretArn"
SAMPLE_SLACK_SECRET_ARN = (
    f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:autoremediate/slack-AbCdEf"
)
# (name in build/, EncryptionKmsKeyArn): the roles without a baseline key and with one; the
# second case also deploys the Slack notifier (condition HasSlack), so that checkov and the
# role check see its function and role too.
KEY_CASES = (("", ""), ("key", SAMPLE_KMS_KEY_ARN))
CASE_PARAMETERS = {"key": {SLACK_PARAMETER: SAMPLE_SLACK_SECRET_ARN}}
CODE_PLACEHOLDER = "s3://placeholder-bucket/code.zip"
# sam and checkov must neither phone home nor find real credentials: nothing here needs AWS.
OFFLINE_ENV = {
    "SAM_CLI_TELEMETRY": "0",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}

Template = dict[str, Any]


class BundledPolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader, which lists policies through IAM: its
    bundled AWS managed-policy names let the transform run without any AWS call."""

    def __init__(self, partition: str = PARTITION) -> None:
        self._partition = partition

    def load(self) -> dict[str, str]:
        return dict(get_bundled_managed_policy_map(self._partition) or {})


@contextmanager
def _region(region: str) -> Iterator[None]:
    """samtranslator asks boto3 for a region even when AWS::Region is given; give it one."""
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        yield
    finally:
        if saved is None:
            del os.environ["AWS_DEFAULT_REGION"]
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved


def transform(mode: str, template: Template | None = None, region: str = REGION) -> Template:
    """The CloudFormation template that `sam deploy` would create for this Mode.

    Local CodeUri becomes an S3 placeholder (what `sam package` would upload), and the Mode
    parameter's default becomes `mode`, so that the result deploys in that mode as it is.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    sam = copy.deepcopy(template if template is not None else load_template())
    sam["Parameters"]["Mode"]["Default"] = mode
    function_globals = sam.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = CODE_PLACEHOLDER
    for resource in sam["Resources"].values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == SERVERLESS_FUNCTION and isinstance(
            properties.get("CodeUri"), str
        ):
            properties["CodeUri"] = CODE_PLACEHOLDER
    with _region(region):
        result: Template = sam_transform(
            sam,
            {"Mode": mode, "AWS::Region": region, "AWS::Partition": PARTITION},
            BundledPolicyLoader(),
            passthrough_metadata=True,  # keeps the checkov skips (and their reasons)
        )
    return result


_NO_VALUE = object()


def resolve(
    template: Template, parameters: Mapping[str, Any] | None = None, region: str = REGION
) -> Template:
    """The template as CloudFormation would deploy it with these parameters in this region.

    `parameters` overrides the defaults of the template's own parameters, as `sam deploy
    --parameter-overrides` does; like CloudFormation, a name the template does not declare or a
    value outside AllowedValues / AllowedPattern is refused (a typo would otherwise silently
    resolve the default). Conditions are evaluated (tools.conditions), `Fn::If` takes its
    branch, `AWS::NoValue` disappears and resources or outputs whose condition is false are
    dropped. Other intrinsics stay as they are.
    """
    condition = conditions(template, parameters, region)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, when_true, when_false = node["Fn::If"]
                return walk(when_true if condition(name) else when_false)
            if node == {"Ref": "AWS::NoValue"}:
                return _NO_VALUE
            walked = {key: walk(value) for key, value in node.items()}
            return {key: value for key, value in walked.items() if value is not _NO_VALUE}
        if isinstance(node, list):
            return [item for item in map(walk, node) if item is not _NO_VALUE]
        return node

    resolved: Template = {}
    for section, body in template.items():
        if section in ("Resources", "Outputs"):
            kept = {
                name: {key: value for key, value in item.items() if key != "Condition"}
                for name, item in body.items()
                if "Condition" not in item or condition(item["Condition"])
            }
            resolved[section] = walk(kept)
        elif section != "Conditions":
            resolved[section] = copy.deepcopy(body)
    return resolved


def role_statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (role logical id, statement) of every role: inline `Policies` of AWS::IAM::Role and
    AWS::IAM::Policy / ManagedPolicy resources attached to roles. Needs a resolved template."""
    resources = template["Resources"]
    documents: list[tuple[str, Any]] = []
    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            documents += [(name, p.get("PolicyDocument")) for p in properties.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for role in properties.get("Roles", []):
                role_name = role.get("Ref", str(role)) if isinstance(role, dict) else str(role)
                documents.append((role_name, properties.get("PolicyDocument")))
    for role, document in documents:
        if not isinstance(document, dict) or "Statement" not in document:
            raise ValueError(f"role {role}: policy document {document!r} (resolve() it first?)")
        for statement in as_list(document["Statement"]):
            yield role, statement


def role_findings(template: Template, forbidden_actions: frozenset[str] = frozenset()) -> list[str]:
    """What breaks our rules for roles: a wildcard action, NotAction, a managed policy whose
    actions cannot be read here, or an allowed action in `forbidden_actions` (lower case)."""
    findings = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role" and resource.get("Properties", {}).get(
            "ManagedPolicyArns"
        ):
            findings.append(f"{name}: ManagedPolicyArns cannot be checked; write the statements")
    for role, statement in role_statements(template):
        sid = statement.get("Sid", "(no Sid)")
        if "NotAction" in statement:
            findings.append(f"{role} {sid}: NotAction grants everything it does not name")
        for action in as_list(statement.get("Action", [])):
            if not isinstance(action, str):
                findings.append(f"{role} {sid}: action {action!r} is not a plain string")
            elif "*" in action:
                findings.append(f"{role} {sid}: wildcard action {action!r}")
            elif statement.get("Effect") == "Allow" and action.lower() in forbidden_actions:
                findings.append(f"{role} {sid}: write action {action} in report mode")
    return findings


def remediator_write_actions(template: Template) -> frozenset[str]:
    """Write actions (lower case) of the REMEDIATOR of every function, imported as Lambda does."""
    if str(CODE_ROOT) not in sys.path:
        sys.path.insert(0, str(CODE_ROOT))
    actions: set[str] = set()
    for function in functions(template):
        remediator = importlib.import_module(function.handler_module).REMEDIATOR
        actions.update(action.lower() for action in remediator.write_actions)
    return frozenset(actions)


# ---------------------------------------------------------------------------------- steps


def _run(command: list[str]) -> tuple[bool, str]:
    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, **OFFLINE_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def step_sam_validate(sam: str) -> tuple[bool, str]:
    """sam validate --lint needs no credentials; the dummy ones only guarantee it cannot use real
    ones (the check must never reach AWS)."""
    ok, output = _run([sam, "validate", "--lint", "-t", str(TEMPLATE), "--region", REGION])
    return ok, "" if ok else output


def step_transform() -> tuple[bool, str]:
    """Per mode: the transformed template (what CloudFormation receives; cfn-lint checks every
    condition branch of it) and the same with conditions resolved for us-east-1, once without a
    baseline key and once with one (checkov does not look inside Fn::If, so it gets the roles as
    deployed)."""
    BUILD.mkdir(exist_ok=True)
    for mode in MODES:
        transformed = transform(mode)
        built_path(mode).write_text(json.dumps(transformed, indent=2) + "\n", encoding="utf-8")
        for case, key in KEY_CASES:
            parameters = {"Mode": mode, KEY_PARAMETER: key, **CASE_PARAMETERS.get(case, {})}
            resolved = resolve(transformed, parameters)
            built_path(mode, True, case).write_text(
                json.dumps(resolved, indent=2) + "\n", encoding="utf-8"
            )
    suffixes = ",".join(
        ["", *(f".{case}.resolved" if case else ".resolved" for case, _ in KEY_CASES)]
    )
    return True, f"{BUILD.relative_to(ROOT)}/template.{{{','.join(MODES)}}}{{{suffixes}}}.json"


def built_path(mode: str, resolved: bool = False, key_case: str = "") -> Path:
    """build/template.<mode>.json, or resolved: template.<mode>[.<key_case>].resolved.json."""
    if not resolved:
        return BUILD / f"template.{mode}.json"
    return BUILD / f"template.{mode}{'.' + key_case if key_case else ''}.resolved.json"


def resolved_builds() -> list[tuple[str, str, Path]]:
    """(mode, EncryptionKmsKeyArn, path) of every resolved template step_transform writes."""
    return [(mode, key, built_path(mode, True, case)) for mode in MODES for case, key in KEY_CASES]


def step_cfn_lint(cfn_lint: str) -> tuple[bool, str]:
    paths = [str(built_path(mode)) for mode in MODES]
    # "--": --regions takes several values and would swallow the paths.
    ok, output = _run(
        [cfn_lint, "--non-zero-exit-code", "warning", "--regions", REGION, "--", *paths]
    )
    return ok, "no errors or warnings" if ok else output


def step_checkov(checkov: str) -> tuple[bool, str]:
    files = [arg for _, _, path in resolved_builds() for arg in ("-f", str(path))]
    # --skip-download: no platform call (without an API key checkov then only runs locally).
    flags = ["--quiet", "--compact", "--skip-download"]
    ok, output = _run([checkov, "--framework", "cloudformation", *files, *flags])
    return ok, "no failed checks" if ok else output


def step_roles() -> tuple[bool, str]:
    write = remediator_write_actions(load_template())
    findings = []
    for mode, key, path in resolved_builds():
        resolved = json.loads(path.read_text(encoding="utf-8"))
        forbidden = write if mode == "report" else frozenset()
        label = f"{mode} ({'with baseline key and Slack' if key else 'without baseline key'})"
        findings += [f"{label}: {finding}" for finding in role_findings(resolved, forbidden)]
    if findings:
        return False, "\n".join(findings)
    return True, (
        f"no wildcard action; report mode holds none of {len(write)} write actions"
        f" (with and without a baseline key; with the Slack notifier)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sam", required=True, help="sam executable (aws-sam-cli)")
    parser.add_argument("--checkov", required=True, help="checkov executable")
    parser.add_argument(
        "--cfn-lint",
        default=str(Path(sys.executable).with_name("cfn-lint")),
        help="cfn-lint executable (default: beside this Python)",
    )
    args = parser.parse_args(argv)
    # samtranslator's metrics object complains at exit that nobody published it; nobody should.
    logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)
    # (name, step, whether it reads what the transform step wrote)
    steps: list[tuple[str, Callable[[], tuple[bool, str]], bool]] = [
        ("sam validate --lint", lambda: step_sam_validate(args.sam), False),
        ("SAM transform (offline)", step_transform, False),
        ("cfn-lint (transformed)", lambda: step_cfn_lint(args.cfn_lint), True),
        ("checkov (transformed, resolved)", lambda: step_checkov(args.checkov), True),
        ("roles: no wildcard, report mode read-only", step_roles, True),
    ]
    failed = False
    transformed = True
    for name, step, needs_build in steps:
        if needs_build and not transformed:
            print(f"SKIP {name}: the transform failed")
            continue
        start = time.monotonic()
        try:
            ok, detail = step()
        except Exception as error:  # noqa: BLE001 - a crashed step is a failed step, reported
            ok, detail = False, f"{type(error).__name__}: {error}"
        elapsed = time.monotonic() - start
        first, _, rest = detail.partition("\n")
        print(f"{'ok  ' if ok else 'FAIL'} {name} ({elapsed:.1f}s){': ' + first if first else ''}")
        if rest:
            print("\n".join("     " + line for line in rest.splitlines()))
        failed |= not ok
        if step is step_transform:
            transformed = ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
