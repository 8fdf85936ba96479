"""Issue #4: our code location against a plain `@dbt_assets` definition of the same manifest,
and the generated package, on a 5,000-model project.

    .venv/bin/python bench/code_location_load.py [--models 100 1000 5000 10000] [--runs 3]
        [--only plain location generated] [--baseline REV]

Import: a fresh process imports the definitions and resolves every asset spec (exit without
teardown, as the anchors measured). Validate: `dagster definitions validate`, whole process.
Each definition is imported once unmeasured first, so its bytecode is compiled. `--only` measures
some of the definitions (the others' points stay in the JSON); `--baseline REV` also measures the
package that revision's dagster-asset-gen generates (its source extracted under bench/.work).
Points: bench/results/code_location_load.json and .png.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from common import (
    VENV_BIN,
    WORK,
    baseline_source,
    bench_parser,
    median_runs,
    synthetic_project,
    timed,
    timed_json,
)
from plot import Point, write_results

PLAIN_DEFS = """import sys
from pathlib import Path
import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

@dbt_assets(manifest=Path({manifest!r}))
def plain(context, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()

defs = dg.Definitions(assets=[plain], resources={{"dbt": DbtCliResource(project_dir={project!r}, dbt_executable={dbt!r})}})
"""
IMPORT = """import json, os, sys, time
t = time.perf_counter()
sys.path.insert(0, {folder!r})
import {module} as m
d = m.defs() if callable(m.defs) else m.defs
n = len(list(d.resolve_all_asset_specs()))
print(json.dumps({{"import_s": time.perf_counter() - t, "assets": n}}), flush=True)
os._exit(0)
"""


PLAIN, LOCATION, GENERATED = (
    "plain @dbt_assets",
    "orchestration-utils code location",
    "generated package (dagster-asset-gen)",
)
CASES = {"plain": PLAIN, "location": LOCATION, "generated": GENERATED}
PANELS = {
    "import_s": "import + resolve specs (s)",
    "cpu_s": "import + resolve specs, process CPU (s)",
    "validate_s": "dagster definitions validate (s)",
    "validate_cpu": "validate, process CPU (s)",
    "validate_rss": "validate peak RSS (MiB)",
}


def main() -> None:
    ap = bench_parser()
    ap.add_argument("--only", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    ap.add_argument("--baseline", help="a git revision whose generated package is measured beside")
    args = ap.parse_args()
    points = []
    for models in args.models:
        points += measure(models, args.runs, {CASES[c] for c in args.only}, args.baseline)
    json_path, png = write_results(
        "code_location_load", "dbt models", points, PANELS, title="Dagster code location load"
    )
    print(f"\npoints: {json_path}; plot: {png}")


def generate(manifest: Path, project: Path, out: Path, baseline: str | None = None) -> None:
    """The package dagster-asset-gen writes: this tree's, or that revision's (on PYTHONPATH)."""
    cli = [str(VENV_BIN / "dagster-asset-gen")]
    env, cwd = None, None
    if baseline:
        cli = [str(VENV_BIN / "python"), "-m", "orchestration_utils.cli.dagster_asset_gen"]
        source = baseline_source(baseline)
        # `-m` puts the working directory first on sys.path: run where that source is.
        env, cwd = {**os.environ, "PYTHONPATH": str(source)}, source
    subprocess.run(
        [
            *cli,
            "--project-type",
            "dbt",
            "--manifest-path",
            str(manifest),
            "--output-dir",
            str(out),
            "--project-dir",
            str(project),
        ],
        check=True,
        capture_output=True,
        env=env,
        cwd=cwd,
    )


def prepare(models: int) -> tuple[Path, Path, Path, dict[str, str]]:
    """The synthetic project, its manifest, the bench's folder (a Dagster home holding the plain
    definition's file) and the environment that points our code location at the same project."""
    project = synthetic_project(models)
    manifest = project / "target" / "manifest.json"
    root = WORK / f"dagster_{models}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (root / "plain_defs.py").write_text(
        PLAIN_DEFS.format(manifest=str(manifest), project=str(project), dbt=str(VENV_BIN / "dbt"))
    )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(root),
        "ORCHESTRATION_UTILS_DBT_MANIFEST": str(manifest),
        "ORCHESTRATION_UTILS_DBT_PROJECT_DIR": str(project),
        "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": "",
        "ORCHESTRATION_UTILS_HOME": str(root / "home"),
    }
    return project, manifest, root, env


def measure(models: int, runs: int, only: set[str], baseline: str | None = None) -> list[Point]:
    project, manifest, root, env = prepare(models)
    if GENERATED in only:
        generate(manifest, project, root / "generated")
    if baseline:
        generate(manifest, project, root / f"generated_{baseline}", baseline)
    cases = {
        PLAIN: (str(root), "plain_defs", ["-f", str(root / "plain_defs.py")]),
        LOCATION: (
            str(WORK.parent.parent),
            "orchestration_utils.definitions",
            ["-m", "orchestration_utils.definitions"],
        ),
        GENERATED: (
            str(root / "generated"),
            "definitions",
            ["-f", str(root / "generated" / "definitions.py")],
        ),
    }
    cases = {name: case for name, case in cases.items() if name in only}
    if baseline:
        folder = root / f"generated_{baseline}"
        cases[f"generated package, {baseline}"] = (
            str(folder),
            "definitions",
            ["-f", str(folder / "definitions.py")],
        )
    rows = {}
    for name, (folder, module, target) in cases.items():

        def imp(folder=folder, module=module):
            r = timed_json(
                [str(VENV_BIN / "python"), "-c", IMPORT.format(folder=folder, module=module)],
                env=env,
            )
            return {**r, "import_rss": r["rss_mib"]}

        def validate(target=target):
            r = timed([str(VENV_BIN / "dagster"), "definitions", "validate", *target], env=env)
            return {
                "validate_s": r["wall_s"],
                "validate_cpu": r["cpu_s"],
                "validate_rss": r["rss_mib"],
            }

        imp()  # unmeasured: compiles the bytecode of what it imports (the generated package is new)
        rows[name] = {**median_runs(runs, imp), **median_runs(runs, validate)}
    print(
        f"N={models} models, median of {runs} fresh processes, load average {os.getloadavg()[0]:.1f}\n"
    )
    print(
        "| definitions | assets | import + resolve specs: wall / CPU | peak RSS "
        "| `dagster definitions validate`: wall / CPU | peak RSS |"
    )
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['assets']:.0f} | {r['import_s']:.2f} s / {r['cpu_s']:.2f} s "
            f"| {r['import_rss']:.0f} MiB | {r['validate_s']:.2f} s / {r['validate_cpu']:.2f} s "
            f"| {r['validate_rss']:.0f} MiB |"
        )
    plain = rows.get(PLAIN)
    for name, r in rows.items():
        if plain and name != PLAIN:
            print(
                f"\n{name} / plain, CPU: import {r['cpu_s'] / plain['cpu_s']:.2f}x, validate "
                f"{r['validate_cpu'] / plain['validate_cpu']:.2f}x, memory "
                f"{r['validate_rss'] / plain['validate_rss']:.2f}x"
            )
    return [Point(name, models, r) for name, r in rows.items()]


if __name__ == "__main__":
    main()
