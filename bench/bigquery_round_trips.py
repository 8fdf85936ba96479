"""Issue #17.4: BigQuery round trips of the health monitor at 100 to 10,000 tables, against the
recorded-shape REST server of the tests (127.0.0.1; `serve_scale` in
orchestration_utils_tests/health/bigquery_servers.py), beside the code before per-dataset metadata.

    .venv/bin/python bench/bigquery_round_trips.py --tables 100 1000 5000 10000 [--baseline f0dd3d6]

Tables of 500 per dataset (fewer: one dataset), each with freshness, a partitioned row count and
partitions; one table's `ts` renamed, the first tables.get and the first query refused with 403
rateLimitExceeded. Each cell is a fresh process running `run_health_checks` in process against the
server; it counts what was sent. `--baseline REV` runs the same cell with that revision's
`orchestration_utils` first on the path (one `tables.get` per table). Points:
bench/results/bigquery_round_trips.json and .png.
"""

from __future__ import annotations

import argparse
import os
import sys

from common import REPO, VENV_BIN, baseline_source, timed_json
from plot import Point, write_results

CELL = """
import json, sys, time
sys.path[:0] = {paths!r}
from datetime import UTC, datetime, timedelta
from orchestration_utils.health.config import HealthConfig, TableConfig
from orchestration_utils.health.monitor import run_health_checks
from orchestration_utils.warehouse.bigquery import BigQueryWarehouse
from orchestration_utils_tests.health.bigquery_servers import RecordedBigQuery, serve_scale

now = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
days = [(now - timedelta(days=d)).strftime("%Y%m%d") for d in range(1, 8)]
per_dataset = min({tables}, 500)
server = RecordedBigQuery()
serve_scale(server, now, days, renamed="d0.t7")
config = HealthConfig(tables=tuple(
    TableConfig(table_id=f"p.d{{d}}.t{{t}}", max_age_hours=24, timestamp_column="ts", min_rows=1,
                partition_column="ts", check_partitions=True, lookback_days=7)
    for d in range({tables} // per_dataset) for t in range(per_dataset)))
warehouse = BigQueryWarehouse("p", "US", server.endpoint, max_bytes_billed=10**9)
t = time.perf_counter()
results = run_health_checks(config, warehouse, now)
elapsed = time.perf_counter() - t
print(json.dumps({{
    "checks_s": elapsed,
    "http_requests": len(server.requests),
    "billed_queries": warehouse.usage.queries,
    "tables_get": warehouse.usage.metadata_calls,
    "errors": sum(r.status == "ERROR" for r in results),
}}), flush=True)
server.close()
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, nargs="+", default=[100, 1000, 5000, 10000])
    ap.add_argument("--baseline", help="a git revision to measure beside the working tree")
    args = ap.parse_args()
    codes = {"this tree (metadata views per dataset)": [str(REPO)]}
    if args.baseline:
        codes[f"before, {args.baseline} (tables.get per table)"] = [
            str(baseline_source(args.baseline)),
            str(REPO),
        ]
    env = {**os.environ, "NO_GCE_CHECK": "True", "PYTHONPATH": ""}
    print(
        "| tables | code | HTTP requests | billed queries | tables.get | checks in process | load avg |"
    )
    print("|---|---|---|---|---|---|---|")
    points = []
    for tables in args.tables:
        for code, paths in codes.items():
            r = timed_json(
                [str(VENV_BIN / "python"), "-c", CELL.format(paths=paths, tables=tables)], env=env
            )
            point = Point(code, tables, {k: v for k, v in r.items() if isinstance(v, int | float)})
            points.append(point)
            print(
                f"| {tables} | {code} | {r['http_requests']} | {r['billed_queries']} | "
                f"{r['tables_get']} | {r['checks_s']:.2f} s | {point.load_avg:.1f} |",
                flush=True,
            )
    paths = write_results(
        "bigquery_round_trips",
        "tables (x 3 checks)",
        points,
        {
            "http_requests": "HTTP requests in all",
            "billed_queries": "billed queries",
            "checks_s": "checks in process (s)",
        },
        title="pipeline-health-monitor on BigQuery (recorded-shape server)",
    )
    print("points: {}; plot: {}".format(*paths), file=sys.stderr)


if __name__ == "__main__":
    main()
