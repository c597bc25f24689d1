"""Where the bench reads and writes, how many runs it makes and the targets it holds each
function to: one place to tune a figure without reading the measurements."""

from __future__ import annotations

from pathlib import Path

from tools.routing import Function

ROOT = Path(__file__).resolve().parents[2]

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
BREAKER_LIMIT = "1000"
"""CIRCUIT_BREAKER_REMEDIATIONS while measuring: every run remediates the same resource again
within minutes, which is what the breaker stops after 3 (it would turn the runs into reports).
The breaker's own read and write are still made, and measured, on every run."""
COLD_TARGET_MS = 100.0
WARM_TARGET_MS = 50.0
IMPORT_TARGET_MS = 25.0
"""Importing a handler module, over `import boto3`, compiled from source (section 5)."""
CALLS_OVER_MINIMUM = 2
SIZE_TARGET_BYTES = 100 * 1024
STACK_NAME = "autoremediate"
PHYSICAL_SUFFIX = "1A2B3C4D5E6F"  # CloudFormation's random part of generated names
FLOOR_ROLE = "app-deploy-role"  # seed_principals creates it: the floor's one API call reads it
WIDTH = 100

FALLBACK = Function("IamPolicyLeastPrivilegeFunction", "iam_policy_least_privilege", ())
"""Used only while template.yaml does not exist."""
IAM_MODULE = "iam_policy_least_privilege"
# Where the bench departs from the template's parameter defaults, so that a fix happens: each
# function's `settings` in events/<module>/samples.toml (tools.bench.samples.settings).
