"""Every script whose output goes to stdout, when stdout cannot take it: closed (`>&-`), full
(`> /dev/full`), or its reader gone (`| head -c1`). One line on stderr and exit 2, or, for a reader
that left, silence and 141 as `cat` gives; never a traceback, never `--output None`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration_utils_tests.codegen.test_generator_inputs import small_manifest

BIN = Path(sys.executable).parent
AS_OF = "2026-03-01T10:30:00+00:00"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stdout")
    con = duckdb.connect(str(root / "shop.duckdb"))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.orders AS SELECT range AS id, TIMESTAMP '2026-03-01 08:30:00' "
        "AS ordered_at FROM range(3)"
    )
    con.close()
    warehouse = f"duckdb://{root / 'shop.duckdb'}"
    (root / "health.json").write_text(
        json.dumps(
            {
                "warehouse": warehouse,
                "tables": [
                    {
                        "table_id": "shop.marts.orders",
                        "freshness": {"max_age_hours": 6, "timestamp_column": "ordered_at"},
                    }
                ],
            }
        )
    )
    (root / "sla.json").write_text(
        json.dumps(
            {
                "warehouse": warehouse,
                "tables": [
                    {
                        "table_id": "shop.marts.orders",
                        "freshness_sla": {"timestamp_column": "ordered_at", "max_age_hours": 6},
                    }
                ],
            }
        )
    )
    (root / "manifest.json").write_text(json.dumps(small_manifest()))
    return root


COMMANDS = {
    "pipeline-health-monitor": ["--config", "health.json", "--as-of", AS_OF],
    "sla-tracker": ["--config", "sla.json", "--as-of", AS_OF, "--no-alerts"],
    "sla-tracker --report": [
        "--config",
        "sla.json",
        "--as-of",
        AS_OF,
        "--report",
        "--format",
        "markdown",
    ],
    "airflow-dag-gen": ["--project-type", "dbt", "--manifest-path", "manifest.json"],
    "dagster-asset-gen": ["--project-type", "dbt", "--manifest-path", "manifest.json"],
}


def _argv(command: str, site: Path, tmp: Path) -> list[str]:
    tool = command.split()[0]
    extra = ["--output-dir", str(tmp / "out")] if tool.endswith("-gen") else []
    state = ["--state-dir", str(tmp / "state")] if tool == "sla-tracker" else []
    return [str(BIN / tool), *COMMANDS[command], *extra, *state]


def _run(argv: list[str], site: Path, stdout) -> subprocess.CompletedProcess:
    return subprocess.run(
        argv, cwd=site, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=180, check=False
    )


def _one_error_line(result: subprocess.CompletedProcess, tool: str, reason: str) -> None:
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if not line.startswith(f"[{tool}]")]
    assert errors == [f"{tool}: error: cannot write the output to stdout: {reason}"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_stdout_is_one_line_and_exit_2(command, site, tmp_path):
    with open("/dev/full", "wb") as full:
        result = _run(_argv(command, site, tmp_path), site, full)
    _one_error_line(result, command.split()[0], "No space left on device")


def _with_stdout_closed(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    # `>&-` as a shell does it: fd 1 closed in the child before the script starts.
    return subprocess.run(
        ["bash", "-c", 'exec "$@" >&-', "bash", *argv],
        cwd=cwd,
        stderr=subprocess.PIPE,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_a_closed_stdout_is_one_line_and_exit_2(command, site, tmp_path):
    result = _with_stdout_closed(_argv(command, site, tmp_path), site)
    _one_error_line(result, command.split()[0], "stdout is closed")
    # Refused at start: no DAG or package written, no SLA evaluated and recorded.
    assert not (tmp_path / "out").exists() and not (tmp_path / "state").exists()
    assert "[" not in result.stderr  # not even a progress line: nothing was begun


@pytest.mark.parametrize("command", ["pipeline-health-monitor", "sla-tracker"])
def test_a_closed_stdout_is_no_matter_when_the_output_goes_to_a_file(command, site, tmp_path):
    argv = [*_argv(command, site, tmp_path), "--output", str(tmp_path / "report.json")]
    result = _with_stdout_closed(argv, site)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["total_checks"] == 1


@pytest.mark.parametrize("command", COMMANDS)
def test_a_reader_that_left_is_silence_and_141(command, site, tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `head -c1` exits before the report is written
    try:
        result = _run(_argv(command, site, tmp_path), site, write_end)
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert "error" not in result.stderr and "Exception" not in result.stderr
    assert "--output" not in result.stderr


def test_head_reading_one_byte_of_a_large_report_is_quiet(site, tmp_path):
    """More than a pipe holds (64 KiB), so the write meets the closed pipe for real."""
    con = duckdb.connect(str(site / "big.duckdb"))
    con.execute("CREATE SCHEMA marts")
    tables = []
    for i in range(1200):
        con.execute(f"CREATE TABLE marts.t{i} AS SELECT 1 AS id")
        tables.append({"table_id": f"big.marts.t{i}", "row_count": {"min_rows": 5}})
    con.close()
    config = tmp_path / "big.json"
    config.write_text(
        json.dumps({"warehouse": f"duckdb://{site / 'big.duckdb'}", "tables": tables})
    )
    result = subprocess.run(
        [
            "bash",
            "-c",
            f'"{BIN}/pipeline-health-monitor" --config "{config}" --all-checks | head -c1; '
            + 'echo " ${PIPESTATUS[0]}"',
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.stdout == "{ 141\n", result.stderr
    assert "error" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["pipeline-health-monitor", "sla-tracker"])
def test_a_closed_stderr_keeps_progress_out_of_the_json(command, site, tmp_path):
    """`2>&-`: Python's stderr is None, and `print(file=None)` would write to stdout."""
    argv = _argv(command, site, tmp_path)
    result = subprocess.run(
        ["bash", "-c", 'exec "$@" 2>&-', "bash", *argv],
        cwd=site,
        stdout=subprocess.PIPE,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["summary"]["total_checks"] == 1
