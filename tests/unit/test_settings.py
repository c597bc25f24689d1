"""core.settings: configuration only from the environment the template sets, validated."""

from __future__ import annotations

import pytest

from core.outcome import Mode
from core.settings import Settings, SettingsError

TABLE = "autoremediate-Ledger-1ABC"
TOPIC = "arn:aws:sns:us-east-1:123456789012:autoremediate-Topic-1ABC"
OWN = (
    "arn:aws:iam::123456789012:role/autoremediate/"
    "autoremediate-IamPolicyLeastPrivilegeRole-1A2B3C4D5E6F"
)
OTHER_OWN = "arn:aws:iam::123456789012:role/autoremediate/autoremediate-OtherRole-9Z8Y7X"


def env(**overrides: str) -> dict[str, str]:
    base = {
        "MODE": "enforce",
        "LEDGER_TABLE": TABLE,
        "TOPIC_ARN": TOPIC,
        "EXEMPT_PRINCIPALS": "arn:aws:iam::*:role/breakglass/*",
        "OWN_ROLE_ARNS": OWN,
    }
    base.update(overrides)
    return base


def test_from_env_with_good_env() -> None:
    settings = Settings.from_env(env())
    assert settings == Settings(
        mode=Mode.ENFORCE,
        ledger_table=TABLE,
        topic_arn=TOPIC,
        exempt_principals=("arn:aws:iam::*:role/breakglass/*",),
        own_role_arns=(OWN,),
    )


def test_settings_are_frozen() -> None:
    settings = Settings.from_env(env())
    with pytest.raises(AttributeError):  # a NamedTuple's fields cannot be set
        settings.mode = Mode.REPORT  # type: ignore[misc]


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in env(MODE="report", OWN_ROLE_ARNS=f"{OWN},{OTHER_OWN}").items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    assert settings.mode is Mode.REPORT
    assert settings.ledger_table == TABLE
    assert settings.own_role_arns == (OWN, OTHER_OWN)


def test_mode_defaults_to_report() -> None:
    values = env()
    del values["MODE"]
    assert Settings.from_env(values).mode is Mode.REPORT


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"], ids=["empty", "spaces", "whitespace"])
def test_empty_mode_defaults_to_report(raw: str) -> None:
    # A blank template parameter must mean the safe mode, never an error or enforce.
    assert Settings.from_env(env(MODE=raw)).mode is Mode.REPORT


@pytest.mark.parametrize(
    ("raw", "mode"),
    [
        ("report", Mode.REPORT),
        ("enforce", Mode.ENFORCE),
        (" Enforce ", Mode.ENFORCE),
        ("REPORT", Mode.REPORT),
    ],
)
def test_mode_is_trimmed_and_case_insensitive(raw: str, mode: Mode) -> None:
    assert Settings.from_env(env(MODE=raw)).mode is mode


@pytest.mark.parametrize("raw", ["enforced", "dry-run", "true", "report,enforce", "re port"])
def test_invalid_mode_is_an_error(raw: str) -> None:
    with pytest.raises(SettingsError, match="MODE must be 'report' or 'enforce'"):
        Settings.from_env(env(MODE=raw))


@pytest.mark.parametrize("key", ["LEDGER_TABLE", "TOPIC_ARN"])
def test_missing_required_value_is_an_error(key: str) -> None:
    values = env()
    del values[key]
    with pytest.raises(SettingsError, match=f"environment variable {key} is not set"):
        Settings.from_env(values)


@pytest.mark.parametrize("key", ["LEDGER_TABLE", "TOPIC_ARN"])
def test_blank_required_value_is_an_error(key: str) -> None:
    with pytest.raises(SettingsError, match=key):
        Settings.from_env(env(**{key: "   "}))


def test_required_values_are_trimmed() -> None:
    settings = Settings.from_env(env(LEDGER_TABLE=f" {TABLE}\n", TOPIC_ARN=f"\t{TOPIC} "))
    assert (settings.ledger_table, settings.topic_arn) == (TABLE, TOPIC)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("", ()),
        ("   ", ()),
        (",", ()),
        (" , ,, ", ()),
        ("arn:aws:iam::*:role/a/*", ("arn:aws:iam::*:role/a/*",)),
        (
            " arn:aws:iam::1:role/a , arn:aws:iam::*:role/b/* ,,",
            ("arn:aws:iam::1:role/a", "arn:aws:iam::*:role/b/*"),
        ),
        ("x,y,x", ("x", "y", "x")),
    ],
    ids=["empty", "spaces", "comma", "blanks", "one", "two-padded", "order-kept"],
)
def test_exempt_principals_parsing(raw: str, parsed: tuple[str, ...]) -> None:
    assert Settings.from_env(env(EXEMPT_PRINCIPALS=raw)).exempt_principals == parsed


def test_exempt_principals_absent() -> None:
    values = env()
    del values["EXEMPT_PRINCIPALS"]
    assert Settings.from_env(values).exempt_principals == ()


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("", ()),
        ("   ", ()),
        (" , ,, ", ()),
        (OWN, (OWN,)),
        (f" {OWN} ,\t{OTHER_OWN} ,,", (OWN, OTHER_OWN)),
    ],
    ids=["empty", "spaces", "blanks", "one", "two-padded"],
)
def test_own_role_arns_parsing(raw: str, parsed: tuple[str, ...]) -> None:
    assert Settings.from_env(env(OWN_ROLE_ARNS=raw)).own_role_arns == parsed


def test_own_role_arns_absent() -> None:
    values = env()
    del values["OWN_ROLE_ARNS"]
    assert Settings.from_env(values).own_role_arns == ()


def test_own_role_path_is_no_longer_read() -> None:
    # An environment left over from the path-based loop guard configures no own role.
    values = env(OWN_ROLE_PATH="/autoremediate/")
    del values["OWN_ROLE_ARNS"]
    settings = Settings.from_env(values)
    assert settings.own_role_arns == ()
    assert not hasattr(settings, "own_role_path")


def test_errors_are_value_errors_with_the_bad_value() -> None:
    with pytest.raises(ValueError, match="'sometimes'"):
        Settings.from_env(env(MODE="sometimes"))


@pytest.mark.parametrize(
    ("raw", "omit"), [("", False), ("include", False), ("omit", True), (" OMIT ", True)]
)
def test_notification_documents(raw: str, omit: bool) -> None:
    assert Settings.from_env(env(NOTIFICATION_DOCUMENTS=raw)).omit_documents is omit


@pytest.mark.parametrize("raw", ["none", "false", "redact"])
def test_invalid_notification_documents_is_an_error(raw: str) -> None:
    with pytest.raises(SettingsError, match="NOTIFICATION_DOCUMENTS"):
        Settings.from_env(env(NOTIFICATION_DOCUMENTS=raw))


def test_circuit_breaker_and_kill_switch_settings() -> None:
    values = env(
        CIRCUIT_BREAKER_REMEDIATIONS="5",
        CIRCUIT_BREAKER_MINUTES="15",
        KILL_SWITCH_PARAMETER=" /autoremediate/kill-switch ",
    )
    settings = Settings.from_env(values)
    assert (settings.breaker_remediations, settings.breaker_minutes) == (5, 15)
    assert settings.kill_switch_parameter == "/autoremediate/kill-switch"
    defaults = Settings.from_env(env())
    assert (defaults.breaker_remediations, defaults.breaker_minutes) == (3, 60)
    assert defaults.kill_switch_parameter == ""


@pytest.mark.parametrize("raw", ["0", "-1", "three", "2.5"])
def test_circuit_breaker_settings_refuse_what_the_template_cannot_set(raw: str) -> None:
    with pytest.raises(SettingsError, match="CIRCUIT_BREAKER_MINUTES"):
        Settings.from_env(env(CIRCUIT_BREAKER_MINUTES=raw))
