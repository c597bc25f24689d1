"""Fresh interpreters on fresh copies of the code: what a Lambda cold start pays, measured
apart from the bench's own process, which has everything imported already."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tools.bench.config import BUILD, CODE, PYCACHE
from tools.bench.report import BenchError
from tools.routing import Function

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


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A temporary folder for code copies; their bytecode (mirrored under build/pycache by the
    warm-up runs) goes with it."""
    with tempfile.TemporaryDirectory(prefix="bench-code-") as name:
        folder = Path(name)
        try:
            yield folder
        finally:
            shutil.rmtree(PYCACHE / folder.relative_to(folder.anchor), ignore_errors=True)
