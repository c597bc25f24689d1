"""Configuration, read from the environment variables that template.yaml sets (and nothing else)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from core.outcome import Mode


class SettingsError(ValueError):
    """A configuration value the template could not have produced."""


class Settings(NamedTuple):
    """Immutable: a NamedTuple, cheaper at cold start than a frozen dataclass (see core.outcome)."""

    mode: Mode
    ledger_table: str
    topic_arn: str
    exempt_principals: tuple[str, ...]
    own_role_arns: tuple[str, ...]
    """The roles of our own functions: the loop guard re-checks the events of their calls."""
    omit_documents: bool = False
    """NOTIFICATION_DOCUMENTS=omit: notifications carry summaries, the ledger the documents."""
    kill_switch_parameter: str = ""
    """KILL_SWITCH_PARAMETER: the SSM parameter that turns enforce into report (core.kill_switch);
    empty (outside the template) means no kill switch."""
    breaker_remediations: int = 3
    """CIRCUIT_BREAKER_REMEDIATIONS: more remediations of one resource than this ..."""
    breaker_minutes: int = 60
    """CIRCUIT_BREAKER_MINUTES: ... within this many minutes open the circuit breaker."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        raw_mode = env.get("MODE", "").strip().lower() or Mode.REPORT.value
        try:
            mode = Mode(raw_mode)
        except ValueError:
            raise SettingsError(f"MODE must be 'report' or 'enforce', not {raw_mode!r}") from None
        documents = env.get("NOTIFICATION_DOCUMENTS", "").strip().lower() or "include"
        if documents not in ("include", "omit"):
            raise SettingsError(
                f"NOTIFICATION_DOCUMENTS must be 'include' or 'omit', not {documents!r}"
            )
        return cls(
            mode=mode,
            ledger_table=required_env("LEDGER_TABLE", env),
            topic_arn=required_env("TOPIC_ARN", env),
            exempt_principals=comma_list(env.get("EXEMPT_PRINCIPALS", "")),
            own_role_arns=comma_list(env.get("OWN_ROLE_ARNS", "")),
            omit_documents=documents == "omit",
            kill_switch_parameter=env.get("KILL_SWITCH_PARAMETER", "").strip(),
            breaker_remediations=_positive(env, "CIRCUIT_BREAKER_REMEDIATIONS", 3),
            breaker_minutes=_positive(env, "CIRCUIT_BREAKER_MINUTES", 60),
        )


def required_env(key: str, env: Mapping[str, str] | None = None) -> str:
    """A variable the template always sets; missing or blank is a configuration error."""
    value = (os.environ if env is None else env).get(key, "").strip()
    if not value:
        raise SettingsError(f"environment variable {key} is not set")
    return value


def env_flag(key: str, env: Mapping[str, str] | None = None) -> bool:
    """A "false"/"true" template parameter as the function reads it; blank is false, anything
    else a configuration error (the template's AllowedValues make it a typo in a manual edit)."""
    raw = (os.environ if env is None else env).get(key, "").strip().lower() or "false"
    if raw not in ("false", "true"):
        raise SettingsError(f"{key} must be 'false' or 'true', not {raw!r}")
    return raw == "true"


def _positive(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise SettingsError(f"{key} must be 1 or more, not {value}")
    return value


def comma_list(value: str) -> tuple[str, ...]:
    """A comma-separated list, as CloudFormation joins a CommaDelimitedList."""
    return tuple(item.strip() for item in value.split(",") if item.strip())
