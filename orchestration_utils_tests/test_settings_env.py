"""The `ORCHESTRATION_UTILS_*` values the code location reads, checked when it loads: a bad one
fails the load (and a CLI, exit 2) with one line naming the variable and the reason, instead of
failing every run later (a warehouse URL) or failing in Dagster's words (a cron)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration_utils.errors import ProjectError
from orchestration_utils.project.schedule import normalize_schedule
from orchestration_utils.settings import load_settings

BIN = Path(sys.executable).parent
WAREHOUSE = "ORCHESTRATION_UTILS_WAREHOUSE"
SCHEDULE = "ORCHESTRATION_UTILS_DEFAULT_SCHEDULE"


def _refused(monkeypatch, var: str, value: str) -> str:
    monkeypatch.setenv(var, value)
    with pytest.raises(ProjectError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"{var}: ") and "\n" not in message
    return message


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("postgres://x", "'postgres://x': unknown warehouse; use duckdb:///"),
        ("duckdb://relative/shop.duckdb", "a DuckDB URL is duckdb:///absolute/path"),
        ("duckdb:shop.duckdb", "a DuckDB URL is duckdb:///absolute/path"),
        ("bigquery://", "expected bigquery://PROJECT"),
        ("bigquery://my-project?region=EU", "unknown parameter 'region'"),
        ("bigquery://my-project?endpoint=ftp://h", "endpoint must be an http(s) URL"),
        ("shop.duckdb", "unknown warehouse"),
    ],
)
def test_a_warehouse_no_check_can_open_fails_the_load(value, reason, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert reason in _refused(monkeypatch, WAREHOUSE, value)
    assert list(tmp_path.iterdir()) == []  # not connected: no DuckDB file made


@pytest.mark.parametrize(
    "value", ["duckdb:///srv/shop.duckdb", "bigquery://my-project?location=EU"]
)
def test_a_warehouse_url_is_kept_as_given(value, monkeypatch):
    monkeypatch.setenv(WAREHOUSE, value)
    assert load_settings().warehouse_url == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("every day", "'every day' is not hourly/daily/weekly/monthly, an @preset or a 5-field"),
        ("0 25 * * *", "'0 25 * * *' is not hourly/daily"),
        ("0 0 31 2 *", "cron '0 0 31 2 *' never fires"),
        ("* * * *", "is not hourly/daily"),
        ("@once", "is not hourly/daily"),
        ("daily Mars/Olympus", "'Mars/Olympus' is not an IANA time zone"),
    ],
)
def test_a_default_schedule_no_schedule_reads_fails_the_load(value, reason, monkeypatch):
    assert reason in _refused(monkeypatch, SCHEDULE, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("daily", "@daily"),
        ("", "@daily"),
        ("@midnight", "@daily"),
        ("0 6 * * * America/Los_Angeles", "0 6 * * * America/Los_Angeles"),
    ],
)
def test_a_default_schedule_is_normalized(value, expected, monkeypatch):
    monkeypatch.setenv(SCHEDULE, value)
    assert load_settings().default_schedule == expected


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="0123456789*/,-@ adilyhourwekmnt", min_size=1, max_size=16))
def test_every_default_schedule_loads_as_the_schedule_table_reads_it(value):
    """The same verdict as the project's schedule table, for values of any shape."""
    os.environ[SCHEDULE] = value
    try:
        try:
            expected = normalize_schedule(value) if value.strip() else "@daily"
        except ValueError:
            with pytest.raises(ProjectError, match=f"^{SCHEDULE}: "):
                load_settings()
        else:
            assert load_settings().default_schedule == expected
    finally:
        del os.environ[SCHEDULE]


@pytest.mark.parametrize(
    ("var", "value"),
    [
        (WAREHOUSE, "postgres://x"),
        (SCHEDULE, "0 25 * * *"),
        ("ORCHESTRATION_UTILS_ARTIFACTS_URL", "ftp://127.0.0.1:1/x"),
    ],
)
def test_the_code_location_fails_to_load_naming_the_variable(var, value, monkeypatch, tmp_path):
    from orchestration_utils.definitions import defs

    monkeypatch.setenv("ORCHESTRATION_UTILS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(var, value)
    with pytest.raises(ProjectError, match=f"^{var}: .*'{re.escape(value)}'"):
        defs()


def test_dagster_definitions_validate_names_the_variable(tmp_path):
    env = {
        **os.environ,
        "ORCHESTRATION_UTILS_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path),
        WAREHOUSE: "postgres://x",
    }
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-m", "orchestration_utils.definitions"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert f"{WAREHOUSE}: 'postgres://x': unknown warehouse" in result.stdout + result.stderr


def test_a_cli_refuses_a_bad_warehouse_setting_in_one_line(tmp_path):
    config = tmp_path / "sla.json"
    config.write_text(
        '{"tables": [{"table_id": "shop.marts.orders", '
        '"freshness_sla": {"timestamp_column": "ordered_at", "max_age_hours": 6}}]}'
    )
    result = subprocess.run(
        [str(BIN / "sla-tracker"), "--config", str(config), "--state-dir", str(tmp_path / "s")]
        + ["--no-alerts"],
        cwd=tmp_path,
        env={**os.environ, WAREHOUSE: "postgres://x"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    reason = "unknown warehouse; use duckdb:///path/file.duckdb or bigquery://PROJECT"
    assert result.stderr.splitlines() == [
        f"sla-tracker: error: {WAREHOUSE}: 'postgres://x': {reason}"
    ]
    assert not (tmp_path / "s").exists()
