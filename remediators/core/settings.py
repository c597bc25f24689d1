"""Configuration, read from the environment variables that template.yaml sets (and nothing else)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from core.outcome import Mode


class SettingsError(ValueError):
    """A configuration value the template could not have produced."""


@dataclass(frozen=True)
class Settings:
    mode: Mode
    ledger_table: str
    topic_arn: str
    exempt_principals: tuple[str, ...]
    own_role_path: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        raw_mode = env.get("MODE", Mode.REPORT.value).strip().lower()
        try:
            mode = Mode(raw_mode)
        except ValueError:
            raise SettingsError(f"MODE must be 'report' or 'enforce', not {raw_mode!r}") from None
        own_path = env.get("OWN_ROLE_PATH", "/autoremediate/")
        if not (own_path.startswith("/") and own_path.endswith("/") and len(own_path) > 1):
            raise SettingsError(f"OWN_ROLE_PATH must look like '/autoremediate/', not {own_path!r}")
        return cls(
            mode=mode,
            ledger_table=_required(env, "LEDGER_TABLE"),
            topic_arn=_required(env, "TOPIC_ARN"),
            exempt_principals=tuple(
                p.strip() for p in env.get("EXEMPT_PRINCIPALS", "").split(",") if p.strip()
            ),
            own_role_path=own_path,
        )


def _required(env: Mapping[str, str], key: str) -> str:
    value = env.get(key, "").strip()
    if not value:
        raise SettingsError(f"environment variable {key} is not set")
    return value
