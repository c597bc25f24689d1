"""`make bench`: cold start, warm event, AWS calls, artifact size and Powertools start-up cost.

Every figure is measured against a moto server over HTTP, which the bench starts and resets.
Timings are medians over several runs, with their spread: the machines are shared and noisy.
Fresh interpreters import dependencies from cached bytecode (as Lambda's runtime and layers do)
but compile our own code from source each run (Lambda cannot write .pyc into /var/task).
The figures also go to build/bench.json. Exit status 0 even when a target is missed; 1 when
something breaks (for example a remediation that does not reach REMEDIATED).

moto 5.2 ignores DynamoDB UpdateTable's SSESpecification, so the DynamoDB fix could never be
verified: the moto server here applies it as DynamoDB does (scenario.moto_applies_dynamodb_sse),
and the DynamoDB function is measured end to end in enforce mode like the others.

Run from the repository root as `python -m tools.bench`; one module per section (cold_start,
warm, api_calls, artifact, startup_cost) and per thing they share.
"""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
# The tools import each other from the repository root and Lambda imports from the code folder
# (remediators/, the CodeUri): `python -m tools.bench` has only the former on sys.path.
for _path in (_ROOT / "remediators", _ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
