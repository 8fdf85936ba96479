"""`pipeline-health-monitor`: freshness, row counts, partitions, schema drift, failed jobs and cost."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from orchestration_utils.cli.shell import (
    UsageError,
    as_of_time,
    emit_json,
    parser,
    run,
    say,
    warehouse_url,
)
from orchestration_utils.health.config import HealthConfig, TableConfig, load_health_config
from orchestration_utils.health.monitor import expectations_from_project, run_health_checks
from orchestration_utils.health.report import build_report, exit_status, human_summary
from orchestration_utils.settings import load_settings

PROG = "pipeline-health-monitor"
EPILOG = """\
examples:
  pipeline-health-monitor --config health-config.json --output health-report.json
  pipeline-health-monitor --table shop.marts.fct_orders --check-freshness --timestamp-column ordered_at
  pipeline-health-monitor --check-failures --hours 24 --warehouse 'bigquery://my-project?location=US'
  pipeline-health-monitor --cost-report --hours 24 --warehouse 'bigquery://my-project?location=EU'

warehouses:
  duckdb:///abs/path/file.duckdb      table ids are catalog.schema.table (catalog = file name stem)
  bigquery://PROJECT?location=US      credentials from the environment (GOOGLE_APPLICATION_CREDENTIALS)
  ...&endpoint=http://127.0.0.1:9050  an emulator, with anonymous credentials
  default: the demo's DuckDB file under $ORCHESTRATION_UTILS_HOME

output: the JSON report on stdout or --output; a summary on stderr.
health score: 100 x (PASS + 0.5 x WARN) / checks; FAIL and ERROR count as 0.
exit codes: 0 every check passed (warnings allowed), 1 a check FAILed or ERRORed, 2 bad usage or config
"""


def build_parser() -> argparse.ArgumentParser:
    p = parser(PROG, "Check the health of warehouse tables (DuckDB or BigQuery) from their metadata first.", EPILOG)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--config", type=Path, help="health-config.json: tables and job checks to run")
    mode.add_argument("--table", help="one table id; with --check-freshness")
    mode.add_argument("--check-failures", action="store_true", help="failed warehouse jobs and Dagster runs")
    mode.add_argument("--cost-report", action="store_true", help="bytes billed and USD by user, table and label")
    p.add_argument("--check-freshness", action="store_true", help="with --table: how old its newest data is")
    p.add_argument("--max-age-hours", type=float, default=24.0, help="with --table (default: 24)")
    p.add_argument("--timestamp-column", help="with --table: MAX(column) instead of the table's metadata")
    p.add_argument("--hours", type=float, default=24.0, help="lookback for --check-failures / --cost-report (default: 24)")
    p.add_argument("--warehouse", help="warehouse URL; overrides the config's \"warehouse\"")
    p.add_argument("--manifest", type=Path,
                   help="dbt manifest.json: models' declared column types become the expected schemas")
    p.add_argument("--output", type=Path, help="write the JSON report here instead of stdout")
    p.add_argument("--as-of", help="evaluate as if it were this ISO time (UTC if no offset); for replays and tests")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _main(args), PROG)


def _main(args: argparse.Namespace) -> int:
    config = _config(args)
    settings = load_settings()
    now = as_of_time(args.as_of)
    url = warehouse_url(args.warehouse, config.warehouse, settings.warehouse_url)
    expectations = {}
    if args.manifest:
        from orchestration_utils.project.dbt_manifest import load_dbt_manifest

        expectations = expectations_from_project(load_dbt_manifest(args.manifest))

    from orchestration_utils.warehouse.url import connect

    warehouse = connect(url, config.max_bytes_billed, config.query_timeout_seconds)
    try:
        results = run_health_checks(
            config, warehouse, now, expectations,
            failed_runs=_failed_runs(settings) if config.check_failures else None,
            progress=lambda message: say(PROG, message),
        )
    finally:
        warehouse.close()
    report = build_report(results, now, str(url), warehouse.usage, config.usd_per_tib)
    if args.cost_report:
        cost = next(r for r in results if r.check == "cost")
        report = {"timestamp": report["timestamp"], "warehouse": report["warehouse"], "hours": args.hours,
                  "status": str(cost.status), "message": cost.message, **cost.figures, "monitoring": report["monitoring"]}
        emit_json(report, args.output)
        say(PROG, f"{cost.message}; {report.get('jobs', 0)} jobs")
        return exit_status([cost])
    emit_json(report, args.output)
    for line in human_summary(report):
        say(PROG, line)
    return exit_status(results)


def _config(args: argparse.Namespace) -> HealthConfig:
    if args.config:
        return load_health_config(args.config)
    if args.table:
        if not args.check_freshness:
            raise UsageError("--table needs --check-freshness")
        try:
            table = TableConfig(table_id=args.table, max_age_hours=args.max_age_hours, timestamp_column=args.timestamp_column)
        except ValueError as exc:
            raise UsageError(f"--table: {_first_error(exc)}") from None
        return HealthConfig(tables=(table,))
    if args.check_failures:
        return HealthConfig(check_failures=True, failure_lookback_hours=args.hours)
    return HealthConfig(check_costs=True, cost_lookback_hours=args.hours)


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    return errors()[0]["msg"].removeprefix("Value error, ") if errors else str(exc)


def _failed_runs(settings):
    """Failed runs of the code location's Dagster instance, when there is one on this machine."""
    home = settings.dagster_home
    if not home.is_dir():
        return None

    def lookup(since: datetime):
        import dagster as dg

        from orchestration_utils.health.dagster_runs import failed_runs

        with dg.DagsterInstance.from_config(str(home)) as instance:
            return failed_runs(instance, since)

    return lookup


if __name__ == "__main__":
    sys.exit(main())
