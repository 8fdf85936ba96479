"""Issue #17: whole-process time of each generator CLI on synthetic dbt projects of N models.

    .venv/bin/python bench/generators.py [--sizes 1000 5000 10000] [--runs 3] [--name generators]

Each point is a fresh `airflow-dag-gen` / `dagster-asset-gen` process writing into an empty
directory (median of --runs; wall and peak RSS by /usr/bin/time -v). The load average is
recorded beside the numbers: on a shared machine they are an upper bound. Points are written as
JSON to bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil

from common import REPO, VENV_BIN, WORK, median_runs, synthetic_project, timed

TOOLS = ("airflow-dag-gen", "dagster-asset-gen")
RESULTS = REPO / "bench" / "results"
# An installed package runs from compiled bytecode; without it every run compiles dagster and
# dbt again (seconds of CPU that no user pays).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per point (median)")
    ap.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    ap.add_argument("--name", default="generators", help="bench/results/<name>.json")
    return ap.parse_args()


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure(tool: str, models: int, runs: int) -> dict:
    project = synthetic_project(models)
    out = WORK / f"gen_{models}" / tool

    def once() -> dict:
        shutil.rmtree(out, ignore_errors=True)  # every run writes all files
        load = _load()
        r = timed(
            env=ENV,
            cmd=[
                str(VENV_BIN / tool),
                "--project-type",
                "dbt",
                "--manifest-path",
                str(project / "target" / "manifest.json"),
                "--output-dir",
                str(out),
                "--project-dir",
                str(project),
            ],
        )
        summary = json.loads(r["stdout"])
        return {
            "wall_s": r["wall_s"],
            "cpu_s": r["cpu_s"],
            "rss_mib": r["rss_mib"],
            "load_1min": load[0],
            "files": len(summary["written"]),
        }

    once()  # warm-up: writes the bytecode caches an installed package has
    point = median_runs(runs, once)
    return {"tool": tool, "models": models, "runs": runs, **point}


def main() -> None:
    args = _args()
    points = []
    for models in args.sizes:
        for tool in args.tools:
            point = measure(tool, models, args.runs)
            print(json.dumps(point), flush=True)
            points.append(point)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{args.name}.json"
    path.write_text(
        json.dumps(
            {
                "benchmark": "generators",
                "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "load_after": _load(),
                "points": points,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
