"""pipeline-health-monitor on DuckDB at 100 to 10,000 tables, all four table checks, beside older code.

    .venv/bin/python bench/health_monitor.py --tables 100 1000 5000 10000 --baseline c24530d

Each table has an id, a day-partitioned timestamp and a value column, 14 days of rows with
gaps; every table gets freshness (MAX(ts)), row count (with per-partition counts), partition
health (7-day spine) and schema drift (an expected schema), over 20 datasets. Each measurement
is a fresh `pipeline-health-monitor --config ... --output` process (the whole CLI, imports
included; median of --runs). `--baseline REV` runs the same CLI from that git revision's source
(extracted under bench/.work, put first on PYTHONPATH) in the same run, alternating with ours.
Points: bench/results/health_monitor.json and .png.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
from pathlib import Path

import duckdb
from common import VENV_BIN, WORK, baseline_source, median_runs, timed
from plot import Point, write_results

AS_OF = "2026-03-01T10:30:00+00:00"
DATASETS = 20


def build(tables: int, datasets: int) -> tuple[Path, Path]:
    folder = WORK / f"health_{tables}_{datasets}"
    db, config = folder / "bench.duckdb", folder / "health-config.json"
    if db.exists() and config.exists():
        return db, config
    folder.mkdir(parents=True, exist_ok=True)
    db.unlink(missing_ok=True)  # an interrupted build; the config is written last
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
            entries.append(
                {
                    "table_id": f"bench.{name}",
                    "freshness": {"max_age_hours": 24, "timestamp_column": "ts"},
                    "row_count": {"min_rows": 1, "partition_column": "ts", "lookback_days": 7},
                    "check_partitions": True,
                    "expected_schema": [
                        {"name": "id", "type": "INT64"},
                        {"name": "ts", "type": "TIMESTAMP"},
                        {"name": "value", "type": "FLOAT64"},
                    ],
                }
            )
    con.close()
    config.write_text(json.dumps({"warehouse": f"duckdb://{db}", "tables": entries}))
    return db, config


def measure(config: Path, source: Path | None) -> dict:
    report = WORK / "health_report.json"
    env = {**os.environ, "PYTHONPATH": str(source)} if source else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = timed(
        [
            str(VENV_BIN / "pipeline-health-monitor"),
            "--config",
            str(config),
            "--output",
            str(report),
            "--as-of",
            AS_OF,
        ],
        env=env,
        cwd=WORK,
        ok=(0, 1),
    )  # exit 1: missing partitions on purpose
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (
        after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    )  # on a shared machine, the steadier figure
    data = json.loads(report.read_text())
    return {
        "wall_s": r["wall_s"],
        "cpu_s": cpu,
        "rss_mib": r["rss_mib"],
        "checks": data["summary"]["total_checks"],
        "queries": data["monitoring"]["queries"],
        "report_mib": report.stat().st_size / 2**20,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, nargs="+", default=[100, 1000, 5000, 10000])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--baseline", help="a git revision to measure beside the working tree")
    args = ap.parse_args()
    codes = {"this tree": None}
    if args.baseline:
        codes[f"baseline {args.baseline}"] = baseline_source(args.baseline)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print(
        "| tables | code | checks | queries | process wall | process CPU | peak RSS | report | load avg (1 min) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    points = []
    for tables in args.tables:
        _, config = build(tables, DATASETS)
        for code, source in codes.items():
            result = median_runs(
                args.runs, lambda config=config, source=source: measure(config, source)
            )
            point = Point(code, tables, result)
            points.append(point)
            print(
                f"| {tables} | {code} | {result['checks']:.0f} | {result['queries']:.0f} | {result['wall_s']:.2f} s | "
                f"{result['cpu_s']:.2f} s | {result['rss_mib']:.0f} MiB | {result['report_mib']:.1f} MiB | {point.load_avg:.2f} |",
                flush=True,
            )
    json_path, png = write_results(
        "health_monitor",
        "tables (x 4 checks)",
        points,
        {"wall_s": "process wall (s)", "cpu_s": "process CPU (s)", "rss_mib": "peak RSS (MiB)"},
        title="pipeline-health-monitor on DuckDB",
    )
    print(f"points: {json_path}; plot: {png}")


if __name__ == "__main__":
    main()
