"""`pipeline-health-monitor` as a user runs it: exit codes, JSON out, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

BIN = Path(sys.executable).parent / "pipeline-health-monitor"
AS_OF = "2026-03-01T10:30:00+00:00"


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.orders AS SELECT 1 AS id, TIMESTAMP '2026-03-01 08:30:00' AS ordered_at"
    )
    con.close()
    return path


def _run(*args, cwd=None):
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def _config(tmp_path, warehouse, **table) -> Path:
    path = tmp_path / "health-config.json"
    path.write_text(
        json.dumps(
            {
                "warehouse": f"duckdb://{warehouse}",
                "tables": [{"table_id": "shop.marts.orders", **table}],
            }
        )
    )
    return path


def test_all_pass_exits_0_and_writes_the_report(tmp_path, warehouse):
    config = _config(
        tmp_path,
        warehouse,
        freshness={"max_age_hours": 6, "timestamp_column": "ordered_at"},
        row_count={"min_rows": 1},
    )
    result = _run(
        "--config", str(config), "--output", str(tmp_path / "out" / "report.json"), "--as-of", AS_OF
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"] == {
        "total_checks": 2,
        "passed": 2,
        "warnings": 0,
        "failed": 0,
        "errors": 0,
        "health_score": 100.0,
    }
    freshness = report["checks"][0]
    assert (freshness["table"], freshness["check"], freshness["status"]) == (
        "shop.marts.orders",
        "freshness",
        "PASS",
    )
    assert (
        freshness["hours_stale"] == 2.0
        and freshness["max_age_hours"] == 6
        and freshness["latest_update"]
    )
    assert "health score 100.0" in result.stderr


def test_a_failing_check_exits_1_with_json_on_stdout(tmp_path, warehouse):
    config = _config(
        tmp_path, warehouse, freshness={"max_age_hours": 1, "timestamp_column": "ordered_at"}
    )
    result = _run("--config", str(config), "--as-of", AS_OF)
    assert result.returncode == 1
    assert json.loads(result.stdout)["checks"][0]["status"] == "FAIL"
    assert "FAIL  shop.marts.orders freshness: 2.0h stale" in result.stderr


def test_single_table_freshness(warehouse):
    result = _run(
        "--table",
        "shop.marts.orders",
        "--check-freshness",
        "--timestamp-column",
        "ordered_at",
        "--max-age-hours",
        "3",
        "--warehouse",
        f"duckdb://{warehouse}",
        "--as-of",
        AS_OF,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["checks"][0]["hours_stale"] == 2.0


def test_cost_report_on_duckdb(warehouse):
    cost = _run("--cost-report", "--hours", "24", "--warehouse", f"duckdb://{warehouse}")
    assert cost.returncode == 0 and json.loads(cost.stdout)["total_cost_usd"] == 0.0


def _failures(warehouse, dagster_home: Path) -> tuple[int, dict, str]:
    result = subprocess.run(
        [str(BIN), "--check-failures", "--hours", "24", "--warehouse", f"duckdb://{warehouse}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        check=False,
    )
    (check,) = json.loads(result.stdout)["checks"]
    return result.returncode, check, result.stderr


def test_failures_on_duckdb_read_the_dagster_instance(warehouse, tmp_path):
    """DuckDB keeps no job history: the failed runs of the code location's instance are the
    measure; one failed run there fails the critical check (exit 1)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    code, check, _ = _failures(warehouse, home)
    assert (code, check["status"]) == (0, "PASS")
    assert check["message"] == "no failed Dagster runs (this warehouse keeps no job history) in 24h"

    @dg.op
    def boom():
        raise RuntimeError("boom")

    @dg.job
    def nightly():
        boom()

    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = nightly.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    code, check, _ = _failures(warehouse, home)
    assert (code, check["status"], check["failed_dagster_runs"]) == (1, "FAIL", 1)
    assert check["dagster_runs"][0]["job_name"] == "nightly"


def test_failures_with_nothing_to_read_is_an_error_not_a_pass(warehouse, tmp_path):
    """No job history in DuckDB and no Dagster instance (an empty DAGSTER_HOME): unmeasured."""
    (tmp_path / "empty").mkdir()
    code, check, stderr = _failures(warehouse, tmp_path / "empty")
    assert (code, check["status"]) == (1, "ERROR")
    assert check["message"].startswith("no failure history to read")
    assert f"no Dagster instance at {tmp_path / 'empty'}" in stderr
    assert list((tmp_path / "empty").iterdir()) == []  # no instance created by looking


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"tables": [{"table_id": "shop.marts.orders", "freshness": {"max_age_hourz": 3}}]}',
            "$.tables[0].freshness.max_age_hourz: unknown key",
        ),
        (
            '{"tables": [{"table_id": "shop.marts.orders", "freshness": {"max_age_hours": "3"}}]}',
            "$.tables[0].freshness.max_age_hours: Input should be a valid number",
        ),
        (
            '{"tables": [{"table_id": "shop.marts`; DROP TABLE x; --"}]}',
            "$.tables[0].table_id: malformed table_id",
        ),
        (
            '{"tables": [{"table_id": "a.b.c", "freshness": {"max_age_hours": 1, "timestamp_column": "ts) OR 1=1"}}]}',
            "$.tables[0].freshness.timestamp_column: malformed column name",
        ),
        (
            '{"tables": [{"table_id": "a.b.c", "row_count": {"partition_column": "d", "partition_granularity": "week"}}]}',
            "$.tables[0].row_count.partition_granularity: Input should be 'hour', 'day', 'month' or 'year'",
        ),
        (
            '{"tables": [{"table_id": "a.b.c", "freshness": {"max_age_hours": 2, "warn_age_hours": 3}}]}',
            "$.tables[0].freshness: warn_age_hours is greater than max_age_hours",
        ),
        (
            '{"tables": [{"table_id": "a.b.c", "row_count": {"min_rows": 5, "max_rows": 1}}]}',
            "$.tables[0].row_count: min_rows is greater than max_rows",
        ),
        (
            '{"tables": [{"table_id": "a.b.c", "max_age_hours": 2, "freshness": {"max_age_hours": 3}}]}',
            "$.tables[0]: max_age_hours is given both beside table_id and in freshness",
        ),
        (
            '{"warehouse": "postgres://x", "tables": []}',
            "$.warehouse: 'postgres://x': unknown warehouse",
        ),
        ('{"check_costs": "yes"}', "$.check_costs: Input should be a valid boolean"),
        (
            '{"tables": [{"table_id": "a.b.c"}, {"table_id": "a.b.c"}]}',
            "$: table_id 'a.b.c' appears twice",
        ),
        ('{"tables": [', "not valid JSON"),
        (
            '{"tables": [{"table_id": "a.b.c", "row_count": {"min_rows": 1, "min_rows": 5}}]}',
            "key 'min_rows' appears twice in one object",
        ),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path, content, message):
    config = tmp_path / "health-config.json"
    config.write_text(content)
    result = _run("--config", str(config))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"pipeline-health-monitor: error: {config}: ")
    assert message in result.stderr


def test_bad_usage_exits_2(tmp_path):
    assert _run("--table", "a.b.c").returncode == 2  # no --check-freshness
    assert _run("--config", str(tmp_path / "missing.json")).returncode == 2
    bad = _run("--cost-report", "--warehouse", "duckdb://relative.duckdb")
    assert bad.returncode == 2 and "absolute" in bad.stderr


def test_flat_keys_of_the_earlier_format_are_read_with_a_warning(tmp_path, warehouse):
    nested = _config(
        tmp_path,
        warehouse,
        freshness={"max_age_hours": 6, "timestamp_column": "ordered_at"},
        row_count={"min_rows": 1},
    )
    expected = _run("--config", str(nested), "--as-of", AS_OF)
    flat = _config(tmp_path, warehouse, max_age_hours=6, timestamp_column="ordered_at", min_rows=1)
    result = _run("--config", str(flat), "--as-of", AS_OF)
    assert result.returncode == expected.returncode == 0
    assert result.stdout == expected.stdout
    assert (
        f'{flat}: $.tables[0].max_age_hours: deprecated flat key, write it in "freshness": {{...}} (and 2 more)'
        in result.stderr.splitlines()
    )


def test_nested_expected_schema_in_json(tmp_path, warehouse):
    config = _config(
        tmp_path,
        warehouse,
        expected_schema=[
            {"name": "id", "type": "INT64"},
            {"name": "ordered_at", "type": "TIMESTAMP"},
            {"name": "address", "type": "RECORD", "fields": [{"name": "city", "type": "STRING"}]},
        ],
    )
    result = _run("--config", str(config), "--as-of", AS_OF)
    assert result.returncode == 1, result.stderr
    drift = json.loads(result.stdout)["checks"][0]
    assert drift["status"] == "FAIL" and drift["message"] == "breaking: address removed"
    bad = _config(
        tmp_path,
        warehouse,
        expected_schema=[{"name": "a", "type": "RECORD", "fields": [{"name": 1, "type": "X"}]}],
    )
    refused = _run("--config", str(bad))
    assert (
        refused.returncode == 2
        and "$.tables[0].expected_schema[0].fields[0].name: Input should be a valid string"
        in refused.stderr
    )


def test_at_scale_stdout_is_one_json_line_and_stderr_names_the_worst_few(tmp_path):
    """260 tables x 4 checks: stdout is one compact JSON line (the seed's pipes read it) holding
    the checks that did not pass and the whole summary; stderr names at most 20 checks, ERRORs before FAILs, and counts the rest."""
    import duckdb

    from orchestration_utils.health.report import SUMMARY_LINES

    path = tmp_path / "big.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA s")
    tables = []
    for i in range(260):
        con.execute(f"CREATE TABLE s.t{i} AS SELECT TIMESTAMP '2026-02-28 12:00:00' AS ts, 1 AS v")
        tables.append(
            {
                "table_id": f"big.s.t{i}",
                "freshness": {"max_age_hours": 48, "timestamp_column": "ts"},
                "row_count": {"min_rows": 1, "partition_column": "ts", "lookback_days": 3},
                "check_partitions": True,
                "expected_schema": [{"name": "ts", "type": "TIMESTAMP"}],
            }
        )
    tables.append(
        {"table_id": "big.s.gone", "row_count": {"min_rows": 1}}
    )  # an ERROR, listed last in the config
    con.close()
    config = tmp_path / "health-config.json"
    config.write_text(json.dumps({"warehouse": f"duckdb://{path}", "tables": tables}))
    result = subprocess.run(
        [str(BIN), "--config", str(config), "--as-of", "2026-03-01T10:30:00+00:00"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1  # one compact line
    report = json.loads(result.stdout)
    assert report["summary"]["total_checks"] == 260 * 4 + 1
    assert report["checks_shown"] == "not_passing"
    assert all(c["status"] != "PASS" for c in report["checks"])
    listed = [
        line
        for line in result.stderr.splitlines()
        if line.startswith("[pipeline-health-monitor]   ")
    ]
    assert len(listed) == SUMMARY_LINES + 1
    assert "ERROR big.s.gone row_count" in listed[0]
    not_passing = sum(1 for c in report["checks"] if c["status"] != "PASS")
    assert listed[-1].endswith(
        f"... and {not_passing - SUMMARY_LINES} more not passing (every check is in the JSON report)"
    )


def test_past_1000_checks_stdout_holds_what_did_not_pass(tmp_path):
    """A cron line appending stdout to a log gets the failures and the whole summary, not every
    check; `--output` and `--all-checks` still give every check."""
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    for n in range(520):
        rows = 0 if n % 100 == 7 else 1  # 6 empty tables
        con.execute(f"CREATE TABLE marts.t{n} AS SELECT * FROM range({rows}) r(id)")
    con.close()
    config = tmp_path / "health-config.json"
    tables = [
        {
            "table_id": f"shop.marts.t{n}",
            "row_count": {"min_rows": 1},
            "expected_schema": [{"name": "id", "type": "BIGINT"}],
        }
        for n in range(520)
    ]
    config.write_text(json.dumps({"warehouse": f"duckdb://{path}", "tables": tables}))

    default = _run("--config", str(config), "--as-of", AS_OF)
    assert default.returncode == 1, default.stderr
    shown = json.loads(default.stdout)
    assert shown["checks_shown"] == "not_passing"
    assert shown["summary"]["total_checks"] == 1040
    assert shown["summary"]["failed"] == 6
    assert sorted(c["table"] for c in shown["checks"]) == sorted(
        f"shop.marts.t{n}" for n in range(520) if n % 100 == 7
    )
    assert "--all-checks" in default.stderr

    every = _run("--config", str(config), "--as-of", AS_OF, "--all-checks")
    assert len(json.loads(every.stdout)["checks"]) == 1040
    assert "checks_shown" not in json.loads(every.stdout)
    _run("--config", str(config), "--as-of", AS_OF, "--output", str(tmp_path / "r.json"))
    assert len(json.loads((tmp_path / "r.json").read_text())["checks"]) == 1040


@pytest.mark.parametrize("as_of_hour", [0, 1, 3, 13, 23])
def test_freshness_sees_the_newest_rows_of_a_date_partition_at_any_hour(tmp_path, as_of_hour):
    """MAX(timestamp) prunes on the DATE partition column; the newest rows, dated the day the
    look-back window starts, count whatever the hour of the run."""
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.events AS SELECT TIMESTAMP '2026-03-01 22:00:00' AS event_timestamp, "
        "DATE '2026-03-01' AS event_date"
    )
    con.close()
    config = (
        _config(
            tmp_path,
            path,
            freshness={"max_age_hours": 2, "timestamp_column": "event_timestamp"},
            row_count={"min_rows": 1, "partition_column": "event_date", "lookback_days": 7},
        )
        .read_text()
        .replace("shop.marts.orders", "shop.marts.events")
    )
    (tmp_path / "health-config.json").write_text(config)
    as_of = f"2026-03-02T{as_of_hour:02d}:30:00+00:00"
    result = _run("--config", str(tmp_path / "health-config.json"), "--as-of", as_of)
    freshness = next(c for c in json.loads(result.stdout)["checks"] if c["check"] == "freshness")
    assert freshness["latest_update"] == "2026-03-01T22:00:00+00:00", freshness


def test_a_missing_duckdb_file_is_said_before_a_catalog_mismatch(tmp_path):
    """The table's catalog differs from the (missing) file's stem: the missing file is the cause."""
    config = tmp_path / "health-config.json"
    config.write_text(
        json.dumps({"tables": [{"table_id": "p.ds.t", "row_count": {"min_rows": 1}}]})
    )
    missing = tmp_path / "nope" / "shop.duckdb"
    result = _run("--config", str(config), "--warehouse", f"duckdb://{missing}")
    (check,) = json.loads(result.stdout)["checks"]
    assert (check["status"], check["message"]) == ("ERROR", f"DuckDB file {missing} does not exist")
    assert not missing.parent.exists()
