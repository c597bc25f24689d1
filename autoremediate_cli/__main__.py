"""`python -m autoremediate_cli`: the `autoremediate` command without installing it."""

from __future__ import annotations

import sys

from autoremediate_cli.main import main

sys.exit(main())
