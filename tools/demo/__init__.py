"""`make demo`: the sample events, report mode then enforce mode, on an in-process moto account.

No AWS account or credentials are used. Each IAM event's API call is replayed into moto; the
encryption events find their unencrypted resources seeded by tools/scenario.py. Every event is
routed through template.yaml's own EventBridge patterns and handed to each handler Lambda would
run, with that function's environment as the template sets it; what each outcome would change
(report) or changed (enforce) is read back from the SNS notifications, as a subscriber sees them.

Run it from the repository root as `python -m tools.demo`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Lambda imports from the code folder (remediators/, the CodeUri), and the tools import each
# other from the repository root: both must be importable however the demo is started.
for _path in (ROOT / "remediators", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
