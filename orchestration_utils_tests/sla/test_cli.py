"""`sla-tracker` as a user runs it, and completion-time SLAs on real runs in a Dagster instance."""

import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import duckdb
import jsonschema
import pytest

from orchestration_utils.runs.airflow import AirflowCredentials, AirflowRuns
from orchestration_utils.sla.config import parse_sla_config
from orchestration_utils.sla.cycle import run_source
from orchestration_utils.sla.evaluate import evaluate_slas
from orchestration_utils.sla.report import OUTPUT_SCHEMA

BIN = Path(sys.executable).parent / "sla-tracker"
AS_OF = "2026-05-01T12:00:00+00:00"


class NoHistory:
    def samples(self, sla_name, since):
        return []


def _write(tmp_path, warehouse, tables=(), pipelines=(), name="sla-config.json", **top) -> Path:
    path = tmp_path / name
    path.write_text(
        json.dumps(
            {
                "warehouse": f"duckdb://{warehouse}",
                "pipelines": list(pipelines),
                "tables": list(tables),
                **top,
            }
        )
    )
    return path


def _run(*args, env=None, timeout=120):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAGERDUTY_"))}
    return subprocess.run(
        [str(BIN), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**clean, **(env or {})},
    )


FRESHNESS = {"name": "orders_fresh", "timestamp_column": "ts", "max_age_hours": 6}
# The seed's style: BigQuery SQL, transpiled for the DuckDB warehouse.
QUALITY = {
    "name": "orders_valid",
    "critical": False,
    "max_failure_rate": 0.1,
    "query": "SELECT COUNT(*) AS total_rows, COUNTIF(amount < 0) AS failed_rows FROM `shop.marts.orders`",
}
FRESH = {"table_id": "shop.marts.orders", "critical": True, "freshness_sla": FRESHNESS}
FRESH_AND_VALID = {**FRESH, "quality_sla": QUALITY}


def test_check_all_json_and_exit_codes(tmp_path, warehouse):
    config = _write(tmp_path, warehouse, [FRESH_AND_VALID])
    result = _run("--config", str(config), "--state-dir", str(tmp_path / "state"), "--as-of", AS_OF)
    assert result.returncode == 1, result.stderr  # 1 of 2 rows failed: 50 % > 10 %
    report = json.loads(result.stdout)
    jsonschema.validate(report, OUTPUT_SCHEMA)
    assert report["summary"] == {
        "total_checks": 2,
        "passed": 1,
        "failed": 1,
        "errors": 0,
        "critical_errors": 0,
        "no_data": 0,
        "violations": 1,
        "critical_violations": 0,
        "compliance_rate": 50.0,
    }
    violation = report["violations"][0]
    assert violation["name"] == "orders_valid" and violation["failure_rate"] == 0.5
    assert {
        k: violation[k] for k in ("table", "sla_type", "status", "critical", "max_failure_rate")
    } == {
        "table": "shop.marts.orders",
        "sla_type": "quality",
        "status": "FAIL",
        "critical": False,
        "max_failure_rate": 0.1,
    }
    assert "alert: Slack is not configured" in result.stderr
    assert (tmp_path / "state" / "sla-state.sqlite").is_file()
    fine = _write(tmp_path, warehouse, [FRESH])
    assert (
        _run(
            "--config", str(fine), "--state-dir", str(tmp_path / "s2"), "--as-of", AS_OF
        ).returncode
        == 0
    )


def test_markdown_report(tmp_path, warehouse):
    config = _write(tmp_path, warehouse, [FRESH_AND_VALID])
    out = tmp_path / "report.md"
    result = _run(
        "--config",
        str(config),
        "--report",
        "--format",
        "markdown",
        "--output",
        str(out),
        "--state-dir",
        str(tmp_path / "state"),
        "--as-of",
        AS_OF,
    )
    assert result.returncode == 1
    text = out.read_text()
    assert text.startswith("# SLA report · 2026-05-01 12:00 UTC\n\n**1 of 2 SLAs met** (50%)")
    assert "## Violations" in text and "| :warning: | `orders_valid` |" in text
    assert "## Freshness" in text and "## Quality" in text and "## Completion time" not in text


def test_names_default_to_subject_and_type(tmp_path, warehouse):
    table = {
        "table_id": "shop.marts.orders",
        "freshness_sla": {"timestamp_column": "ts", "max_age_hours": 6},
        "quality_sla": {k: v for k, v in QUALITY.items() if k != "name"},
    }
    config = _write(
        tmp_path,
        warehouse,
        [table],
        [{"name": "nightly_load", "completion_time_sla": {"target_duration_minutes": 5}}],
    )
    result = _run(
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "state"),
        "--as-of",
        AS_OF,
        "--no-alerts",
    )
    names = {s["name"] for s in json.loads(result.stdout)["slas"]}
    assert names == {"shop.marts.orders freshness", "shop.marts.orders quality", "nightly_load"}


@pytest.mark.parametrize(
    ("tables", "top", "message"),
    [
        (
            [{**FRESH, "freshness_sla": {**FRESHNESS, "max_age_hours": "6"}}],
            {},
            "$.tables[0].freshness_sla.max_age_hours: Input should be a valid number",
        ),
        (
            [{**FRESH, "freshness_sla": {**FRESHNESS, "max_age_hours": 1e300}}],
            {},
            "$.tables[0].freshness_sla.max_age_hours: must be a number of hours in (0, 87600], got 1e+300",
        ),
        (
            [{**FRESH, "quality_sla": {**QUALITY, "max_failure_rate": 2}}],
            {},
            "$.tables[0].quality_sla.max_failure_rate: must be a failure rate in [0, 1], got 2",
        ),
        ([{**FRESH, "table_id": "x"}], {}, "$.tables[0].table_id: malformed table_id"),
        ([FRESH, FRESH], {}, "table_id 'shop.marts.orders' appears twice"),
        (
            [FRESH, {"table_id": "shop.marts.customers", "freshness_sla": FRESHNESS}],
            {},
            "SLA name 'orders_fresh' appears twice",
        ),
        (
            [{"table_id": "a.b.c", "availability_sla": {"target_availability": 99}}],
            {},
            "$.tables[0]: availability_sla is measured from freshness_sla: add one to this table",
        ),
        ([{**FRESH, "owner": "me"}], {}, "$.tables[0].owner: unknown key"),
        (
            [{**FRESH, "freshness_sla": {**FRESHNESS, "window": 3}}],
            {},
            "$.tables[0].freshness_sla.window: unknown key",
        ),
        (
            [FRESH],
            {"alerts": {"timeout_seconds": 0}},
            "$.alerts.timeout_seconds: must be a number of seconds in (0, 3600]",
        ),
        ([FRESH], {"report_cron": "daily"}, "$.report_cron: not a cron expression"),
        (
            [FRESH],
            {"report_cron": "0 0 30 2 *"},
            "$.report_cron: not a cron expression: cron '0 0 30 2 *' never fires",
        ),
        ([], {}, "no SLAs"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path, warehouse, tables, top, message):
    config = _write(tmp_path, warehouse, tables, **top)
    result = _run("--config", str(config), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize("flat", [False, True])
def test_a_key_given_twice_is_refused_not_silently_overridden(tmp_path, warehouse, flat):
    """JSON parsers keep the last of two equal keys: the max_age_hours the user edited first
    would be ignored. In the seed's shape and in the earlier flat format alike."""
    block = '"timestamp_column": "ts", "max_age_hours": 1, "max_age_hours": 48'
    table = (
        f'{{"slas": [{{"name": "n", "type": "freshness", "table_id": "shop.marts.orders", {block}}}]}}'
        if flat
        else f'{{"tables": [{{"table_id": "shop.marts.orders", "freshness_sla": {{{block}}}}}]}}'
    )
    config = tmp_path / "sla.json"
    config.write_text(table)
    result = _run("--config", str(config), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert result.stderr == (
        f"sla-tracker: error: {config}: key 'max_age_hours' appears twice in one object\n"
    )


def test_the_earlier_flat_format_is_read_with_a_warning(tmp_path, warehouse):
    config = tmp_path / "flat.json"
    config.write_text(
        json.dumps(
            {
                "warehouse": f"duckdb://{warehouse}",
                "slas": [
                    {
                        "name": "orders_fresh",
                        "type": "freshness",
                        "table_id": "shop.marts.orders",
                        "timestamp_column": "ts",
                        "max_age_hours": 6,
                        "critical": True,
                    },
                    {
                        "name": "orders_valid",
                        "type": "quality",
                        "table_id": "shop.marts.orders",
                        "max_failure_rate": 0.1,
                        "query": "SELECT count(*) AS total_rows, count(*) FILTER (WHERE amount < 0) AS failed_rows FROM shop.marts.orders",
                    },
                ],
            }
        )
    )
    result = _run(
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "state"),
        "--as-of",
        AS_OF,
        "--no-alerts",
    )
    assert result.returncode == 1 and "$.slas: deprecated flat format" in result.stderr
    slas = {s["name"]: s for s in json.loads(result.stdout)["slas"]}
    assert slas["orders_fresh"]["critical"] and slas["orders_fresh"]["status"] == "PASS"
    assert slas["orders_valid"]["failure_rate"] == 0.5  # its DuckDB SQL is sent as written


def test_monitor_stops_cleanly_on_sigterm_after_finishing_the_evaluation(tmp_path, warehouse):
    config = _write(tmp_path, warehouse, [FRESH])
    state = tmp_path / "state"
    process = subprocess.Popen(
        [
            str(BIN),
            "--config",
            str(config),
            "--monitor",
            "--interval",
            "1",
            "--state-dir",
            str(state),
            "--no-alerts",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60

    while _recorded(state) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "SIGTERM: stopping after the evaluation under way" in stderr
    assert _recorded(state) >= 3 and "Traceback" not in stderr


def test_completion_time_from_real_runs_in_a_dagster_instance():
    @dg.op
    def quick():
        return 1

    @dg.op
    def slow():
        time.sleep(1.5)

    @dg.op
    def broken():
        raise RuntimeError("boom")

    quick_job = dg.GraphDefinition("quick_job", node_defs=[quick]).to_job()
    slow_job = dg.GraphDefinition("slow_job", node_defs=[slow]).to_job()
    broken_job = dg.GraphDefinition("broken_job", node_defs=[broken]).to_job()
    config = parse_sla_config(
        json.dumps(
            {
                "pipelines": [
                    {
                        "name": "quick_job",
                        "completion_time_sla": {"name": "quick", "target_duration_minutes": 0.5},
                    },
                    {
                        "name": "slow_job",
                        "completion_time_sla": {"name": "slow", "target_duration_minutes": 0.01},
                    },
                    {
                        "name": "broken_job",
                        "completion_time_sla": {"name": "broken", "target_duration_minutes": 5},
                    },
                    {
                        "name": "never_run_job",
                        "completion_time_sla": {"name": "never", "target_duration_minutes": 5},
                    },
                ]
            }
        ),
        "test",
    )
    with dg.instance_for_test() as instance:
        for job in (quick_job, quick_job, slow_job, broken_job):
            job.execute_in_process(instance=instance, raise_on_error=False)
        results = {
            r.name: r
            for r in evaluate_slas(
                config, datetime.now(UTC), None, run_source(config, instance), NoHistory()
            )
        }
    assert results["quick"].status == "PASS" and results["quick"].figures["runs"] == 2
    assert results["quick"].compliance.compliance_percent == 100.0
    slow = results["slow"]
    assert slow.status == "FAIL" and slow.figures["latest_duration_minutes"] >= 0.025
    assert results["broken"].status == "FAIL" and "failed" in results["broken"].message
    assert results["never"].status == "FAIL" and results["never"].figures["runs"] == 0


def test_completion_time_from_the_airflow_rest_api(monkeypatch):
    """No Airflow API server runs in the tests: the dagRuns answer is the documented v2 shape."""
    now = datetime.now(UTC)
    runs = {
        "dag_runs": [
            {
                "dag_run_id": "scheduled__1",
                "state": "success",
                "start_date": (now - timedelta(hours=2)).isoformat(),
                "end_date": (now - timedelta(hours=1, minutes=20)).isoformat(),
            },
            {
                "dag_run_id": "scheduled__2",
                "state": "running",
                "start_date": now.isoformat(),
                "end_date": None,
            },
        ],
        "total_entries": 2,
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        seen: ClassVar[list] = []

        def log_message(self, *args):
            pass

        def do_GET(self):
            Handler.seen.append((self.path, self.headers.get("Authorization")))
            data = json.dumps(runs).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            data = b'{"access_token": "jwt-token"}'
            self.send_response(201)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    credentials = AirflowCredentials.from_env(
        {"AIRFLOW_USERNAME": "admin", "AIRFLOW_PASSWORD": "admin"}
    )
    assert "admin" not in repr(credentials).replace(
        "username='admin'", ""
    )  # the password never shows
    try:
        found = AirflowRuns(f"http://127.0.0.1:{httpd.server_address[1]}", credentials)(
            "shop__daily", now - timedelta(hours=24)
        )
    finally:
        httpd.shutdown()
    assert [r.run_id for r in found] == ["scheduled__1"]  # running runs are not finished
    assert found[0].succeeded and found[0].duration_minutes == pytest.approx(40)
    path, auth = Handler.seen[0]
    assert (
        path.startswith("/api/v2/dags/shop__daily/dagRuns?end_date_gte=")
        and auth == "Bearer jwt-token"
    )


def test_airflow_runs_are_read_page_by_page():
    """An hourly DAG has 168 runs in a week: the stand-in serves Airflow's `limit`/`offset` pages
    (at most 100, newest end first), and every finished run in the window is read."""
    now = datetime.now(UTC).replace(microsecond=0)
    every = [
        {
            "dag_run_id": f"scheduled__{i}",
            "state": "failed" if i == 7 else "success",
            "start_date": (now - timedelta(hours=i, minutes=30)).isoformat(),
            "end_date": (now - timedelta(hours=i, minutes=10)).isoformat(),
        }
        for i in range(250)
    ]

    class Handler(http.server.BaseHTTPRequestHandler):
        pages: ClassVar[list[int]] = []

        def log_message(self, *args):
            pass

        def do_GET(self):
            query = parse_qs(urlsplit(self.path).query)
            since = datetime.fromisoformat(query["end_date_gte"][0])
            limit, offset = min(int(query["limit"][0]), 100), int(query["offset"][0])
            assert query["order_by"] == ["-end_date"]
            window = sorted(
                (r for r in every if datetime.fromisoformat(r["end_date"]) >= since),
                key=lambda r: r["end_date"],
                reverse=True,
            )
            Handler.pages.append(offset)
            data = json.dumps(
                {"dag_runs": window[offset : offset + limit], "total_entries": len(window)}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        found = AirflowRuns(
            f"http://127.0.0.1:{httpd.server_address[1]}", AirflowCredentials(token="t")
        )("shop__hourly", now - timedelta(hours=168))
    finally:
        httpd.shutdown()
    assert len(found) == 168 and len({r.run_id for r in found}) == 168  # not just the first 100
    assert Handler.pages == [0, 100]
    assert (
        found[0].run_id == "scheduled__0"
        and not next(r for r in found if r.run_id == "scheduled__7").succeeded
    )


def test_a_killed_monitor_loses_nothing_it_recorded(tmp_path, warehouse):
    config = _write(
        tmp_path,
        warehouse,
        [{**FRESH, "availability_sla": {"name": "orders_available", "target_availability": 50}}],
    )
    state = tmp_path / "state"
    process = subprocess.Popen(
        [
            str(BIN),
            "--config",
            str(config),
            "--monitor",
            "--interval",
            "1",
            "--state-dir",
            str(state),
            "--no-alerts",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while _recorded(state) < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.kill()  # SIGKILL: no handler, no cleanup
    process.wait(30)
    recorded = _recorded(state)
    assert recorded >= 6
    with sqlite3.connect(state / "sla-state.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # A new process reads the history on: the availability SLA is measured from it.
    result = _run("--config", str(config), "--state-dir", str(state), "--no-alerts")
    assert _recorded(state) == recorded + 2
    report = json.loads(result.stdout)
    jsonschema.validate(report, OUTPUT_SCHEMA)
    slas = {s["name"]: s for s in report["slas"]}
    assert slas["orders_available"]["compliance_percent"] is not None


def _recorded(state) -> int:
    try:
        with sqlite3.connect(state / "sla-state.sqlite") as db:
            return db.execute("SELECT count(*) FROM evaluations").fetchone()[0]
    except sqlite3.Error:
        return 0


def _monitor(tmp_path, config, state, *extra):
    stderr = (tmp_path / "monitor.err").open("w")
    process = subprocess.Popen(
        [
            str(BIN),
            "--config",
            str(config),
            "--monitor",
            "--interval",
            "1",
            "--state-dir",
            str(state),
            "--no-alerts",
            "--as-of",
            AS_OF,
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    return process, tmp_path / "monitor.err"


def _statuses(state) -> list[str]:
    try:
        with sqlite3.connect(state / "sla-state.sqlite") as db:
            return [s for (s,) in db.execute("SELECT status FROM evaluations ORDER BY at")]
    except sqlite3.Error:
        return []


def _until(condition, seconds=90):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert condition()


def test_the_monitor_rides_out_a_warehouse_outage(tmp_path, warehouse):
    down = tmp_path / "later" / "shop.duckdb"
    config = _write(tmp_path, down, [FRESH])
    state = tmp_path / "state"
    process, err = _monitor(tmp_path, config, state)
    try:
        _until(
            lambda: _statuses(state).count("ERROR") >= 2
        )  # the warehouse is not there: ERROR, go on
        down.parent.mkdir()
        down.write_bytes(warehouse.read_bytes())
        _until(lambda: "PASS" in _statuses(state))  # back: evaluated again
    finally:
        process.terminate()
        assert process.wait(60) == 0
    assert "does not exist" in err.read_text() and "Traceback" not in err.read_text()


def test_the_monitor_survives_an_evaluation_that_fails_and_goes_on(tmp_path, warehouse):
    """Another process holds the state database past its busy timeout: that evaluation cannot be
    recorded, is logged on stderr, and the next one runs once the lock is gone."""
    config = _write(tmp_path, warehouse, [FRESH])
    state = tmp_path / "state"
    process, err = _monitor(tmp_path, config, state)
    try:
        _until(lambda: len(_statuses(state)) >= 1)
        holder = sqlite3.connect(state / "sla-state.sqlite", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        _until(
            lambda: "evaluation failed: OperationalError: database is locked" in err.read_text(),
            120,
        )
        holder.execute("ROLLBACK")
        holder.close()
        recorded = len(_statuses(state))
        _until(lambda: len(_statuses(state)) > recorded)
        assert process.poll() is None  # still monitoring
    finally:
        process.terminate()
        assert process.wait(60) == 0
    assert "Traceback" not in err.read_text()


def test_an_empty_table_is_stale_by_an_unknown_amount(tmp_path):
    warehouse = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.orders (id INTEGER, amount DOUBLE, ts TIMESTAMP)")
    con.close()
    config = _write(tmp_path, warehouse, [FRESH])
    result = _run(
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "state"),
        "--as-of",
        AS_OF,
        "--no-alerts",
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, OUTPUT_SCHEMA)
    [violation] = report["violations"]
    assert violation["hours_stale"] is None and violation["violation_hours"] is None
    assert violation["max_age_hours"] == 6 and violation["status"] == "FAIL"
