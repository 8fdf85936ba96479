"""Issue #17.5: a synthetic SQLMesh project through our generators and code location, beside
dagster-sqlmesh's `@sqlmesh_assets` on the same project.

    .venv/bin/python bench/sqlmesh_scale.py --models 100 500 1000 --runs 3

Per size: `bench/gen_sqlmesh_project.py --models N --seed 42` into bench/.work/sqlmesh_pN (once),
then fresh processes (median of --runs, `/usr/bin/time -v`):
- `airflow-dag-gen` and `dagster-asset-gen --project-type sqlmesh`, whole process (target ≤ 10 s);
- load: import the definitions and resolve every asset spec, for our code location (dbt and the
  health checks off, this project only; once with the home's project cache warm, as every load
  after the first, and once with an empty home, as a first load), the package `dagster-asset-gen` wrote, and a plain
  `@sqlmesh_assets` of dagster-sqlmesh 0.22 (target: ours ≤ 1.0x of it), whose translator only
  splits `sla_hours:2` into a tag Dagster accepts (its default refuses ':' in a tag key).
SQLMesh caches what it parsed in the project's `.cache`; one load before measuring fills it, so
every cell reads the same warm cache (as a code server restarting on an unchanged project would);
at the first size each command runs once unmeasured, so the bytecode it imports is compiled.
Points: bench/results/sqlmesh_scale.json and .png.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common import REPO, VENV_BIN, WORK, median_runs, timed, timed_json
from plot import Point, load_average, write_results

HERE = Path(__file__).resolve().parent
FIRST_LOAD = "code location, first load (empty home)"
ANCHOR_SERIES = "@sqlmesh_assets (dagster-sqlmesh 0.22)"
ANCHOR = """import dagster as dg
from dagster_sqlmesh import (
    SQLMeshContextConfig,
    SQLMeshDagsterTranslator,
    SQLMeshResource,
    sqlmesh_assets,
)


class Translator(SQLMeshDagsterTranslator):
    # Dagster refuses ':' in a tag key; `sla_hours:2` becomes {{"sla_hours": "2"}}.
    def get_tags(self, context, model):
        return dict((*tag.split(":", 1), "")[:2] for tag in model.tags)


class Config(SQLMeshContextConfig):
    def get_translator(self):
        return Translator()


config = Config(path={project!r}, gateway="local")


@sqlmesh_assets(environment="dev", config=config)
def synthetic(context: dg.AssetExecutionContext, sqlmesh: SQLMeshResource):
    yield from sqlmesh.run(context, config=config)


defs = dg.Definitions(assets=[synthetic], resources={{"sqlmesh": SQLMeshResource()}})
"""
LOAD = """import json, os, sys, time
t = time.perf_counter()
sys.path.insert(0, {folder!r})
import {module} as m
d = m.defs() if callable(m.defs) else m.defs
n = len(list(d.resolve_all_asset_specs()))
print(json.dumps({{"load_s": time.perf_counter() - t, "assets": n}}), flush=True)
os._exit(0)
"""


def project(models: int) -> Path:
    path = WORK / f"sqlmesh_p{models}"
    if not (path / "gen_summary.json").exists():
        subprocess.run(
            [sys.executable, str(HERE / "gen_sqlmesh_project.py"), "--models", str(models)]
            + ["--seed", "42", "--out", str(path), "--force"],
            check=True,
            capture_output=True,
        )
    return path


def measure(models: int, runs: int, warm: bool = False) -> list[Point]:
    """`warm`: run every command once unmeasured first (compiles the bytecode they import)."""
    path = project(models)
    root = WORK / f"sqlmesh_dagster_{models}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (root / "anchor_defs.py").write_text(ANCHOR.format(project=str(path)))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(root),
        "ORCHESTRATION_UTILS_DBT_PROJECT_DIR": "",
        "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": str(path),
        "ORCHESTRATION_UTILS_HOME": str(root / "home"),
    }
    subprocess.run(  # fills SQLMesh's cache of the project, once for every cell below
        [str(VENV_BIN / "python"), "-c", f"import sqlmesh; sqlmesh.Context(paths={str(path)!r})"],
        check=True,
        capture_output=True,
        env=env,
    )
    points = []
    for tool in ("airflow-dag-gen", "dagster-asset-gen"):
        out = root / tool
        cmd = [str(VENV_BIN / tool), "--project-type", "sqlmesh", "--project-path", str(path)]
        cmd += ["--output-dir", str(out)]
        if warm:
            timed(cmd, env=env)
        r = median_runs(runs, lambda cmd=cmd: timed(cmd, env=env))
        points.append(
            Point(
                f"{tool} (ours)",
                models,
                {"generate_s": r["wall_s"], "cpu_s": r["cpu_s"], "rss_mib": r["rss_mib"]},
            )
        )
    cold_home = root / "home-cold"
    cold_env = {**env, "ORCHESTRATION_UTILS_HOME": str(cold_home)}
    cases = {
        "orchestration-utils code location": (str(REPO), "orchestration_utils.definitions", env),
        FIRST_LOAD: (str(REPO), "orchestration_utils.definitions", cold_env),
        "generated package (dagster-asset-gen)": (
            str(root / "dagster-asset-gen"),
            "definitions",
            env,
        ),
        ANCHOR_SERIES: (str(root), "anchor_defs", env),
    }

    def load(script: str, env: dict[str, str]) -> dict:
        shutil.rmtree(cold_home, ignore_errors=True)  # a first load finds no project cache
        return timed_json([str(VENV_BIN / "python"), "-c", script], env=env)

    for name, (folder, module, case_env) in cases.items():
        script = LOAD.format(folder=folder, module=module)
        if warm:
            load(script, case_env)
        r = median_runs(runs, lambda s=script, e=case_env: load(s, e))
        points.append(
            Point(
                name,
                models,
                {
                    "load_s": r["load_s"],
                    "process_s": r["wall_s"],
                    "cpu_s": r["cpu_s"],
                    "rss_mib": r["rss_mib"],
                    "assets": r["assets"],
                },
            )
        )
    return points


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, nargs="+", default=[100, 500, 1000])
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per cell (median)")
    args = ap.parse_args()
    points: list[Point] = []
    for i, models in enumerate(args.models):
        points += measure(models, args.runs, warm=i == 0)
        print(f"N={models} done at load average {load_average():.1f}", file=sys.stderr)
    json_path, png = write_results(
        "sqlmesh_scale",
        "SQLMesh models",
        points,
        {
            "generate_s": "generator, whole process (s)",
            "load_s": "import + resolve specs (s)",
            "cpu_s": "process CPU, user + system (s)",
            "rss_mib": "peak RSS (MiB)",
        },
        title="SQLMesh project: generators and Dagster load",
    )
    print(f"median of {args.runs} fresh processes; points: {json_path}; plot: {png}\n")
    print(
        "| N | series | generator | load | process wall | process CPU | peak RSS | assets | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for p in points:
        v = p.values
        gen = f"{v['generate_s']:.2f} s" if "generate_s" in v else ""
        load = f"{v['load_s']:.2f} s" if "load_s" in v else ""
        wall = f"{v['process_s']:.2f} s" if "process_s" in v else ""
        assets = f"{v['assets']:.0f}" if "assets" in v else ""
        print(
            f"| {p.size} | {p.series} | {gen} | {load} | {wall} | {v['cpu_s']:.2f} s | {v['rss_mib']:.0f} MiB | "
            f"{assets} | {p.load_avg:.1f} |"
        )
    for models in args.models:
        by = {p.series: p.values for p in points if p.size == models}
        anchor = by[ANCHOR_SERIES]
        for series in ("orchestration-utils code location", FIRST_LOAD):
            ours = by[series]
            print(
                f"N={models}: {series} / @sqlmesh_assets: load {ours['load_s'] / anchor['load_s']:.2f}x, "
                f"process CPU {ours['cpu_s'] / anchor['cpu_s']:.2f}x"
            )


if __name__ == "__main__":
    main()
