"""Every number, time and name pipeline-health-monitor takes is validated where it enters: one line
naming the flag or JSON path and the allowed range, exit 2; and, fuzzed, the CLI exits 0, 1 or 2 only,
never with a traceback, never leaving a partial or hidden output, never touching a previous report
when it fails (issue 14, kind 5). Run in-process through `main()` for speed."""

import json
import math
import os
from pathlib import Path

import duckdb
import jsonschema
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orchestration_utils.cli.pipeline_health_monitor import main
from orchestration_utils.errors import ConfigError
from orchestration_utils.health.config import parse_health_config
from orchestration_utils.health.report import SCHEMA_PATH

SCHEMA = json.loads(SCHEMA_PATH.read_text())
AS_OF = "2026-03-01T10:30:00Z"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    path = root / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.orders AS SELECT i AS id, TIMESTAMP '2026-03-01 08:00:00' - i * INTERVAL 1 HOUR "
        "AS ordered_at, DATE '2026-03-01' - i::INTEGER AS order_date FROM range(100) t(i)"
    )
    con.close()
    return path


@pytest.fixture(autouse=True)
def environment(warehouse, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("ORCHESTRATION_UTILS_", "DAGSTER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ORCHESTRATION_UTILS_HOME", str(warehouse.parent / "home"))
    monkeypatch.setenv("ORCHESTRATION_UTILS_WAREHOUSE", f"duckdb://{warehouse}")


def _refused(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--check-failures", "--hours", "0"], "--hours: must be a number of hours in (0, 87600]"),
        (["--check-failures", "--hours=-1"], "--hours"),
        (["--cost-report", "--hours", "nan"], "--hours"),
        (["--cost-report", "--hours", "inf"], "--hours"),
        (["--cost-report", "--hours", "1e308"], "--hours"),
        (["--cost-report", "--hours", "87601"], "--hours"),
        (
            ["--table", "shop.marts.orders", "--check-freshness", "--max-age-hours", "inf"],
            "--max-age-hours",
        ),
        (
            ["--table", "shop.marts.orders", "--check-freshness", "--max-age-hours", "1e308"],
            "--max-age-hours",
        ),
        (
            ["--table", "shop.marts.orders", "--check-freshness", "--max-age-hours", "0"],
            "--max-age-hours",
        ),
        (
            ["--table", "shop.marts.orders", "--check-freshness", "--timestamp-column", "a b"],
            "--timestamp-column",
        ),
        (["--table", "shop.marts", "--check-freshness"], "--table: malformed table_id"),
        (["--check-failures", "--as-of", "0001-01-01"], "--as-of: '0001-01-01' is out of range"),
        (["--check-failures", "--as-of", "9999-12-31T23:59:59"], "--as-of"),
        (["--check-failures", "--as-of", "yesterday"], "--as-of: not an ISO time"),
    ],
)
def test_out_of_range_flags_are_one_line_and_exit_2(capsys, argv, named):
    assert named in _refused(capsys, argv)


@pytest.mark.parametrize(
    ("table", "top", "path"),
    [
        (
            {"freshness": {"max_age_hours": 1e300}},
            {},
            "$.tables[0].freshness.max_age_hours: must be a number of hours in (0, 87600]",
        ),
        (
            {"freshness": {"max_age_hours": 2, "warn_age_hours": -1}},
            {},
            "$.tables[0].freshness.warn_age_hours",
        ),
        (
            {"row_count": {"lookback_days": 1_000_000_000}},
            {},
            "$.tables[0].row_count.lookback_days: must be a whole number of days in (0, 3650]",
        ),
        ({"row_count": {"lookback_days": 0}}, {}, "$.tables[0].row_count.lookback_days"),
        (
            {"row_count": {"min_rows": -1}},
            {},
            "$.tables[0].row_count.min_rows: must be a row count in [0,",
        ),
        ({"row_count": {"max_rows": 2**70}}, {}, "$.tables[0].row_count.max_rows"),
        (
            {"max_age_hours": 1e300},
            {},
            "$.tables[0].freshness.max_age_hours",
        ),  # the earlier flat key, same bound
        ({}, {"failure_lookback_hours": 1e300}, "$.failure_lookback_hours"),
        ({}, {"cost_lookback_hours": 0}, "$.cost_lookback_hours"),
        ({}, {"cost_threshold_usd": -5}, "$.cost_threshold_usd"),
        ({}, {"usd_per_tib": 0}, "$.usd_per_tib"),
        ({}, {"max_bytes_billed": 0}, "$.max_bytes_billed"),
        ({}, {"query_timeout_seconds": 1e12}, "$.query_timeout_seconds"),
        (
            {},
            {"schedule": {"critical_cron": "*/15 * * *"}},
            "$.schedule.critical_cron: '*/15 * * *' is not a 5-field cron",
        ),
        (
            {},
            {"schedule": {"critical_cron": "0 0 30 2 *"}},
            "$.schedule.critical_cron: cron '0 0 30 2 *' never fires",
        ),
        ({}, {"schedule": {"default_cron": "61 * * * *"}}, "$.schedule.default_cron"),
    ],
)
def test_out_of_range_config_numbers_name_the_json_path(capsys, tmp_path, table, top, path):
    config = tmp_path / "health-config.json"
    config.write_text(json.dumps({"tables": [{"table_id": "shop.marts.orders", **table}], **top}))
    assert f"{config}: {path}" in _refused(capsys, ["--config", str(config)])


def test_an_output_directory_is_refused_before_the_run(capsys, tmp_path):
    assert "--output" in _refused(capsys, ["--check-failures", "--output", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []


def test_a_config_that_is_a_fifo_is_refused_not_read(capsys, tmp_path):
    """Reading a FIFO (or a device) would block or never end."""
    fifo = tmp_path / "health-config.json"
    os.mkfifo(fifo)
    assert f"{fifo}: not a regular file" in _refused(capsys, ["--config", str(fifo)])


# The fuzz: argv and config files built from the CLI's own grammar, with hostile values mixed in.
_numbers = st.one_of(
    st.floats(), st.integers(-10, 10**12), st.sampled_from([0, 1, 2.5, 24, 1e300, -1, 87600])
)
_valid = st.sampled_from([1, 6, 24, 72])
_number_text = st.one_of(
    _valid.map(str),
    _valid.map(str),
    _numbers.map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e308", "", "x", "0x10"]),
)
_names = st.one_of(
    st.sampled_from(["ordered_at", "order_date"]),
    st.sampled_from(["ordered_at", "order_date", "id", "missing", "a b", "x;--", ""]),
    st.text(max_size=12),
)
_table_ids = st.one_of(
    st.just("shop.marts.orders"),
    st.sampled_from(
        ["shop.marts.orders", "shop.marts.nope", "other.marts.orders", "a.b", "shop.marts.ORDERS"]
    ),
    st.text(max_size=20),
)
_json_values = st.one_of(
    _valid,
    _valid,
    st.none(),
    st.booleans(),
    _numbers.filter(lambda v: not (isinstance(v, float) and not math.isfinite(v))),
    _names,
)
_freshness = st.fixed_dictionaries(
    {},
    optional={
        "max_age_hours": _json_values,
        "timestamp_column": _names,
        "warn_age_hours": _json_values,
        "bogus": _json_values,
    },
)
_row_count = st.fixed_dictionaries(
    {},
    optional={
        "min_rows": _json_values,
        "max_rows": _json_values,
        "partition_column": _names,
        "lookback_days": _json_values,
        "partition_granularity": st.sampled_from(["hour", "day", "month", "year", "week", 3]),
    },
)
_table = st.fixed_dictionaries(
    {"table_id": _table_ids},
    optional={
        "freshness": _freshness,
        "row_count": _row_count,
        "check_partitions": st.booleans(),
        "critical": _json_values,
        "max_age_hours": _json_values,
        "expected_schema": st.lists(
            st.fixed_dictionaries(
                {"name": _names, "type": st.sampled_from(["INT64", "STRING", 5])}
            ),
            max_size=2,
        ),
    },
)
_config = st.fixed_dictionaries(
    {"tables": st.lists(_table, max_size=3)},
    optional={
        "check_failures": st.booleans(),
        "failure_lookback_hours": _json_values,
        "check_costs": _json_values,
        "cost_lookback_hours": _json_values,
        "cost_threshold_usd": _json_values,
    },
)
_as_of = st.one_of(
    st.none(),
    st.just(AS_OF),
    st.sampled_from([AS_OF, "0001-01-01", "2026-02-30", "1970-01-01T00:00:00+14:00"]),
    st.text(max_size=12),
)


@st.composite
def _invocations(draw):
    mode = draw(st.sampled_from(["config", "table", "failures", "cost"]))
    argv, config = [], None
    if mode == "config":
        config = draw(st.one_of(_config.map(json.dumps), st.text(max_size=40)))
        argv += ["--config", "{config}"]
    elif mode == "table":
        argv += [f"--table={draw(_table_ids)}", "--check-freshness"]
        if draw(st.booleans()):
            argv.append(f"--timestamp-column={draw(_names)}")
        if draw(st.booleans()):
            argv.append(f"--max-age-hours={draw(_number_text)}")
    else:
        argv += [
            "--check-failures" if mode == "failures" else "--cost-report",
            f"--hours={draw(_number_text)}",
        ]
    if draw(st.integers(0, 4)) == 0:  # never a real bigquery:// (no network in tests)
        argv.append(
            f"--warehouse={draw(st.sampled_from(['duckdb:///nowhere/x.duckdb', 'duckdb://relative.duckdb', 'postgres://h/db', '', 'duckdb:///']))}"
        )
    if draw(st.integers(0, 4)) == 0:
        argv.append(f"--manifest={draw(st.sampled_from(['/nowhere/manifest.json', '{config}']))}")
    as_of = draw(_as_of)
    if as_of is not None:
        argv.append(f"--as-of={as_of}")
    return argv, config


@given(_invocations())
@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzzed_invocations_exit_cleanly_and_never_damage_the_output(tmp_path, capsys, invocation):
    argv, config = invocation
    case = Path(os.path.join(tmp_path, f"case{len(list(tmp_path.iterdir()))}"))
    case.mkdir()
    if config is not None:
        (case / "health-config.json").write_text(config)
    output = case / "report.json"
    previous = b'{"previous": "report"}\n'
    output.write_bytes(previous)
    argv = [a.replace("{config}", str(case / "health-config.json")) for a in argv] + [
        "--output",
        str(output),
    ]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals (a flag's value missing)
        code = exc.code
    err = capsys.readouterr().err
    event(f"exit {code}")
    assert code in (0, 1, 2), (argv, err)
    assert "Traceback" not in err
    assert sorted(p.name for p in case.iterdir()) == sorted(
        ["report.json"] + (["health-config.json"] if config is not None else [])
    )
    if code == 2:
        assert output.read_bytes() == previous
        assert (
            err.strip().splitlines()[-1].startswith(("pipeline-health-monitor: error:", "usage:"))
            or "error:" in err
        )
    else:
        jsonschema.validate(json.loads(output.read_bytes()), SCHEMA)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers()
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.one_of(
        _json,
        _config,
        _config.map(lambda c: {**c, "tables": [{**t, "freshness": None} for t in c["tables"]]}),
    )
)
@settings(max_examples=200, deadline=None)
def test_any_json_is_a_config_or_one_config_error(document):
    try:
        config = parse_health_config(json.dumps(document), "h.json")
    except ConfigError as exc:
        assert str(exc).startswith("h.json: ") and "\n" not in str(exc)
    else:
        assert all(t.ref for t in config.tables)
