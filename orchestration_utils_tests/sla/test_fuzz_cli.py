"""Fuzz `sla-tracker` (in-process `main()`, a few hundred examples): hostile config values and flags
give exit 0, 1 or 2 only, never a traceback; a failed run leaves a previous `--output` byte-identical
and no hidden temporary file beside it; a successful one writes the whole report."""

import contextlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import duckdb
import jsonschema
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orchestration_utils.cli.sla_tracker import main
from orchestration_utils.sla.report import OUTPUT_SCHEMA

PLACEHOLDER = "\u0000hostile\u0000"
HOSTILE = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "1e300",
    "-1",
    "0",
    "0.0",
    "1e-320",
    "18446744073709551617",
    "true",
    "null",
    '""',
    '"x"',
    '"a.b"',
    '"a.b.c.d"',
    '"12:00"',
    "[]",
    "{}",
    '[1, "a"]',
    '{"k": 1}',
    '"\\u0000"',
    '"SELECT 1; SELECT 2"',
    '"DROP TABLE marts.orders"',
    '"`p`.`d`.`t`"',
    '"* * * * *"',
]


def _base(warehouse: Path) -> dict:
    return {
        "warehouse": f"duckdb://{warehouse}",
        "pipelines": [
            {
                "name": "nightly",
                "critical": True,
                "completion_time_sla": {"target_duration_minutes": 30, "lookback_hours": 24},
            }
        ],
        "tables": [
            {
                "table_id": "shop.marts.orders",
                "critical": True,
                "freshness_sla": {
                    "timestamp_column": "ts",
                    "max_age_hours": 6,
                    "lookback_hours": 48,
                },
                "quality_sla": {
                    "query": "SELECT COUNT(*) AS total_rows, COUNTIF(amount < 0) AS failed_rows "
                    "FROM `shop.marts.orders`",
                    "max_failure_rate": 0.1,
                },
                "availability_sla": {"target_availability": 99.5, "lookback_hours": 24},
            }
        ],
        "alerts": {"suppression_minutes": 60, "timeout_seconds": 2},
        "evaluation_interval_seconds": 300,
        "report_cron": "0 6 * * *",
    }


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*prefix, i))


def _mutated(base: dict, path: tuple, kind: str, token: str) -> str:
    config = json.loads(json.dumps(base))
    if not path:
        return token if kind == "replace" else json.dumps(config)
    parent = config
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if kind == "delete" and isinstance(parent, dict):
        del parent[last]
    elif kind == "unknown" and isinstance(parent, dict):
        parent[f"{last}_extra"] = PLACEHOLDER
    else:
        parent[last] = PLACEHOLDER
    return json.dumps(config).replace(json.dumps(PLACEHOLDER), token)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.orders AS SELECT * FROM (VALUES (1, 10.0, TIMESTAMP '2026-05-01 10:00:00'), "
        "(2, -5.0, TIMESTAMP '2026-05-01 09:00:00')) t(id, amount, ts)"
    )
    con.close()
    return path


def _mostly(valid, *invalid):
    """Each flag is usually fine, so that most examples get past the flags to the config and the run."""
    return st.one_of(
        st.just(valid), st.just(valid), st.just(valid), st.just(valid), st.sampled_from(invalid)
    )


FLAGS = st.fixed_dictionaries(
    {
        # Every interval drawn is invalid (with --monitor): a valid one would monitor until stopped.
        "interval": _mostly(None, "nan", "inf", "-inf", "-1", "0", "0.5", "1e308", "abc", "604801"),
        "as_of": _mostly(
            "2026-05-01T12:00:00",
            "2026-05-01T12:00:00+14:00",
            None,
            "0001-01-01",
            "9999-12-31T23:59:59",
            "1979-12-31",
            "not a time",
            "",
        ),
        "report": st.booleans(),
        "format": _mostly(None, "json", "markdown", "xml"),
        "output": _mostly("file", None, "directory", "under_a_file", "missing_parent", "long_name"),
        "state_dir": _mostly("fresh", "a_file", "under_a_file"),
        "warehouse": _mostly(
            None,
            "duckdb://relative.duckdb",
            "bigquery://",
            "http://x",
            "duckdb:///nowhere/shop.duckdb",
        ),
        "no_alerts": st.booleans(),
    }
)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), flags=FLAGS)
def test_sla_tracker_never_crashes_and_never_half_writes(warehouse, data, flags):
    base = _base(warehouse)
    path = data.draw(st.sampled_from(list(_paths(base))))
    kind = data.draw(st.sampled_from(["replace", "replace", "delete", "unknown", "none"]))
    token = data.draw(st.sampled_from(HOSTILE))
    work = Path(tempfile.mkdtemp(prefix="sla-fuzz-"))
    try:
        config = work / "sla-config.json"
        config.write_text(json.dumps(base) if kind == "none" else _mutated(base, path, kind, token))
        argv = ["--config", str(config)]
        (work / "a_file").write_text("x")
        argv += [
            "--state-dir",
            str(
                {
                    "fresh": work / "state",
                    "a_file": work / "a_file",
                    "under_a_file": work / "a_file" / "state",
                }[flags["state_dir"]]
            ),
        ]
        out_dir = work / "out"
        out_dir.mkdir()
        output = None
        if flags["output"] is not None:
            output = {
                "file": out_dir / "report.out",
                "directory": out_dir,
                "under_a_file": work / "a_file" / "r.json",
                "missing_parent": out_dir / "new" / "report.out",
                "long_name": out_dir / ("r" * 250),
            }[flags["output"]]
            argv += ["--output", str(output)]
        previous = out_dir / "report.out"
        previous.write_bytes(b"the previous report\n")
        if (
            flags["interval"] is not None
        ):  # every one drawn is invalid: a valid one would monitor forever
            argv += ["--monitor", "--interval", flags["interval"]]
        for flag in ("as_of", "format", "warehouse"):
            if flags[flag] is not None:
                argv += [f"--{flag.replace('_', '-')}", flags[flag]]
        if flags["report"]:
            argv.append("--report")
        if flags["no_alerts"]:
            argv.append("--no-alerts")
        code, stderr = _run(argv)
        event(f"exit {code}")
        assert code in (0, 1, 2), (argv, stderr)
        assert "Traceback" not in stderr, stderr
        leftovers = [p.name for p in out_dir.iterdir() if p.name.startswith(".")]
        assert leftovers == [], leftovers
        if code == 2:
            assert (
                stderr.strip().splitlines()[-1].startswith(("sla-tracker: error:", "usage:"))
                or "error:" in stderr.strip().splitlines()[-1]
            ), stderr
            assert previous.read_bytes() == b"the previous report\n"
        elif output is not None and output.is_file():
            text = output.read_text()
            if flags["report"] and flags["format"] == "markdown":
                assert text.startswith("# SLA report")
            else:
                jsonschema.validate(json.loads(text), OUTPUT_SCHEMA)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(argv: list[str]) -> tuple[int, str]:
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.StringIO()
    saved = {
        k: os.environ.pop(k)
        for k in list(os.environ)
        if k.startswith(("SLACK_", "PAGERDUTY_", "ORCHESTRATION_UTILS_", "DAGSTER_HOME"))
    }
    os.environ["DAGSTER_HOME"] = "/nonexistent/dagster_home"  # completion SLAs: ERROR, no instance
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's own usage errors
                code = exc.code
    finally:
        os.environ.pop("DAGSTER_HOME", None)
        os.environ.update(saved)
    return code, stderr.getvalue()
