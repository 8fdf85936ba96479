"""`sla-tracker`: completion-time, freshness, quality and availability SLAs; alerts; reports."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from orchestration_utils.cli.shell import (
    EXIT_FAILED,
    EXIT_OK,
    as_of_time,
    parser,
    run,
    say,
    warehouse_url,
)
from orchestration_utils.errors import UsageError
from orchestration_utils.files import emit_json, write_atomic, write_stdout
from orchestration_utils.settings import load_settings
from orchestration_utils.sla.config import CompletionSla, SlaConfig, load_sla_config

PROG = "sla-tracker"
MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS = 1.0, 7 * 86_400.0
# --as-of: the windows (up to ten years back) and the state's timestamps stay representable.
EARLIEST_AS_OF, LATEST_AS_OF = datetime(1980, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
EPILOG = """\
examples:
  sla-tracker --config sla-config.json                         # evaluate all, alert, JSON to stdout
  sla-tracker --config sla-config.json --output sla.json --no-alerts
  sla-tracker --config sla-config.json --report --format markdown --output sla-report.md
  sla-tracker --config sla-config.json --monitor --interval 300  # until SIGINT/SIGTERM
  */5 * * * * sla-tracker --config /path/to/sla-config.json >> /var/log/sla-tracker.log 2>&1  # cron

alerts (secrets only from the environment, never written anywhere):
  SLACK_WEBHOOK_URL, or SLACK_BOT_TOKEN with "alerts": {"slack_channel": "#data"} in the config
  PAGERDUTY_ROUTING_KEY (critical SLAs only); PAGERDUTY_EVENTS_URL for EU accounts
history and alert state: --state-dir (default .orchestration_utils/ in the working directory)
completion-time SLAs read the Dagster instance at $DAGSTER_HOME (else <home>/dagster_home), or an
Airflow 3 API (config "airflow": {"base_url": ...}; AIRFLOW_API_TOKEN or AIRFLOW_USERNAME/PASSWORD)

statuses: PASS met, FAIL violated, ERROR cannot be evaluated (the warehouse, table, query or run
history failed), NO_DATA nothing measured yet (an availability SLA before its first recorded
freshness evaluations); neither ERROR nor NO_DATA alerts

exit codes: 0 no SLA violated and every critical SLA evaluated (NO_DATA is no failure), 1 an SLA is
violated or a critical SLA is ERROR, 2 bad usage or config, or stdout closed or full; 141 stdout's
reader left early (`| head`), nothing said
"""


def build_parser() -> argparse.ArgumentParser:
    p = parser(
        PROG, "Track data SLAs with history, error budgets and Slack/PagerDuty alerts.", EPILOG
    )
    p.add_argument("--config", type=Path, required=True, help="sla-config.json")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--report", action="store_true", help="write a compliance report (no alerts)")
    mode.add_argument(
        "--monitor", action="store_true", help="evaluate every --interval seconds until stopped"
    )
    p.add_argument(
        "--format",
        choices=["markdown", "json"],
        default="json",
        help="with --report (default: json)",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=300.0,
        help=f"with --monitor, seconds between evaluations, {MIN_INTERVAL_SECONDS:g} to "
        f"{MAX_INTERVAL_SECONDS:g} (default: 300)",
    )
    p.add_argument("--output", type=Path, help="write JSON (or the report) here instead of stdout")
    p.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".orchestration_utils"),
        help="where evaluations and alert state persist (default: .orchestration_utils/)",
    )
    p.add_argument("--warehouse", help='warehouse URL; overrides the config\'s "warehouse"')
    p.add_argument("--no-alerts", action="store_true", help="evaluate and record, send nothing")
    p.add_argument(
        "--as-of",
        help="evaluate as if it were this ISO time (UTC if no offset); for replays and tests",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _main(args), PROG, writes_stdout=args.output is None and not args.monitor)


def _main(args: argparse.Namespace) -> int:
    _check_flags(args)
    config = load_sla_config(args.config)
    settings = load_settings()
    url = warehouse_url(args.warehouse, config.warehouse, settings.warehouse_url)
    store = _state_store(args.state_dir)
    instance = _dagster_instance(config, settings)
    try:
        if args.monitor:
            return _monitor(args, config, url, instance, store)
        results = _evaluate(
            args, config, url, instance, store, send_alerts=not (args.report or args.no_alerts)
        )
    finally:
        store.close()
        if instance is not None:
            instance.dispose()
    now = as_of_time(args.as_of)
    try:
        if args.report and args.format == "markdown":
            from orchestration_utils.sla.report import markdown_report

            _write_text(markdown_report(results, now), args.output)
        else:
            from orchestration_utils.sla.report import json_report

            emit_json(json_report(results, now), args.output)
    except OSError as exc:
        raise UsageError(f"--output {args.output}: cannot write: {exc.strerror or exc}") from None
    return _exit(results)


def _check_flags(args: argparse.Namespace) -> None:
    """Every flag is checked before anything is evaluated, sent or written."""
    if (
        not math.isfinite(args.interval)
        or not MIN_INTERVAL_SECONDS <= args.interval <= MAX_INTERVAL_SECONDS
    ):
        raise UsageError(
            f"--interval: must be a number of seconds from {MIN_INTERVAL_SECONDS:g} to "
            f"{MAX_INTERVAL_SECONDS:g}, got {args.interval!r}"
        )
    if args.as_of is not None:
        at = as_of_time(args.as_of)
        if not EARLIEST_AS_OF <= at < LATEST_AS_OF:
            raise UsageError(
                f"--as-of: must be from {EARLIEST_AS_OF:%Y} to {LATEST_AS_OF:%Y}, got {args.as_of!r}"
            )
    if args.output is not None:
        if args.output.is_dir():
            raise UsageError(f"--output {args.output}: is a directory; name a file")
        parent = args.output.parent
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"--output {args.output}: {parent} is not a directory")
        if parent.is_dir() and not os.access(parent, os.W_OK | os.X_OK):
            raise UsageError(f"--output {args.output}: {parent} is not writable")
        if (
            len(args.output.name.encode()) > 200
        ):  # the temporary file beside it needs room for a suffix
            raise UsageError(
                f"--output: the file name is too long ({len(args.output.name.encode())} bytes)"
            )


def _state_store(state_dir: Path):
    import sqlite3

    from orchestration_utils.sla.history import StateStore

    try:
        return StateStore(state_dir)
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(
            f"--state-dir {state_dir}: cannot keep the state there: {reason}"
        ) from None


def _evaluate(args, config: SlaConfig, url, instance, store, send_alerts: bool):
    from orchestration_utils.alerts.notify import Channels
    from orchestration_utils.runs.airflow import AirflowCredentials
    from orchestration_utils.sla.cycle import run_source, track_once
    from orchestration_utils.sla.report import summarize
    from orchestration_utils.warehouse.connect import connect

    now = as_of_time(args.as_of)
    needs_warehouse = any(not isinstance(s, CompletionSla) for s in config.slas)
    warehouse = (
        connect(url, config.max_bytes_billed, config.query_timeout_seconds)
        if needs_warehouse
        else None
    )
    try:
        # The environment is read here, in the shell: the routine is handed settings, as in Dagster.
        channels = Channels.from_env() if send_alerts else None
        results, alerts = track_once(
            config,
            now,
            warehouse,
            run_source(config, instance, AirflowCredentials.from_env()),
            store,
            channels,
        )
    finally:
        if warehouse is not None:
            warehouse.close()
    summary = summarize(results)
    say(
        PROG,
        f"{summary['passed']} of {summary['total_checks']} SLAs met, {summary['failed']} violated "
        f"({summary['critical_violations']} critical), {summary['errors']} could not be evaluated "
        f"({summary['critical_errors']} critical), {summary['no_data']} no data yet",
    )
    for result in results:
        if result.status != "PASS":
            say(PROG, f"  {result.status:8} {result.name} ({result.subject}): {result.message}")
    for line in alerts.lines() if alerts else ():
        say(PROG, f"  alert: {line}")
    return results


def _monitor(args, config, url, instance, store) -> int:
    stop = threading.Event()

    def request_stop(signum, frame):
        say(PROG, f"{signal.Signals(signum).name}: stopping after the evaluation under way")
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    say(
        PROG,
        f"monitoring {len(config.slas)} SLAs every {args.interval:g}s; state in {args.state_dir}",
    )
    while not stop.is_set():
        try:
            _evaluate(args, config, url, instance, store, send_alerts=not args.no_alerts)
        except Exception as exc:  # noqa: BLE001 -- one evaluation's failure (warehouse, instance, disk) is not the monitor's end
            say(
                PROG,
                f"evaluation failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}; "
                f"next in {args.interval:g}s",
            )
        stop.wait(args.interval)
    return 0


def _dagster_instance(config: SlaConfig, settings):
    if not any(isinstance(s, CompletionSla) and s.source == "dagster" for s in config.slas):
        return None
    home = settings.dagster_instance_home
    if home is None:
        say(
            PROG,
            f"no Dagster instance at {settings.dagster_home}: completion-time SLAs not evaluated",
        )
        return None
    import dagster as dg

    try:
        return dg.DagsterInstance.from_config(str(home))
    except Exception as exc:  # noqa: BLE001 -- a broken instance makes the completion SLAs ERROR, not the whole run
        say(
            PROG,
            f"the Dagster instance at {home} cannot be opened: {type(exc).__name__}; "
            f"completion-time SLAs cannot be evaluated",
        )
        return None


def _write_text(text: str, output: Path | None) -> None:
    if output is None:
        write_stdout(text.encode())
        return
    write_atomic(output, text.encode())


def _exit(results) -> int:
    """1 for a violation, or for a critical SLA that cannot be evaluated (a warehouse that cannot
    be reached must not read as success); NO_DATA, nothing measured yet, is neither."""
    from orchestration_utils.sla.report import critical_errors, violations

    return EXIT_FAILED if violations(results) or critical_errors(results) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
