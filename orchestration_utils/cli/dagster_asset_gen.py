"""`dagster-asset-gen`: a standalone Dagster package from a dbt manifest or a SQLMesh project."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from orchestration_utils.cli.airflow_dag_gen import default_project_dir
from orchestration_utils.cli.shell import EXIT_FAILED, EXIT_OK, UsageError, parser, run, say
from orchestration_utils.project.schedule import normalize_schedule

PROG = "dagster-asset-gen"
EPILOG = """\
examples:
  dagster-asset-gen --project-type dbt --manifest-path target/manifest.json --output-dir dagster_shop/
  dagster-asset-gen --project-type sqlmesh --project-path . --output-dir dagster_shop/
  dagster definitions validate -f dagster_shop/definitions.py

Writes <project>_dagster/ (partitions, assets, checks, sensors, warehouse resource) and
definitions.py with a top-level `defs`. The asset graph (keys, deps, groups, owners, tags,
partitions, freshness, automation) is the one the orchestration-utils code location shows.
A JSON summary goes to stdout, progress to stderr.

exit codes:
  0  files written (or, with --check, already up to date)
  1  --check: some files would change (they are named)
  2  bad usage or bad input
"""


def main(argv: list[str] | None = None) -> int:
    p = parser(PROG, "Generate a standalone Dagster package from dbt or SQLMesh project metadata.", EPILOG)
    p.add_argument("--project-type", choices=["dbt", "sqlmesh"], required=True)
    p.add_argument("--manifest-path", type=Path, help="dbt manifest.json (--project-type dbt)")
    p.add_argument("--project-path", type=Path, help="SQLMesh project directory (--project-type sqlmesh)")
    p.add_argument("--gateway", help="SQLMesh gateway to load the project with")
    p.add_argument("--output-dir", type=Path, required=True)
    p.add_argument("--schedule", default="daily", help="default schedule of nodes whose metadata names none")
    p.add_argument("--project-dir", help="the project's path where the generated code runs (default: as airflow-dag-gen)")
    p.add_argument("--warehouse", default="duckdb:///warehouse.duckdb",
                   help="URL the generated checks read (duckdb:///abs/path.duckdb or bigquery://PROJECT?location=US); "
                        "ORCHESTRATION_UTILS_WAREHOUSE overrides it at run time")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 naming the files that would change")
    args = p.parse_args(argv)
    return run(lambda: _generate(args), PROG)


def _generate(args) -> int:
    from orchestration_utils.codegen.dagster.generate import generate_dagster_package

    source = args.manifest_path if args.project_type == "dbt" else args.project_path
    if source is None:
        flag = "--manifest-path" if args.project_type == "dbt" else "--project-path"
        raise UsageError(f"{flag} is required with --project-type {args.project_type}")
    try:
        schedule = normalize_schedule(args.schedule)
    except ValueError as exc:
        raise UsageError(f"--schedule: {exc}") from None
    if not args.warehouse.startswith(("duckdb:///", "bigquery://")):
        raise UsageError(f"--warehouse: {args.warehouse!r} is not duckdb:///path or bigquery://project")
    started = time.monotonic()
    say(PROG, f"reading {args.project_type} project {source}")
    plan, result = generate_dagster_package(
        args.project_type, source, args.output_dir,
        project_dir=args.project_dir or default_project_dir(args.project_type, source),
        warehouse_url=args.warehouse, default_schedule=schedule, check=args.check, gateway=args.gateway,
    )
    assets = sum(len(g.assets) for g in plan.groups)
    json.dump({
        "output_dir": str(args.output_dir), "package": plan.package, "check": args.check,
        "written": [] if args.check else result.written, "removed": [] if args.check else result.removed,
        "unchanged": result.unchanged, "stale": result.stale if args.check else [],
        "assets": assets, "partitions": sorted(plan.partitions),
    }, sys.stdout, indent=2)
    sys.stdout.write("\n")
    if args.check:
        if result.stale:
            say(PROG, f"stale: {', '.join(result.stale)} (regenerate without --check)")
            return EXIT_FAILED
        say(PROG, f"up to date: {args.output_dir}")
        return EXIT_OK
    say(PROG, f"{assets} assets in {plan.package}/ -> {args.output_dir} ({len(result.written)} written, "
              f"{len(result.unchanged)} unchanged) in {time.monotonic() - started:.1f}s")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
