"""ERROR (cannot be evaluated: the warehouse, table or query failed) against NO_DATA (nothing
measured yet): a critical ERROR fails `sla-tracker` as a critical violation does, NO_DATA fails
nothing; the JSON, the Markdown report and the Dagster checks say the same."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration_utils.dagster_defs.sla import _evaluation
from orchestration_utils.sla.evaluate import SlaResult, SlaStatus
from orchestration_utils.sla.report import OUTPUT_SCHEMA

BIN = Path(sys.executable).parent / "sla-tracker"
AS_OF = "2026-05-01T12:00:00+00:00"


def _warehouse(path: Path, table: str | None) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA sales")
    if table:
        con.execute(
            f"CREATE TABLE sales.{table} AS SELECT TIMESTAMP '2026-05-01 11:00:00' AS loaded_at, "
            "1 AS amount"
        )
    con.close()
    return path


def _config(tmp_path: Path, warehouse: Path, critical: bool) -> Path:
    path = tmp_path / "sla.json"
    path.write_text(
        json.dumps(
            {
                "warehouse": f"duckdb://{warehouse}",
                "tables": [
                    {
                        "table_id": "wh.sales.receipts",
                        "critical": critical,
                        "freshness_sla": {"timestamp_column": "loaded_at", "max_age_hours": 3},
                        "quality_sla": {
                            "dialect": "duckdb",
                            "max_failure_rate": 0.5,
                            "query": "SELECT COUNT(*) AS total_rows, COUNT_IF(amount < 0) "
                            "AS failed_rows FROM wh.sales.receipts",
                        },
                        "availability_sla": {"target_availability": 95, "lookback_hours": 10},
                    }
                ],
            }
        )
    )
    return path


def _run(tmp_path: Path, config: Path, *extra: str, as_of=AS_OF) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAGERDUTY_"))}
    return subprocess.run(
        [str(BIN), "--config", str(config), "--state-dir", str(tmp_path / "state"), "--as-of"]
        + [as_of, *extra],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=clean,
    )


@pytest.mark.parametrize("critical", [True, False])
@pytest.mark.parametrize("cause", ["warehouse file missing", "table missing"])
def test_an_sla_that_cannot_be_evaluated_fails_the_run_when_critical(tmp_path, critical, cause):
    warehouse = tmp_path / "wh.duckdb"
    if cause == "table missing":
        _warehouse(warehouse, table=None)
    result = _run(tmp_path, _config(tmp_path, warehouse, critical))
    assert result.returncode == (1 if critical else 0), result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, OUTPUT_SCHEMA)
    # Availability cannot be measured because its freshness cannot: ERROR saying why, not NO_DATA.
    assert {s["sla_type"]: s["status"] for s in report["slas"]} == {
        "freshness": "ERROR",
        "quality": "ERROR",
        "availability": "ERROR",
    }
    availability = next(s for s in report["slas"] if s["sla_type"] == "availability")
    assert availability["message"].startswith("its freshness SLA wh.sales.receipts freshness: ")
    summary = report["summary"]
    assert (summary["errors"], summary["critical_errors"], summary["no_data"]) == (
        3,
        3 if critical else 0,
        0,
    )
    assert summary["violations"] == 0 and report["violations"] == []
    assert f"3 could not be evaluated ({3 if critical else 0} critical)" in result.stderr


def test_nothing_measured_yet_is_no_data_not_a_failure(tmp_path):
    warehouse = _warehouse(tmp_path / "wh.duckdb", table="receipts")
    config = _config(tmp_path, warehouse, critical=True)
    result = _run(tmp_path, config, "--report", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert "**2 of 3 SLAs met** (66.6%)" in result.stdout  # floored: never rounded up
    assert "0 could not be evaluated (0 critical) · 1 no data yet" in result.stdout
    [availability_row] = [
        line for line in result.stdout.splitlines() if line.startswith("| `wh.sales.receipts avail")
    ]
    assert "❔ no data yet" in availability_row
    # Half an hour measured of a 10 h window: still too little to judge (10% is needed).
    later = json.loads(
        _run(tmp_path, config, "--no-alerts", as_of="2026-05-01T12:30:00+00:00").stdout
    )
    jsonschema.validate(later, OUTPUT_SCHEMA)
    availability = next(s for s in later["slas"] if s["sla_type"] == "availability")
    assert availability["status"] == "NO_DATA"
    assert availability["message"] == (
        "0.5 h of freshness evaluations of wh.sales.receipts freshness in the window; "
        "judged once 10% of its 10 h (1.0 h) is measured"
    )
    # An hour and a quarter measured: judged.
    report = json.loads(
        _run(tmp_path, config, "--no-alerts", as_of="2026-05-01T13:15:00+00:00").stdout
    )
    assert {s["sla_type"]: s["status"] for s in report["slas"]}["availability"] == "PASS"
    assert report["summary"]["no_data"] == 0


def test_seconds_of_stale_history_do_not_fail_availability(tmp_path):
    """A new instance whose table is stale: two evaluations seconds apart measure seconds, all
    stale; that is no 0% availability of the window (the demo showed FAIL on its first look)."""
    warehouse = _warehouse(tmp_path / "wh.duckdb", table="receipts")
    config = _config(tmp_path, warehouse, critical=True)
    stale = "2026-05-01T20:00:00+00:00"  # 9 h after the newest row: freshness FAILs
    _run(tmp_path, config, "--no-alerts", as_of=stale)
    report = json.loads(
        _run(tmp_path, config, "--no-alerts", as_of="2026-05-01T20:00:30+00:00").stdout
    )
    statuses = {s["sla_type"]: s["status"] for s in report["slas"]}
    assert (statuses["freshness"], statuses["availability"]) == ("FAIL", "NO_DATA")
    # Stale through more than a tenth of the window: now it is judged, and fails.
    for at in ("2026-05-01T21:00:00+00:00", "2026-05-01T21:30:00+00:00"):
        report = json.loads(_run(tmp_path, config, "--no-alerts", as_of=at).stdout)
    availability = next(s for s in report["slas"] if s["sla_type"] == "availability")
    assert availability["status"] == "FAIL"
    assert availability["availability_percent"] == 0.0


def _result(status: SlaStatus, critical: bool) -> SlaResult:
    return SlaResult("n", "freshness", "a.b.c", critical, status, "why", "newer than 1 h")


@pytest.mark.parametrize(
    ("status", "critical", "passed", "severity", "description"),
    [
        (SlaStatus.PASS, True, True, dg.AssetCheckSeverity.WARN, "why"),
        (SlaStatus.NO_DATA, True, False, dg.AssetCheckSeverity.WARN, "no data yet: why"),
        (SlaStatus.FAIL, True, False, dg.AssetCheckSeverity.ERROR, "why"),
        (SlaStatus.FAIL, False, False, dg.AssetCheckSeverity.WARN, "why"),
        (SlaStatus.ERROR, True, False, dg.AssetCheckSeverity.ERROR, "not evaluated: why"),
        (SlaStatus.ERROR, False, False, dg.AssetCheckSeverity.WARN, "not evaluated: why"),
    ],
)
def test_the_dagster_check_says_what_the_cli_says(status, critical, passed, severity, description):
    key = dg.AssetCheckKey(dg.AssetKey(["a", "b", "c"]), "sla_n")
    evaluation = _evaluation(_result(status, critical), key)
    assert (evaluation.passed, evaluation.severity, evaluation.description) == (
        passed,
        severity,
        description,
    )
    assert evaluation.metadata["sla_status"] == dg.TextMetadataValue(status.value)


@given(st.lists(st.sampled_from(list(SlaStatus)), max_size=3000))
def test_the_compliance_rate_reads_100_only_when_every_sla_is_met(statuses):
    from orchestration_utils.sla.report import summarize

    summary = summarize([_result(s, critical=False) for s in statuses])
    met = statuses.count(SlaStatus.PASS)
    assert (summary["compliance_rate"] == 100.0) == (met == len(statuses))
    if statuses:
        exact = 100 * met / len(statuses)
        assert exact - 0.1 < summary["compliance_rate"] <= exact + 1e-9  # floored, never up
    assert summary["no_data"] == statuses.count(SlaStatus.NO_DATA)
    assert summary["errors"] == statuses.count(SlaStatus.ERROR)


@pytest.mark.parametrize("home", ["empty", "missing"])
def test_a_completion_sla_without_a_dagster_instance_is_an_error(tmp_path, home):
    """An empty (or missing) DAGSTER_HOME is no instance: opening it would create one whose
    history of nothing reads as "no run finished", a violation nobody measured."""
    dagster_home = tmp_path / "dagster_home"
    if home == "empty":
        dagster_home.mkdir()
    config = tmp_path / "sla.json"
    config.write_text(
        json.dumps(
            {
                "pipelines": [
                    {
                        "name": "nightly",
                        "critical": True,
                        "completion_time_sla": {"target_duration_minutes": 5},
                    }
                ]
            }
        )
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAGERDUTY_"))}
    result = subprocess.run(
        [str(BIN), "--config", str(config), "--state-dir", str(tmp_path / "state"), "--no-alerts"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**clean, "DAGSTER_HOME": str(dagster_home)},
    )
    assert result.returncode == 1  # a critical SLA that cannot be evaluated
    (sla,) = json.loads(result.stdout)["slas"]
    assert (sla["status"], sla["message"]) == ("ERROR", "no Dagster instance: set DAGSTER_HOME")
    assert f"no Dagster instance at {dagster_home}" in result.stderr
    assert list(dagster_home.iterdir()) == [] if home == "empty" else not dagster_home.exists()
