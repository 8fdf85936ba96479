"""Issue #2: load a 5,000-model manifest into the project model, beside dagster-dbt's own load.

.venv/bin/python bench/project_load.py [--models 100 1000 5000 10000] [--runs 3]

Points: bench/results/project_load.json and .png.
"""

from __future__ import annotations

import os

from common import VENV_BIN, WORK, bench_args, median_runs, synthetic_project, timed_json
from plot import Point, write_results

OURS = """
import json, time
t = time.perf_counter()
from orchestration_utils.project.dbt_manifest import load_dbt_manifest
p = load_dbt_manifest({manifest!r})
print(json.dumps({{"load_s": time.perf_counter() - t, "models": len(p.models()), "edges": len(p.edges())}}))
"""
PLAIN_DAGSTER = """
import json, os, time
t = time.perf_counter()
from pathlib import Path
import dagster as dg
from dagster_dbt import dbt_assets
@dbt_assets(manifest=Path({manifest!r}))
def plain(context): ...
defs = dg.Definitions(assets=[plain])
specs = list(defs.resolve_all_asset_specs())
print(json.dumps({{"load_s": time.perf_counter() - t, "assets": len(specs)}}), flush=True)
os._exit(0)
"""


def measure(models: int, runs: int) -> dict[str, dict]:
    manifest = str(synthetic_project(models) / "target" / "manifest.json")
    env = {**os.environ, "DAGSTER_HOME": str(WORK)}
    python = str(VENV_BIN / "python")
    rows = {}
    for name, code in (
        ("orchestration_utils load_dbt_manifest", OURS),
        ("dagster-dbt @dbt_assets + resolve specs", PLAIN_DAGSTER),
    ):

        def run(code=code):
            return timed_json([python, "-c", code.format(manifest=manifest)], env=env)

        rows[name] = median_runs(runs, run)
    return rows


def main() -> None:
    args = bench_args()
    points = []
    for models in args.models:
        rows = measure(models, args.runs)
        print(
            f"| N={models} (median of {args.runs}, fresh process each) | load in process | process wall | process CPU | peak RSS |"
        )
        print("|---|---|---|---|---|")
        for name, r in rows.items():
            print(
                f"| {name} | {r['load_s']:.2f} s | {r['wall_s']:.2f} s | {r['cpu_s']:.2f} s | {r['rss_mib']:.0f} MiB |"
            )
            points.append(Point(name, models, r))
    json_path, png = write_results(
        "project_load",
        "dbt models",
        points,
        {"load_s": "load in process (s)", "cpu_s": "process CPU (s)", "rss_mib": "peak RSS (MiB)"},
        title="dbt manifest to project model",
    )
    print(f"\npoints: {json_path}; plot: {png}")


if __name__ == "__main__":
    main()
