"""`pipeline-health-monitor`: freshness, row counts, partitions, schema drift, failed jobs and cost."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
from pydantic import ValidationError

from orchestration_utils.cli.shell import as_of_time, parser, run, say, warehouse_url
from orchestration_utils.errors import UsageError, WarehouseError
from orchestration_utils.files import emit_json, write_atomic, write_stdout
from orchestration_utils.health.checks import (
    CheckResult,
    Status,
    error_result,
    judge_freshness,
    with_evidence,
)
from orchestration_utils.health.config import (
    FreshnessConfig,
    HealthConfig,
    TableConfig,
    load_health_config,
)
from orchestration_utils.health.evidence import (
    column_from_project,
    from_table,
    materialization_evidence,
)
from orchestration_utils.health.monitor import expectations_from_project, run_health_checks
from orchestration_utils.health.report import (
    build_report,
    exit_status,
    human_summary,
    report_json_lines,
    summarize,
)
from orchestration_utils.settings import load_settings

PROG = "pipeline-health-monitor"
EPILOG = """\
examples:
  pipeline-health-monitor --config health-config.json --output health-report.json
  pipeline-health-monitor --table shop.marts.fct_orders --check-freshness --timestamp-column ordered_at
  pipeline-health-monitor --table shop.marts.fct_orders --check-freshness   (the evidence used is in the output)
  pipeline-health-monitor --check-failures --hours 24 --warehouse 'bigquery://my-project?location=US'
  pipeline-health-monitor --cost-report --hours 24 --warehouse 'bigquery://my-project?location=EU'

warehouses:
  duckdb:///abs/path/file.duckdb      table ids are catalog.schema.table (catalog = file name stem)
  bigquery://PROJECT?location=US      credentials from the environment (GOOGLE_APPLICATION_CREDENTIALS)
  ...&endpoint=http://127.0.0.1:9050  an emulator, with anonymous credentials
  default: the demo's DuckDB file under $ORCHESTRATION_UTILS_HOME

output: the JSON report on stdout or --output; past 1,000 checks it is one compact line, and stdout
  holds only the checks that did not pass ("checks_shown": "not_passing"; the summary counts all)
  unless --all-checks. A summary on stderr names at most 20 checks that did not pass, the most
  serious first, and counts the rest.
health score: 100 x (PASS + 0.5 x WARN) / checks; FAIL and ERROR count as 0.
exit codes: 0 every check passed (warnings allowed), 1 a check FAILed or ERRORed, 2 bad usage or
config, or stdout closed or full; 141 stdout's reader left early (`| head`), nothing said
"""


def build_parser() -> argparse.ArgumentParser:
    p = parser(
        PROG,
        "Check the health of warehouse tables (DuckDB or BigQuery) from their metadata first.",
        EPILOG,
    )
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--config", type=Path, help="health-config.json: tables and job checks to run"
    )
    mode.add_argument("--table", help="one table id; with --check-freshness")
    mode.add_argument(
        "--check-failures", action="store_true", help="failed warehouse jobs and Dagster runs"
    )
    mode.add_argument(
        "--cost-report", action="store_true", help="bytes billed and USD by user, table and label"
    )
    p.add_argument(
        "--check-freshness", action="store_true", help="with --table: how old its newest data is"
    )
    p.add_argument("--max-age-hours", type=float, default=24.0, help="with --table (default: 24)")
    p.add_argument(
        "--timestamp-column",
        help="with --table: MAX(column); without it: the dbt model's column (--manifest), the last "
        "Dagster materialization, the table's modification time or its one timestamp column",
    )
    p.add_argument(
        "--hours",
        type=float,
        default=24.0,
        help="lookback for --check-failures / --cost-report (default: 24)",
    )
    p.add_argument("--warehouse", help='warehouse URL; overrides the config\'s "warehouse"')
    p.add_argument(
        "--manifest",
        type=Path,
        help="dbt manifest.json: models' declared column types become the expected schemas",
    )
    p.add_argument("--output", type=Path, help="write the JSON report here instead of stdout")
    p.add_argument(
        "--all-checks",
        action="store_true",
        help=f"past {_INDENTED_CHECKS:,} checks, print every check on stdout, not only those that did not pass",
    )
    p.add_argument(
        "--as-of",
        help="evaluate as if it were this ISO time (UTC if no offset); for replays and tests",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _main(args), PROG, writes_stdout=args.output is None)


# --as-of far enough from year 1 and 9999 that every lookback window stays a datetime.
_AS_OF_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2999, 12, 31, tzinfo=UTC))


def _main(args: argparse.Namespace) -> int:
    config = _config(args)
    settings = load_settings()
    now = as_of_time(args.as_of)
    if not _AS_OF_RANGE[0] <= now <= _AS_OF_RANGE[1]:
        raise UsageError(
            f"--as-of: {args.as_of!r} is out of range: give a time from 1970-01-01 to 2999-12-31"
        )
    if args.output is not None and args.output.is_dir():
        raise UsageError(f"--output: {args.output} is a directory; give the report's file path")
    url = warehouse_url(args.warehouse, config.warehouse, settings.warehouse_url)
    project = None
    if args.manifest:
        from orchestration_utils.project.dbt_manifest import load_dbt_manifest

        project = load_dbt_manifest(args.manifest)
    # --table checks freshness only; the manifest is evidence there, not a schema expectation.
    expectations = expectations_from_project(project) if project and not args.table else {}

    from orchestration_utils.warehouse.connect import connect

    warehouse = connect(url, config.max_bytes_billed, config.query_timeout_seconds)
    try:
        if args.table and not args.timestamp_column:
            results = _table_freshness(config.tables[0], warehouse, now, project, settings)
        else:
            results = run_health_checks(
                config,
                warehouse,
                now,
                expectations,
                failed_runs=_failed_runs(settings) if config.check_failures else None,
                progress=_throttled(lambda message: say(PROG, message)),
            )
    finally:
        warehouse.close()
    if args.cost_report:
        report = build_report(results, now, str(url), warehouse.usage, config.usd_per_tib)
        cost = next(r for r in results if r.check == "cost")
        report = {
            "timestamp": report["timestamp"],
            "warehouse": report["warehouse"],
            "hours": args.hours,
            "status": str(cost.status),
            "message": cost.message,
            **cost.figures,
            "monitoring": report["monitoring"],
        }
        _emit(report, args.output)
        say(PROG, f"{cost.message}; {report.get('jobs', 0)} jobs")
        return exit_status([cost])
    if len(results) <= _INDENTED_CHECKS:
        report = build_report(results, now, str(url), warehouse.usage, config.usd_per_tib)
        _emit(report, args.output)
    else:
        # The stderr summary names only checks that did not pass; the score counts them all.
        not_passing = [r for r in results if r.status != Status.PASS]
        report = build_report(
            not_passing,
            now,
            str(url),
            warehouse.usage,
            config.usd_per_tib,
        )
        report["summary"] = summarize(results)
        report["checks_shown"] = "not_passing"
        if args.output is not None or args.all_checks:
            _emit_lines(
                report_json_lines(results, now, str(url), warehouse.usage, config.usd_per_tib),
                args.output,
            )
        else:
            # A cron line appending stdout to a log gets what needs reading, not 10 MiB a run.
            write_stdout(orjson.dumps(report, option=orjson.OPT_NON_STR_KEYS) + b"\n")
            say(
                PROG,
                f"stdout holds the {len(not_passing)} checks that did not pass of "
                f"{len(results)}; --output FILE or --all-checks for every check",
            )
    for line in human_summary(report):
        say(PROG, line)
    return exit_status(results)


# Past this many checks the JSON is written compact and one check at a time: indenting 40,000
# checks adds 40% to 13 MiB that a reader takes to jq, not to their eyes.
_INDENTED_CHECKS = 1000


def _throttled(show, seconds: float = 2.0):
    """Progress at most every `seconds`: a run over thousands of datasets says where it is, not each step."""
    last = [-seconds]

    def progress(message: str) -> None:
        if time.monotonic() - last[0] >= seconds:
            last[0] = time.monotonic()
            show(message)

    return progress


def _emit(report: dict, output: Path | None) -> None:
    try:
        emit_json(report, output)
    except OSError as exc:  # an unwritable place: the previous report stays as it was
        raise UsageError(f"--output: cannot write {output}: {exc.strerror or exc}") from None


def _emit_lines(chunks, output: Path | None) -> None:
    """A large report, compact: streamed to stdout, or written whole (atomically) to --output."""
    try:
        if output is None:
            write_stdout(chunks)
        else:
            write_atomic(output, b"".join(chunks))
    except OSError as exc:
        raise UsageError(f"--output: cannot write {output}: {exc.strerror or exc}") from None


def _config(args: argparse.Namespace) -> HealthConfig:
    """The run as a typed config: every flag goes through the same bounds as the config file."""
    if args.config:
        return load_health_config(args.config)
    if args.table:
        if not args.check_freshness:
            raise UsageError("--table needs --check-freshness")
        freshness = _flag(
            "--max-age-hours",
            lambda: FreshnessConfig(
                max_age_hours=args.max_age_hours, timestamp_column=args.timestamp_column
            ),
        )
        table = _flag("--table", lambda: TableConfig(table_id=args.table, freshness=freshness))
        return HealthConfig(tables=(table,))
    if args.check_failures:
        return _flag(
            "--hours", lambda: HealthConfig(check_failures=True, failure_lookback_hours=args.hours)
        )
    return _flag("--hours", lambda: HealthConfig(check_costs=True, cost_lookback_hours=args.hours))


def _flag(flag: str, build):
    """A model built from flags; its first validation error names the flag."""
    try:
        return build()
    except ValidationError as exc:
        error = exc.errors()[0]
        field = error["loc"][-1] if error["loc"] else ""
        name = "--timestamp-column" if field == "timestamp_column" else flag
        raise UsageError(f"{name}: {error['msg'].removeprefix('Value error, ')}") from None


def _table_freshness(
    table: TableConfig, warehouse, now: datetime, project, settings
) -> list[CheckResult]:
    """`--table T --check-freshness` without a column: the first evidence found decides (health/evidence.py)."""
    evidence = column_from_project(project, table.table_id) if project else None
    if evidence is None:
        unique_ids = (
            {n.unique_id for n in project.models() if n.table_id.lower() == table.table_id.lower()}
            if project
            else set()
        )
        found = _last_materialization(settings, table.table_id, unique_ids)
        if found:
            evidence = materialization_evidence(*found)
    if evidence is None:
        meta = warehouse.describe(table.ref.dataset_key, [table.ref.table])[table.ref.table]
        if isinstance(meta, WarehouseError):
            return [error_result(table.table_id, "freshness", str(meta), table.critical)]
        evidence = from_table(meta)
    if evidence.known_time is not None:
        return [
            judge_freshness(
                table, evidence.known_time, now, "Dagster materialization", evidence.description
            )
        ]
    if not evidence.found:
        return [error_result(table.table_id, "freshness", evidence.description, table.critical)]
    if evidence.column:
        assert table.freshness is not None  # the --table flags always make one
        freshness = table.freshness.model_copy(update={"timestamp_column": evidence.column})
        table = table.model_copy(update={"freshness": freshness})
    results = run_health_checks(HealthConfig(tables=(table,)), warehouse, now)
    return [with_evidence(r, evidence.description) for r in results]


def _last_materialization(settings, table_id: str, unique_ids: set[str]):
    home = settings.dagster_home
    if not (home / "dagster.yaml").is_file() and not (home / "storage").is_dir():
        return None
    import dagster as dg

    from orchestration_utils.runs.dagster import last_materialization

    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            return last_materialization(instance, table_id, unique_ids)
    except Exception as exc:  # noqa: BLE001 -- an unreadable instance is missing evidence, not a failed run
        say(PROG, f"Dagster instance {home}: {type(exc).__name__}: {exc}; not used as evidence")
        return None


def _failed_runs(settings):
    """Failed runs of the code location's Dagster instance, when there is one on this machine."""
    home = settings.dagster_instance_home
    if home is None:
        say(PROG, f"no Dagster instance at {settings.dagster_home}: failed Dagster runs not read")
        return None

    def lookup(since: datetime):
        import dagster as dg

        from orchestration_utils.runs.dagster import failed_runs

        with dg.DagsterInstance.from_config(str(home)) as instance:
            return failed_runs(instance, since)

    return lookup


if __name__ == "__main__":
    sys.exit(main())
