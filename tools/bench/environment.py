"""The environment a function runs with, as the template sets it and as a Lambda sandbox has
it, so that the bench measures the code in the configuration it is deployed with."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

from tools.bench.config import (
    BREAKER_LIMIT,
    FALLBACK,
    PHYSICAL_SUFFIX,
    PYCACHE,
    STACK_NAME,
    TEMPLATE,
)
from tools.bench.report import BenchError
from tools.bench.samples import settings
from tools.conditions import conditions
from tools.routing import Function, functions, load_template
from tools.scenario import ACCOUNT, PSEUDO_PARAMETERS, REGION, Stack


def discover() -> tuple[dict[str, Any], list[Function]]:
    """The template and its functions (the single IAM function until template.yaml exists)."""
    if not TEMPLATE.exists():
        return {}, [FALLBACK]
    template = load_template(TEMPLATE)
    return template, functions(template)


def function_env(template: Mapping[str, Any], fn: Function, stack: Stack) -> dict[str, str]:
    """The function's environment as the template sets it, for Mode=enforce and the parameter
    defaults, but the function's samples.toml `settings` and the bench's breaker limit."""
    if not template:
        return {
            **stack.env("enforce"),
            "WILDCARD_LEVEL": "service",
            "POWERTOOLS_SERVICE_NAME": "autoremediate",
            "POWERTOOLS_METRICS_NAMESPACE": "Autoremediate",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "CIRCUIT_BREAKER_REMEDIATIONS": BREAKER_LIMIT,
        }
    env = {}
    for name, value in fn.environment.items():
        resolved = resolve(value, template, stack)
        env[name] = resolved if isinstance(resolved, str) else ",".join(resolved)
    return {**env, **settings(fn), "CIRCUIT_BREAKER_REMEDIATIONS": BREAKER_LIMIT}


def resolve(value: Any, template: Mapping[str, Any], stack: Stack) -> str | list[str]:
    """Resolve the few intrinsics environment variables use: Ref (parameter or resource), Join."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, Mapping) and len(value) == 1:
        [(key, arg)] = value.items()
        if key == "Ref" and arg == "Mode":
            return "enforce"
        if key == "Ref" and arg in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[arg]
        if key == "Ref" and arg in template.get("Parameters", {}):
            parameter = template["Parameters"][arg]
            default = str(parameter.get("Default", ""))
            is_list = parameter.get("Type") == "CommaDelimitedList"
            return [p for p in default.split(",") if p] if is_list else default
        if key == "Ref" and arg in template.get("Resources", {}):
            kind = template["Resources"][arg].get("Type")
            by_type = {
                "AWS::DynamoDB::Table": stack.table,
                "AWS::SNS::Topic": stack.topic_arn,
                "AWS::SSM::Parameter": stack.kill_switch,
            }
            if kind in by_type:
                return by_type[kind]
        if key == "Fn::GetAtt":
            logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            resource = template.get("Resources", {}).get(logical_id, {})
            if resource.get("Type") == "AWS::IAM::Role" and attribute == "Arn":
                return _role_arn(logical_id, resource.get("Properties", {}))
            if resource.get("Type") == "AWS::WAFv2::WebACL" and attribute == "Arn":
                scope = resource.get("Properties", {}).get("Scope")
                return stack.cloudfront_web_acl_arn if scope == "CLOUDFRONT" else stack.web_acl_arn
        if key == "Fn::If":
            name, if_true, if_false = arg
            # The parameter defaults in us-east-1 (the embedded account), as deployed.
            chosen = if_true if conditions(template)(name) else if_false
            return resolve(chosen, template, stack)
        if key == "Fn::Join":
            separator, items = arg
            resolved = (
                resolve(items, template, stack)
                if isinstance(items, Mapping)
                else [str(resolve(i, template, stack)) for i in items]
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
        **pycache_env(),
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


def pycache_env() -> dict[str, str]:
    """A clean environment whose interpreters cache bytecode under build/pycache."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    return {**env, "PYTHONPYCACHEPREFIX": str(PYCACHE), "PYTHONUNBUFFERED": "1"}


@contextlib.contextmanager
def temporary_environ(values: Mapping[str, str]) -> Iterator[None]:
    """The function's variables for an in-process section, os.environ restored after."""
    with mock.patch.dict(os.environ, values):
        yield


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
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
