"""The moto server the bench measures against, in its own process (as AWS is remote), and the
account each run starts from: a reset, the stack, and the sample event's resource."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tools.bench.config import ROOT
from tools.bench.environment import pycache_env
from tools.bench.report import BenchError
from tools.samples import SamplesError
from tools.scenario import EVENTS, Stack, deploy_stack, prepare, seed_principals

if TYPE_CHECKING:
    from core.clients import Clients


# Moto loads all ~1,300 AWS-managed policies on every reset (seconds each); keep those named.
# DynamoDB's UpdateTable SSESpecification is applied as DynamoDB does (moto ignores it), and
# API Gateway's UpdateDomainName as API Gateway does (moto lacks it).
SERVER = r"""
import json, sys
import moto.iam.models as iam
keep = set(sys.argv[2].split(",")) - {""}
every = json.loads(iam.aws_managed_policies_data)
iam.aws_managed_policies_data = json.dumps({k: v for k, v in every.items() if k in keep})
sys.path.insert(0, sys.argv[3])
from tools.scenario import moto_as_aws
moto_as_aws()
from moto.server import main
main(["-H", "127.0.0.1", "-p", sys.argv[1]])
"""


class Moto:
    """A moto server in its own process (as AWS is remote), reset between runs."""

    def __init__(self, managed_policies: Sequence[str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        env = {**pycache_env(), "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
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
    """Reset moto, deploy the stack, seed principals (the floor reads one), then the state the
    sample event describes (its seed in events/<module>/samples.toml)."""
    moto.reset()
    stack = deploy_stack(aws)
    seed_principals(aws)
    try:
        return stack, prepare(aws, event_name, module)
    except SamplesError as error:
        raise BenchError(f"cannot seed {module} {event_name}: {error}") from None


def aws_managed_policies() -> list[str]:
    """Names of the AWS-managed policies any sample event names."""
    names = set()
    for path in EVENTS.glob("*/*.json"):
        for word in path.read_text().replace('"', " ").split():
            if word.startswith("arn:aws:iam::aws:policy/"):
                names.add(word.rsplit("/", 1)[1].rstrip(",}"))
    return sorted(names)
