"""`sla-tracker`: completion-time, freshness, quality and availability SLAs; alerts; reports."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
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
from orchestration_utils.settings import load_settings
from orchestration_utils.sla.config import CompletionSla, SlaConfig, load_sla_config

PROG = "sla-tracker"
EPILOG = """\
examples:
  sla-tracker --config sla-config.json                         # evaluate all, alert, JSON to stdout
  sla-tracker --config sla-config.json --output sla.json --no-alerts
  sla-tracker --config sla-config.json --report --format markdown --output sla-report.md
  sla-tracker --config sla-config.json --monitor --interval 300  # until SIGINT/SIGTERM

alerts (secrets only from the environment, never written anywhere):
  SLACK_WEBHOOK_URL, or SLACK_BOT_TOKEN with "alerts": {"slack_channel": "#data"} in the config
  PAGERDUTY_ROUTING_KEY (critical SLAs only); PAGERDUTY_EVENTS_URL for EU accounts
history and alert state: --state-dir (default .orchestration_utils/ in the working directory)
completion-time SLAs read the Dagster instance at $DAGSTER_HOME (else <home>/dagster_home), or an
Airflow 3 API (config "airflow": {"base_url": ...}; AIRFLOW_API_TOKEN or AIRFLOW_USERNAME/PASSWORD)

exit codes: 0 no SLA violated, 1 an SLA is violated, 2 bad usage or config
"""


def build_parser() -> argparse.ArgumentParser:
    p = parser(PROG, "Track data SLAs with history, error budgets and Slack/PagerDuty alerts.", EPILOG)
    p.add_argument("--config", type=Path, required=True, help="sla-config.json")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--report", action="store_true", help="write a compliance report (no alerts)")
    mode.add_argument("--monitor", action="store_true", help="evaluate every --interval seconds until stopped")
    p.add_argument("--format", choices=["markdown", "json"], default="json", help="with --report (default: json)")
    p.add_argument("--interval", type=float, default=300.0, help="with --monitor, seconds (default: 300)")
    p.add_argument("--output", type=Path, help="write JSON (or the report) here instead of stdout")
    p.add_argument("--state-dir", type=Path, default=Path(".orchestration_utils"),
                   help="where evaluations and alert state persist (default: .orchestration_utils/)")
    p.add_argument("--warehouse", help="warehouse URL; overrides the config's \"warehouse\"")
    p.add_argument("--no-alerts", action="store_true", help="evaluate and record, send nothing")
    p.add_argument("--as-of", help="evaluate as if it were this ISO time (UTC if no offset); for replays and tests")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: _main(args), PROG)


def _main(args: argparse.Namespace) -> int:
    if args.interval <= 0:
        raise UsageError("--interval must be positive")
    config = load_sla_config(args.config)
    settings = load_settings()
    url = warehouse_url(args.warehouse, config.warehouse, settings.warehouse_url)
    instance = _dagster_instance(config, settings)

    from orchestration_utils.sla.state import StateStore

    store = StateStore(args.state_dir)
    try:
        if args.monitor:
            return _monitor(args, config, url, instance, store)
        results = _evaluate(args, config, url, instance, store, send_alerts=not (args.report or args.no_alerts))
    finally:
        store.close()
        if instance is not None:
            instance.dispose()
    now = as_of_time(args.as_of)
    if args.report and args.format == "markdown":
        from orchestration_utils.sla.report import markdown_report

        _write_text(markdown_report(results, now), args.output)
    else:
        from orchestration_utils.sla.report import json_report

        emit_json(json_report(results, now), args.output)
    return _exit(results)


def _evaluate(args, config: SlaConfig, url, instance, store, send_alerts: bool):
    from orchestration_utils.sla.report import summarize
    from orchestration_utils.sla.tracker import run_source, track_once
    from orchestration_utils.warehouse.url import connect

    now = as_of_time(args.as_of)
    needs_warehouse = any(not isinstance(s, CompletionSla) for s in config.slas)
    warehouse = connect(url, config.max_bytes_billed, config.query_timeout_seconds) if needs_warehouse else None
    try:
        results, alerts = track_once(config, now, warehouse, run_source(config, instance), store, send_alerts)
    finally:
        if warehouse is not None:
            warehouse.close()
    summary = summarize(results)
    say(PROG, f"{summary['met']} of {summary['total_slas']} SLAs met, {summary['violated']} violated "
              f"({summary['critical_violations']} critical), {summary['unknown']} unknown")
    for result in results:
        if result.status != "OK":
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
    say(PROG, f"monitoring {len(config.slas)} SLAs every {args.interval:g}s; state in {args.state_dir}")
    while not stop.is_set():
        _evaluate(args, config, url, instance, store, send_alerts=not args.no_alerts)
        stop.wait(args.interval)
    return 0


def _dagster_instance(config: SlaConfig, settings):
    if not any(isinstance(s, CompletionSla) and s.source == "dagster" for s in config.slas):
        return None
    home = settings.dagster_home
    if not home.is_dir():
        return None
    import dagster as dg

    return dg.DagsterInstance.from_config(str(home))


def _write_text(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from orchestration_utils.cli.shell import write_atomic

    write_atomic(output, text.encode())


def _exit(results) -> int:
    return 1 if any(r.status == "VIOLATED" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
