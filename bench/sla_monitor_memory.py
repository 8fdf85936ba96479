"""sla-tracker --monitor stays flat in memory: RSS of one long-running monitor, sampled as its
evaluation count grows (freshness, quality and availability SLAs on DuckDB, no alerts sent).

    .venv/bin/python bench/sla_monitor_memory.py --evaluations 2000

Points: bench/results/sla_monitor_memory.json and .png (x: evaluations, one process).
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import duckdb
from common import VENV_BIN, WORK
from plot import Point, write_results

# `sla-tracker` itself: its `main`, with the CLI's 1-second floor on --interval lowered so that
# thousands of evaluations take minutes.
FAST_MONITOR = """import sys
from orchestration_utils.cli import sla_tracker
sla_tracker.MIN_INTERVAL_SECONDS = 0.001
sys.exit(sla_tracker.main(sys.argv[1:]))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--evaluations", type=int, default=2000)
    args = ap.parse_args()
    folder = WORK / "sla_monitor"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "shop.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.orders AS SELECT i AS id, now()::TIMESTAMP - INTERVAL (i) MINUTE AS ts, "
        "i % 97 AS amount FROM range(10000) r(i)"
    )
    con.close()
    config = folder / "sla-config.json"
    config.write_text(
        json.dumps(
            {
                "warehouse": f"duckdb://{db}",
                "slas": [
                    {
                        "name": "fresh",
                        "type": "freshness",
                        "table_id": "shop.marts.orders",
                        "timestamp_column": "ts",
                        "max_age_hours": 1,
                    },
                    {
                        "name": "valid",
                        "type": "quality",
                        "table_id": "shop.marts.orders",
                        "max_failure_rate": 0.5,
                        "query": "SELECT count(*) AS total_rows, count(*) FILTER (WHERE amount = 0) AS failed_rows FROM shop.marts.orders",
                    },
                    {
                        "name": "available",
                        "type": "availability",
                        "table_id": "shop.marts.orders",
                        "target_availability": 99,
                        "lookback_hours": 1,
                    },
                ],
            }
        )
    )
    state = folder / "state"
    subprocess.run(["rm", "-rf", str(state)], check=True)
    log = folder / "monitor.log"
    process = subprocess.Popen(
        [
            str(VENV_BIN / "python"),
            "-c",
            FAST_MONITOR,
            "--config",
            str(config),
            "--monitor",
            "--interval",
            "0.01",
            "--no-alerts",
            "--state-dir",
            str(state),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),  # a pipe would fill with the monitor's lines and stop it
    )
    marks = sorted({10, 100, args.evaluations // 4, args.evaluations // 2, args.evaluations})
    print("| evaluations | RSS | history rows kept |")
    print("|---|---|---|")
    points = []
    try:
        for mark in marks:
            while _evaluations(state) < mark * 3:
                if process.poll() is not None:
                    raise SystemExit(
                        f"sla-tracker exited ({process.returncode}): {log.read_text()[-2000:]}"
                    )
                time.sleep(0.2)
            rss = (
                int(Path(f"/proc/{process.pid}/status").read_text().split("VmRSS:")[1].split()[0])
                / 1024
            )
            print(f"| {mark} | {rss:.0f} MiB | {_evaluations(state)} |", flush=True)
            points.append(Point("sla-tracker --monitor", mark, {"rss_mib": rss}))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    paths = write_results(
        "sla_monitor_memory",
        "evaluations (x 3 SLAs)",
        points,
        {"rss_mib": "RSS (MiB)"},
        title="sla-tracker --monitor memory",
    )
    print("points: {}; plot: {}".format(*paths))


def _evaluations(state) -> int:
    try:
        with sqlite3.connect(state / "sla-state.sqlite") as db:
            return db.execute("SELECT count(*) FROM evaluations").fetchone()[0]
    except sqlite3.Error:
        return 0


if __name__ == "__main__":
    main()
