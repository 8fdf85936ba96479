"""The seed's pipeline-health-monitor contract (shared/seed/SEED.md), verbatim: every usage line, the
config example and the integration lines, run as the console script against a DuckDB warehouse named
like the seed's table ids (`project.duckdb`, schema `dataset`), with data the test controls."""

import json
import os
import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import jsonschema
import pytest

from orchestration_utils.health.report import SCHEMA_PATH

BIN_DIR = Path(sys.executable).parent
SCHEMA = json.loads(SCHEMA_PATH.read_text())

# The seed's "Configuration Example", byte for byte.
SEED_CONFIG = """{
  "tables": [
    {
      "table_id": "project.dataset.events",
      "freshness": {
        "timestamp_column": "event_timestamp",
        "max_age_hours": 2
      },
      "row_count": {
        "min_rows": 1000,
        "max_rows": 10000000,
        "partition_column": "event_date",
        "lookback_days": 7
      },
      "check_partitions": true,
      "expected_schema": [
        {"name": "event_id", "type": "STRING", "mode": "REQUIRED"},
        {"name": "event_timestamp", "type": "TIMESTAMP", "mode": "REQUIRED"},
        {"name": "user_id", "type": "STRING", "mode": "NULLABLE"}
      ]
    }
  ],
  "check_failures": true,
  "failure_lookback_hours": 24,
  "check_costs": true,
  "cost_lookback_hours": 24,
  "cost_threshold_usd": 100.0
}
"""
SEED_OUTPUT_KEYS = {"timestamp", "checks", "summary"}
SEED_CHECK_KEYS = {"table", "check", "status", "latest_update", "hours_stale", "max_age_hours"}
SEED_SUMMARY_KEYS = {"total_checks", "passed", "failed", "health_score"}


def _warehouse(path: Path, rows: int, newest_age: timedelta) -> None:
    """`dataset.events` (and `dataset.table`, the usage line's literal id): `rows` events spread over
    the last 9 days, one per day at least, the newest `newest_age` old."""
    now = datetime.now(UTC).replace(tzinfo=None)
    newest = now - newest_age
    step = timedelta(days=9) / rows
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA dataset")
    con.execute(
        "CREATE TABLE dataset.events (event_id VARCHAR NOT NULL, event_timestamp TIMESTAMP NOT NULL, "
        "user_id VARCHAR, event_date DATE)"
    )
    con.execute(
        "INSERT INTO dataset.events SELECT 'e' || i, ts, 'u' || (i % 50), ts::DATE "
        "FROM (SELECT i, ?::TIMESTAMP - i * ?::INTERVAL AS ts FROM range(?) t(i))",
        [newest, step, rows],
    )
    con.execute('CREATE TABLE dataset."table" AS SELECT * FROM dataset.events')
    con.close()


@pytest.fixture
def seed_dir(tmp_path, monkeypatch):
    """A user's directory with the seed's health-config.json; the warehouse from the environment."""
    for name in list(os.environ):
        if name.startswith(("ORCHESTRATION_UTILS_", "DAGSTER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ORCHESTRATION_UTILS_HOME", str(tmp_path / "home"))
    # The code location's instance, whose failed runs `--check-failures` reads (DuckDB keeps no
    # job history of its own).
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("ORCHESTRATION_UTILS_WAREHOUSE", f"duckdb://{tmp_path / 'project.duckdb'}")
    monkeypatch.setenv("PATH", f"{BIN_DIR}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "health-config.json").write_text(SEED_CONFIG)
    return tmp_path


def _sh(line: str, cwd: Path) -> subprocess.CompletedProcess:
    """A line exactly as the seed writes it, through a shell (redirections included)."""
    return subprocess.run(
        ["bash", "-c", line], check=False, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def _by_check(report: dict) -> dict[str, dict]:
    return {c["check"]: c for c in report["checks"]}


def _assert_seed_report(report: dict) -> None:
    jsonschema.validate(report, SCHEMA)
    assert SEED_OUTPUT_KEYS <= report.keys()
    assert SEED_SUMMARY_KEYS <= report["summary"].keys()
    freshness = [
        c for c in report["checks"] if c["check"] == "freshness" and c["status"] != "ERROR"
    ]
    assert all(SEED_CHECK_KEYS <= c.keys() for c in freshness)


def test_seed_config_fresh_data_passes(seed_dir):
    _warehouse(seed_dir / "project.duckdb", rows=1600, newest_age=timedelta(minutes=30))
    result = _sh(
        "pipeline-health-monitor --config health-config.json --output results.json", seed_dir
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    report = json.loads((seed_dir / "results.json").read_text())
    _assert_seed_report(report)
    checks = _by_check(report)
    assert {name: c["status"] for name, c in checks.items()} == {
        "freshness": "PASS",
        "row_count": "PASS",
        "partitions": "PASS",
        "schema_drift": "WARN",  # event_date is not in the expected schema: an additive change
        "failed_jobs": "PASS",
        "cost": "PASS",
    }
    assert checks["freshness"]["table"] == "project.dataset.events"
    assert (
        0.4 < checks["freshness"]["hours_stale"] < 0.7 and checks["freshness"]["max_age_hours"] == 2
    )
    assert checks["row_count"]["row_count"] == 1600
    assert report["summary"]["total_checks"] == 6 and report["summary"]["failed"] == 0


def test_seed_config_stale_and_short_data_fails(seed_dir):
    _warehouse(seed_dir / "project.duckdb", rows=500, newest_age=timedelta(hours=5))
    result = _sh(
        "pipeline-health-monitor --config health-config.json --output health-results.json", seed_dir
    )
    assert result.returncode == 1, result.stderr
    report = json.loads((seed_dir / "health-results.json").read_text())
    _assert_seed_report(report)
    checks = _by_check(report)
    assert (
        checks["freshness"]["status"] == "FAIL" and 4.9 < checks["freshness"]["hours_stale"] < 5.2
    )
    assert (
        checks["row_count"]["status"] == "FAIL"
        and "500 rows, fewer than 1000" in checks["row_count"]["message"]
    )
    assert report["summary"]["failed"] == 2
    assert report["summary"]["health_score"] == pytest.approx(100 * 3.5 / 6, abs=0.1)


def test_seed_too_many_rows_fails(seed_dir):
    config = json.loads(SEED_CONFIG)
    config["tables"][0]["row_count"]["max_rows"] = 1200
    (seed_dir / "health-config.json").write_text(json.dumps(config))
    _warehouse(seed_dir / "project.duckdb", rows=1600, newest_age=timedelta(minutes=10))
    result = _sh(
        "pipeline-health-monitor --config health-config.json --output results.json", seed_dir
    )
    assert result.returncode == 1
    row_count = _by_check(json.loads((seed_dir / "results.json").read_text()))["row_count"]
    assert row_count["status"] == "FAIL" and "more than 1200" in row_count["message"]


@pytest.mark.parametrize(
    ("age", "status", "code"), [(timedelta(hours=3), "PASS", 0), (timedelta(hours=30), "FAIL", 1)]
)
def test_single_table_freshness_with_no_column(seed_dir, age, status, code):
    """The seed's line, literally: the table is `dataset.table`; its one TIMESTAMP column decides."""
    _warehouse(seed_dir / "project.duckdb", rows=100, newest_age=age)
    result = _sh(
        "pipeline-health-monitor --table project.dataset.table --check-freshness", seed_dir
    )
    assert result.returncode == code, result.stderr
    report = json.loads(result.stdout)
    _assert_seed_report(report)
    (check,) = report["checks"]
    assert (check["table"], check["check"], check["status"]) == (
        "project.dataset.table",
        "freshness",
        status,
    )
    assert check["evidence"] == "column event_timestamp (only timestamp column)"


def test_check_failures_line(seed_dir):
    _warehouse(seed_dir / "project.duckdb", rows=10, newest_age=timedelta(hours=1))
    result = _sh("pipeline-health-monitor --check-failures --hours 24", seed_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    _assert_seed_report(report)
    assert [(c["check"], c["status"]) for c in report["checks"]] == [("failed_jobs", "PASS")]


def test_cost_report_lines_and_jq(seed_dir):
    _warehouse(seed_dir / "project.duckdb", rows=10, newest_age=timedelta(hours=1))
    usage = _sh("pipeline-health-monitor --cost-report --hours 24", seed_dir)
    assert usage.returncode == 0, usage.stderr
    jsonschema.validate(json.loads(usage.stdout), SCHEMA)
    # The seed's cost pipeline: stdout is pure JSON (the summary goes to stderr), so jq reads it.
    result = _sh(
        "pipeline-health-monitor --cost-report --hours 24 > daily-cost-report.txt", seed_dir
    )
    assert result.returncode == 0 and "bills nothing" in result.stderr
    jq = _sh("jq '.total_cost_usd' daily-cost-report.txt", seed_dir)
    assert jq.returncode == 0 and float(jq.stdout) == 0.0


def test_ci_and_cron_lines(seed_dir):
    _warehouse(seed_dir / "project.duckdb", rows=1600, newest_age=timedelta(minutes=20))
    ci = _sh(
        "pipeline-health-monitor --config health-config.json --output health-results.json", seed_dir
    )
    assert ci.returncode == 0, ci.stderr
    _assert_seed_report(json.loads((seed_dir / "health-results.json").read_text()))
    # The crontab line with its placeholders filled in: the report and the summary both reach the log.
    line = (
        "*/15 * * * * /path/to/pipeline-health-monitor --config /path/to/health-config.json "
        ">> /var/log/health-monitor.log 2>&1"
    )
    command = line.split(" ", 5)[5]
    command = (
        command.replace(
            "/path/to/pipeline-health-monitor",
            shlex.quote(str(BIN_DIR / "pipeline-health-monitor")),
        )
        .replace("/path/to/health-config.json", shlex.quote(str(seed_dir / "health-config.json")))
        .replace("/var/log/health-monitor.log", shlex.quote(str(seed_dir / "health-monitor.log")))
    )
    for _ in range(2):
        assert _sh(command, seed_dir).returncode == 0
    log = (seed_dir / "health-monitor.log").read_text()
    assert (
        log.count('"health_score"') == 2
        and log.count("[pipeline-health-monitor] health score") == 2
    )
