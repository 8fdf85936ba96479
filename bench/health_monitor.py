"""pipeline-health-monitor on DuckDB: 1,000 tables, all four table checks, and the round trips.

    .venv/bin/python bench/health_monitor.py --tables 1000 --runs 3

Each table has an id, a day-partitioned timestamp and a value column, 14 days of rows with
gaps; every table gets freshness (MAX(ts)), row count (with per-partition counts), partition
health (7-day spine) and schema drift (an expected schema). The same 1,000 tables are spread
over 5, 20 and 50 datasets to show that queries grow with datasets, not tables x checks.
Each measurement is a fresh process running the `pipeline-health-monitor` CLI (median of runs).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import duckdb
from common import VENV_BIN, WORK, median_runs, timed

AS_OF = "2026-03-01T10:30:00+00:00"


def build(tables: int, datasets: int) -> tuple[Path, Path]:
    folder = WORK / f"health_{tables}_{datasets}"
    db, config = folder / "bench.duckdb", folder / "health-config.json"
    if db.exists() and config.exists():
        return db, config
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    con = duckdb.connect(str(db))
    entries = []
    for d in range(datasets):
        con.execute(f"CREATE SCHEMA ds{d}")
        for t in range(tables // datasets):
            name = f"ds{d}.t{t}"
            skip = rng.randrange(14)  # one missing day per table
            con.execute(
                f"CREATE TABLE {name} AS SELECT i AS id, TIMESTAMP '2026-03-01 06:00:00' - INTERVAL (i % 14) DAY "
                f"- INTERVAL (i % 5) HOUR AS ts, random() AS value FROM range(200) r(i) WHERE i % 14 != {skip}"
            )
            entries.append({
                "table_id": f"bench.{name}", "freshness": {"max_age_hours": 24, "timestamp_column": "ts"},
                "row_count": {"min_rows": 1, "partition_column": "ts", "lookback_days": 7}, "check_partitions": True,
                "expected_schema": [{"name": "id", "type": "INT64"}, {"name": "ts", "type": "TIMESTAMP"},
                                    {"name": "value", "type": "FLOAT64"}],
            })
    con.close()
    config.write_text(json.dumps({"warehouse": f"duckdb://{db}", "tables": entries}))
    return db, config


def measure(config: Path) -> dict:
    report = WORK / "health_report.json"
    r = timed([str(VENV_BIN / "pipeline-health-monitor"), "--config", str(config), "--output", str(report),
               "--as-of", AS_OF], ok=(0, 1))  # exit 1: the bench data has missing partitions on purpose
    data = json.loads(report.read_text())
    return {"wall_s": r["wall_s"], "rss_mib": r["rss_mib"], "checks": data["summary"]["total_checks"],
            "queries": data["monitoring"]["queries"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"| {args.tables} tables | datasets | checks | warehouse queries | process wall | peak RSS |")
    print("|---|---|---|---|---|---|")
    for datasets in (5, 20, 50):
        _, config = build(args.tables, datasets)
        result = median_runs(args.runs, lambda: measure(config))
        print(f"| DuckDB | {datasets} | {result['checks']:.0f} | {result['queries']:.0f} | "
              f"{result['wall_s']:.2f} s | {result['rss_mib']:.0f} MiB |", flush=True)


if __name__ == "__main__":
    main()
