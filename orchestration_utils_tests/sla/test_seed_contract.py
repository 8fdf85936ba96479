"""The seed's sla-tracker contract, verbatim: its config example and each of its usage lines, run as
the console script by a shell on a DuckDB warehouse named like the seed's table ids (`project.duckdb`
holding `dataset.events`), with data whose right answers we know. Every JSON output is checked
against the schema shipped in the package."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import jsonschema
import pytest

from orchestration_utils.sla.report import OUTPUT_SCHEMA

BIN = Path(sys.executable).parent
# SEED.md, "sla-tracker", "Configuration Example", as published.
SEED_CONFIG = """{
  "pipelines": [
    {
      "name": "daily_aggregation",
      "critical": true,
      "completion_time_sla": {
        "target_duration_minutes": 60,
        "lookback_hours": 24
      }
    }
  ],
  "tables": [
    {
      "table_id": "project.dataset.events",
      "critical": true,
      "freshness_sla": {
        "timestamp_column": "event_timestamp",
        "max_age_hours": 2
      },
      "quality_sla": {
        "query": "SELECT COUNT(*) as total_rows, COUNTIF(user_id IS NULL) as failed_rows FROM `project.dataset.events`",
        "max_failure_rate": 0.01
      },
      "availability_sla": {
        "target_availability": 99.9,
        "lookback_hours": 24
      }
    }
  ]
}
"""


def _site(tmp_path: Path, newest_age_hours: float, null_users: int) -> tuple[Path, dict[str, str]]:
    """A working directory with the seed's config, `project.duckdb` with 100 events (the newest
    `newest_age_hours` old, `null_users` of them without a user) and a Dagster instance in which
    `daily_aggregation` ran (quickly)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sla-config.json").write_text(SEED_CONFIG)
    now = datetime.now(UTC).replace(tzinfo=None)
    con = duckdb.connect(str(site / "project.duckdb"))
    con.execute("CREATE SCHEMA dataset")
    con.execute(
        "CREATE TABLE dataset.events (event_id INTEGER, event_timestamp TIMESTAMP, user_id VARCHAR)"
    )
    con.executemany(
        "INSERT INTO dataset.events VALUES (?, ?, ?)",
        [
            (
                i,
                now - timedelta(hours=newest_age_hours, minutes=i),
                None if i < null_users else f"u{i}",
            )
            for i in range(100)
        ],
    )
    con.close()
    home = site / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")

    @dg.op
    def aggregate():
        return 1

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert (
            dg.GraphDefinition("daily_aggregation", node_defs=[aggregate])
            .to_job()
            .execute_in_process(instance=instance)
            .success
        )
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "PAGERDUTY_", "ORCHESTRATION_UTILS_", "DAGSTER_"))
    }
    env = {
        **clean,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DAGSTER_HOME": str(home),
        "ORCHESTRATION_UTILS_WAREHOUSE": f"duckdb://{site / 'project.duckdb'}",
        "ORCHESTRATION_UTILS_HOME": str(site / ".orchestration_utils"),
    }
    return site, env


def _line(line: str, site: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", line],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _by_type(report: dict) -> dict[str, dict]:
    return {s["sla_type"]: s for s in report["slas"]}


def test_fresh_clean_data_passes_and_the_report_line_writes_markdown(tmp_path):
    site, env = _site(tmp_path, newest_age_hours=0.5, null_users=0)
    result = _line("sla-tracker --config sla-config.json", site, env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, OUTPUT_SCHEMA)
    slas = _by_type(report)
    assert (
        slas["completion_time"]["pipeline"] == "daily_aggregation"
        and slas["completion_time"]["status"] == "PASS"
    )
    assert (
        slas["freshness"]["table"] == "project.dataset.events"
        and slas["freshness"]["status"] == "PASS"
    )
    assert slas["freshness"]["hours_stale"] == pytest.approx(0.5, abs=0.05)
    assert slas["quality"]["status"] == "PASS" and slas["quality"]["failure_rate"] == 0.0
    # Availability is measured from recorded evaluations: the first run has none yet, which is
    # no failure (exit 0 above) and no error: nothing measured yet.
    assert slas["availability"]["status"] == "NO_DATA"
    assert slas["availability"]["message"].startswith("no freshness evaluations")
    assert report["summary"] == {
        "total_checks": 4,
        "passed": 3,
        "failed": 0,
        "errors": 0,
        "critical_errors": 0,
        "no_data": 1,
        "violations": 0,
        "critical_violations": 0,
        "compliance_rate": 75.0,
    }
    assert report["violations"] == []
    assert {s["name"] for s in report["slas"]} == {
        "daily_aggregation",
        "project.dataset.events freshness",
        "project.dataset.events quality",
        "project.dataset.events availability",
    }

    result = _line(
        "sla-tracker --config sla-config.json --report --format markdown --output report.md",
        site,
        env,
    )
    assert result.returncode == 0, result.stderr
    text = (site / "report.md").read_text()
    # Seconds after the first run: seconds of history are too little of the window to judge.
    assert text.startswith("# SLA report") and "**3 of 4 SLAs met** (75%)" in text
    assert "1 no data yet" in text

    result = _line(
        "sla-tracker --config sla-config.json --report --format json --output report.json",
        site,
        env,
    )
    assert result.returncode == 0, result.stderr
    jsonschema.validate(json.loads((site / "report.json").read_text()), OUTPUT_SCHEMA)


def test_stale_data_and_nulls_over_the_rate_are_the_seeds_violations(tmp_path):
    site, env = _site(tmp_path, newest_age_hours=5, null_users=5)
    result = _line("sla-tracker --config sla-config.json", site, env)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, OUTPUT_SCHEMA)
    assert report["summary"]["failed"] == report["summary"]["violations"] == 2
    assert (
        report["summary"]["critical_violations"] == 2
        and report["summary"]["compliance_rate"] == 25.0
    )
    violations = {v["sla_type"]: v for v in report["violations"]}
    freshness = violations["freshness"]
    assert {
        k: freshness[k] for k in ("table", "sla_type", "status", "critical", "max_age_hours")
    } == {
        "table": "project.dataset.events",
        "sla_type": "freshness",
        "status": "FAIL",
        "critical": True,
        "max_age_hours": 2,
    }
    assert freshness["hours_stale"] == pytest.approx(5, abs=0.05)
    assert freshness["violation_hours"] == pytest.approx(3, abs=0.05)
    quality = violations["quality"]
    assert (
        quality["status"] == "FAIL"
        and quality["failure_rate"] == 0.05
        and quality["max_failure_rate"] == 0.01
    )
    assert quality["table"] == "project.dataset.events"


def test_a_quality_query_that_cannot_be_transpiled_is_that_slas_error(tmp_path):
    site, env = _site(tmp_path, newest_age_hours=0.5, null_users=0)
    config = json.loads(SEED_CONFIG)
    config["tables"][0]["quality_sla"]["query"] = (
        "SELECT COUNTIF(user_id IS NULL) FROM `project.dataset.events` WHERE ("
    )
    (site / "sla-config.json").write_text(json.dumps(config))
    result = _line("sla-tracker --config sla-config.json", site, env)
    assert result.returncode == 1, result.stderr  # a critical SLA that cannot be evaluated
    assert "1 could not be evaluated (1 critical)" in result.stderr
    quality = _by_type(json.loads(result.stdout))["quality"]
    assert quality["status"] == "ERROR" and quality["message"].startswith(
        "cannot transpile the bigquery query to duckdb"
    )
    assert (
        _by_type(json.loads(result.stdout))["freshness"]["status"] == "PASS"
    )  # the others are evaluated


def test_the_monitor_line_runs_until_sigterm(tmp_path):
    site, env = _site(tmp_path, newest_age_hours=0.5, null_users=0)
    process = subprocess.Popen(
        ["bash", "-c", "exec sla-tracker --config sla-config.json --monitor --interval 300"],
        cwd=site,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline
        and _recorded(site / ".orchestration_utils" / "sla-state.sqlite") < 4
    ):
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)  # the first evaluation is recorded; the next is 300 s away
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert (
        "monitoring 4 SLAs every 300s" in stderr
        and "3 of 4 SLAs met" in stderr
        and "Traceback" not in stderr
    )


def _recorded(state: Path) -> int:
    try:
        with sqlite3.connect(state) as db:
            return db.execute("SELECT count(*) FROM evaluations").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_the_cron_line_appends_to_its_log(tmp_path):
    site, env = _site(tmp_path, newest_age_hours=5, null_users=0)
    line = f"{BIN}/sla-tracker --config {site}/sla-config.json >> {site}/sla-tracker.log 2>&1"
    assert _line(line, site, env).returncode == 1
    assert _line(line, site, env).returncode == 1
    log = (site / "sla-tracker.log").read_text()
    assert (
        log.count('"compliance_rate"') == 2
        and log.count("SLAs met") == 2
        and "Traceback" not in log
    )
