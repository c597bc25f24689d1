"""`make bench` (`python -m tools.bench`): the sections in order, then the targets."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from tools.bench.api_calls import api_calls
from tools.bench.artifact import artifact_size, ensure_built
from tools.bench.cold_start import cold_start
from tools.bench.config import PYCACHE
from tools.bench.environment import discover
from tools.bench.moto_server import Moto, aws_managed_policies
from tools.bench.probe import CodeCopies, scratch_folder
from tools.bench.report import BenchError, Report, load_note, summarise
from tools.bench.samples import expected_status, representative_sample, settings
from tools.bench.startup_cost import import_profile, startup
from tools.bench.warm import warm
from tools.scenario import REGION


def versions() -> dict[str, str]:
    """The versions that move the figures, so that runs can be compared."""
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
    try:
        for fn in fns:
            if values := " ".join(f"{k}={v}" for k, v in settings(fn).items()):
                print(
                    f"{fn.logical_id}: {values} (not the template default), so that a fix happens"
                )
            if expected_status(fn, representative_sample(fn)) == "WOULD_REMEDIATE":
                print(
                    f"{fn.logical_id} is report-only: WOULD_REMEDIATE (manual steps) is its success"
                )
    except BenchError as error:
        print(f"\nBENCH BROKEN: {error}", file=sys.stderr)
        return 1
    print(
        "moto server patched: DynamoDB UpdateTable applies SSESpecification as DynamoDB does (moto"
        " 5.2 ignores it),\nso DynamodbTableEncryptionFunction is measured in enforce mode, its fix"
        " verified like the others"
    )
    moto = Moto(aws_managed_policies())
    try:
        with scratch_folder() as scratch:
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
