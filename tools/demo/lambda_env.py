"""How Lambda would run each handler: a fake context, and the environment the template sets.

The demo must see what the deployed functions see, so each invocation gets exactly its own
function's variables, resolved offline from template.yaml, and nothing leaks to the next one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from tools.bench.environment import resolve
from tools.bench.report import BenchError
from tools.demo.story import REMEDIATOR, settings_for
from tools.routing import Function
from tools.scenario import OWN_ROLE_ARN, Stack

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_SERVICE_NAME": "autoremediate",
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


@contextmanager
def isolated_environment() -> Iterator[None]:
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


@contextmanager
def invocation_environment(values: Mapping[str, str]) -> Iterator[None]:
    """One function's environment for one invocation; the previous one comes back after."""
    with mock.patch.dict(os.environ, values):
        yield


def function_env(
    function: Function, template: Mapping[str, Any], stack: Stack, mode: str, problems: list[str]
) -> dict[str, str]:
    """Lambda's environment: the stack's values, then the function's own as the benchmark
    resolves them offline (literals, parameter defaults such as WILDCARD_LEVEL, its own role ARN
    for the loop guard, the web ACLs) except the demo's settings (samples.toml); the Powertools
    settings stay the demo's quiet ones."""
    env = {k: v for k, v in stack.env(mode).items() if k != "OWN_ROLE_ARNS"}
    departures = settings_for(function.handler_module)
    for key, value in function.environment.items():
        if key in env or key.startswith("POWERTOOLS_"):
            continue
        if key in departures:
            env[key] = departures[key]
            continue
        try:  # as the benchmark resolves it: parameter defaults, our roles, the web ACLs...
            resolved = resolve(value, template, stack)
        except BenchError:
            problems.append(f"{function.logical_id}: cannot resolve {key}={value!r} offline")
            continue
        env[key] = resolved if isinstance(resolved, str) else ",".join(resolved)
    if function.handler_module == REMEDIATOR and env.get("OWN_ROLE_ARNS") != OWN_ROLE_ARN:
        problems.append(f"{function.logical_id}: OWN_ROLE_ARNS is not {OWN_ROLE_ARN}")
    return env


def demo_settings(template: Mapping[str, Any], remediators: list[Function]) -> str:
    """'NAME=demo value for the demo (template default X)' for each function's demo settings."""
    parameters = template.get("Parameters") or {}
    said: dict[str, str] = {}
    for function in remediators:
        for key, value in settings_for(function.handler_module).items():
            ref = function.environment.get(key)
            ref = ref.get("Ref") if isinstance(ref, Mapping) else None
            default = str(parameters.get(ref, {}).get("Default")) if ref in parameters else "?"
            said.setdefault(
                f"{key}={value}", f"{key}={value} for the demo (template default {default})"
            )
    return "; ".join(said.values())
