"""`dagster-asset-gen`: a standalone Dagster package from a dbt manifest or a SQLMesh project."""

from __future__ import annotations

import sys
import time

from orchestration_utils.cli.generator_args import (
    add_project_arguments,
    default_schedule,
    generating,
    project_dir,
    project_source,
    report,
)
from orchestration_utils.cli.shell import parser, run, say
from orchestration_utils.errors import UsageError

PROG = "dagster-asset-gen"
EPILOG = """\
examples:
  dagster-asset-gen --project-type dbt --manifest-path target/manifest.json --output-dir dagster_shop/
  dagster-asset-gen --project-type sqlmesh --project-path . --output-dir dagster_shop/
  dagster definitions validate -f dagster_shop/definitions.py

Writes <project>_dagster/ (partitions, assets, checks, sensors, warehouse resource, and
definitions.py: the project's own code location) and definitions.py with a top-level `defs`
merging every project package in the folder, so several projects can share one --output-dir
(a run refuses, exit 2, a file of the same name it did not generate). The asset graph (keys, deps, groups, owners, tags,
partitions, freshness, automation) is the one the orchestration-utils code location shows.
A JSON summary goes to stdout, progress to stderr.

exit codes:
  0  files written (or, with --check, already up to date)
  1  --check: some files would change (they are named)
  2  bad usage or bad input, or stdout closed or full
  141  stdout's reader left early (`| head`): nothing said, as `cat` does
"""


def main(argv: list[str] | None = None) -> int:
    p = parser(
        PROG, "Generate a standalone Dagster package from dbt or SQLMesh project metadata.", EPILOG
    )
    add_project_arguments(p)
    p.add_argument(
        "--warehouse",
        default="duckdb:///warehouse.duckdb",
        help="URL the generated checks read (duckdb:///abs/path.duckdb or bigquery://PROJECT?location=US); "
        "ORCHESTRATION_UTILS_WAREHOUSE overrides it at run time",
    )
    args = p.parse_args(argv)
    return run(lambda: generating(_generate, args), PROG)


def _generate(args) -> int:
    from orchestration_utils.codegen.dagster.generate import generate_dagster_package

    source = project_source(args)
    schedule = default_schedule(args)
    if not args.warehouse.startswith(("duckdb:///", "bigquery://")):
        raise UsageError(
            f"--warehouse: {args.warehouse!r} is not duckdb:///path or bigquery://project"
        )
    started = time.monotonic()
    say(PROG, f"reading {args.project_type} project {source}")
    plan, result = generate_dagster_package(
        args.project_type,
        source,
        args.output_dir,
        project_dir=project_dir(args, source),
        warehouse_url=args.warehouse,
        default_schedule=schedule,
        check=args.check,
        gateway=args.gateway,
    )
    assets = sum(len(g.assets) for g in plan.groups)
    return report(
        PROG,
        args,
        result,
        {"package": plan.package, "assets": assets, "partitions": sorted(plan.partitions)},
        f"{assets} assets in {plan.package}/ in {time.monotonic() - started:.1f}s",
    )


if __name__ == "__main__":
    sys.exit(main())
