"""Code location load with a large health config (issue #16.3): `dagster definitions validate`
on a location holding only the health checks of N generated tables, in a fresh process.

    .venv/bin/python bench/health_location_load.py --tables 100 1000 5000 10000

Points: bench/results/health_location_load.json and .png (one series: no anchor defines these
checks; earlier shapes are measured by running this from their revision)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile

from common import VENV_BIN, WORK
from plot import Point, write_results

TABLES_PER_DATASET = 50


def health_config(tables: int) -> str:
    """Every table with all four checks (freshness, partitioned row count, partitions, schema)."""
    path = WORK / f"health-{tables}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "tables": [
                    {
                        "table_id": f"lake.ds_{i // TABLES_PER_DATASET:04d}.t_{i:05d}",
                        "critical": i % 10 == 0,
                        "freshness": {"timestamp_column": "ts", "max_age_hours": 24},
                        "row_count": {
                            "min_rows": 1,
                            "partition_column": "ts",
                            "partition_granularity": "day",
                        },
                        "check_partitions": True,
                        "expected_schema": [{"name": "ts", "type": "TIMESTAMP"}],
                    }
                    for i in range(tables)
                ],
                "check_failures": True,
            }
        )
    )
    return str(path)


def validate(tables: int) -> dict:
    env = {
        **os.environ,
        "ORCHESTRATION_UTILS_DBT_PROJECT_DIR": "",
        "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": "",
        "ORCHESTRATION_UTILS_HEALTH_CONFIG": health_config(tables),
        "ORCHESTRATION_UTILS_SLA_CONFIG": "",
        "ORCHESTRATION_UTILS_HOME": str(WORK / "home"),
    }
    with (
        tempfile.TemporaryDirectory() as home,
        tempfile.NamedTemporaryFile("r", suffix=".time") as tf,
    ):
        env["DAGSTER_HOME"] = home
        result = subprocess.run(
            [
                "/usr/bin/time",
                "-v",
                "-o",
                tf.name,
                str(VENV_BIN / "dagster"),
                "definitions",
                "validate",
                "-m",
                "orchestration_utils.definitions",
            ],
            check=False,
            env=env,
            capture_output=True,
            text=True,
        )
        report = tf.read()
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    seconds = {
        k: float(re.search(rf"{k} time \(seconds\): ([\d.]+)", report).group(1))
        for k in ("User", "System")
    }
    wall = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):([\d.]+)", report).groups()
    return {
        "tables": tables,
        "cpu_s": round(seconds["User"] + seconds["System"], 1),
        "wall_s": round(sum(float(x or 0) * f for x, f in zip(wall, (3600, 60, 1))), 1),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--config-only", action="store_true", help="write the configs and stop")
    args = ap.parse_args()
    points = []
    for n in args.tables:
        if args.config_only:
            print(health_config(n))
            continue
        r = validate(n)
        points.append(Point("orchestration-utils code location", n, r))
        print(json.dumps({**r, "cpu_ms_per_table": round(r["cpu_s"] * 1000 / n, 2)}))
    if points:
        paths = write_results(
            "health_location_load",
            "tables (x 4 checks)",
            points,
            {"cpu_s": "validate, process CPU (s)", "wall_s": "validate, process wall (s)"},
            title="dagster definitions validate, health checks only",
        )
        print("points: {}; plot: {}".format(*paths))
