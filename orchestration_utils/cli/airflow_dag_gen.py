"""`airflow-dag-gen`: static Airflow 3 DAG files from a dbt manifest or a SQLMesh project."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from orchestration_utils.cli.shell import EXIT_FAILED, EXIT_OK, UsageError, parser, run, say
from orchestration_utils.codegen.airflow.plan import ExecutionMode, GeneratorOptions
from orchestration_utils.project.schedule import normalize_schedule

PROG = "airflow-dag-gen"
EPILOG = """\
examples:
  airflow-dag-gen --project-type dbt --manifest-path target/manifest.json --output-dir dags/ --schedule daily
  airflow-dag-gen --project-type sqlmesh --project-path . --output-dir dags/ --schedule hourly
  airflow-dag-gen --project-type dbt --manifest-path target/manifest.json --output-dir dags/ --check   # in CI

One DAG file per schedule (a model's meta `schedule` or SQLMesh `cron` wins over --schedule),
plus airflow_dag_index.json mapping every node to its dag_id and task_id. Copy the folder
to $AIRFLOW_HOME/dags. A JSON summary goes to stdout, progress to stderr.

exit codes:
  0  files written (or, with --check, already up to date)
  1  --check: some files would change (they are named)
  2  bad usage or bad input (missing file, invalid manifest, cycle, ...)
"""


def main(argv: list[str] | None = None) -> int:
    p = parser(PROG, "Generate static Airflow 3 DAGs from dbt or SQLMesh project metadata.", EPILOG)
    p.add_argument("--project-type", choices=["dbt", "sqlmesh"], required=True)
    p.add_argument("--manifest-path", type=Path, help="dbt manifest.json (--project-type dbt)")
    p.add_argument("--project-path", type=Path, help="SQLMesh project directory (--project-type sqlmesh)")
    p.add_argument("--gateway", help="SQLMesh gateway to load the project with (default: the project's)")
    p.add_argument("--output-dir", type=Path, required=True)
    p.add_argument("--schedule", default="daily",
                   help="default for models whose metadata names none: hourly, daily, weekly, monthly, an @preset or a cron (default: daily)")
    p.add_argument("--mode", choices=[m.value for m in ExecutionMode], default="dbt",
                   help="dbt: `dbt build --select` per model (any warehouse); bigquery: compiled SQL via "
                        "deferrable BigQueryInsertJobOperator for table/view models (needs a compiled manifest)")
    p.add_argument("--project-dir", help="the project's path on the Airflow workers (default: the SQLMesh "
                                         "project path, or the dbt project holding the manifest's target/, else '.')")
    p.add_argument("--no-health-checks", action="store_true", help="omit the BigQuery health-check tasks")
    p.add_argument("--gcp-conn-id", default="google_cloud_default")
    p.add_argument("--location", default="US", help="BigQuery location for jobs and checks (default: US)")
    p.add_argument("--start-date", default="2024-01-01")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 naming the files that would change")
    args = p.parse_args(argv)
    return run(lambda: _generate(args), PROG)


def _generate(args) -> int:
    from orchestration_utils.codegen.airflow.generate import generate_airflow_dags

    source = args.manifest_path if args.project_type == "dbt" else args.project_path
    if source is None:
        flag = "--manifest-path" if args.project_type == "dbt" else "--project-path"
        raise UsageError(f"{flag} is required with --project-type {args.project_type}")
    try:
        schedule = normalize_schedule(args.schedule)
    except ValueError as exc:
        raise UsageError(f"--schedule: {exc}") from None
    options = GeneratorOptions(
        default_schedule=schedule,
        mode=ExecutionMode(args.mode),
        health_checks=not args.no_health_checks,
        project_dir=args.project_dir or default_project_dir(args.project_type, source),
        gcp_conn_id=args.gcp_conn_id,
        location=args.location,
        start_date=args.start_date,
    )
    started = time.monotonic()
    say(PROG, f"reading {args.project_type} project {source}")
    plan, result = generate_airflow_dags(args.project_type, source, args.output_dir, options,
                                         check=args.check, gateway=args.gateway)
    summary = {
        "output_dir": str(args.output_dir),
        "check": args.check,
        "written": [] if args.check else result.written,
        "removed": [] if args.check else result.removed,
        "unchanged": result.unchanged,
        "stale": result.stale if args.check else [],
        "dags": {d.dag_id: {"file": d.file_name, "schedule": d.schedule, "tasks": len(d.tasks)} for d in plan.dags},
    }
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    tasks = sum(len(d.tasks) for d in plan.dags)
    if args.check:
        if result.stale:
            say(PROG, f"stale: {', '.join(result.stale)} (regenerate without --check)")
            return EXIT_FAILED
        say(PROG, f"up to date: {len(plan.dags)} DAGs in {args.output_dir}")
        return EXIT_OK
    say(PROG, f"{len(plan.dags)} DAGs, {tasks} tasks -> {args.output_dir} "
              f"({len(result.written)} written, {len(result.unchanged)} unchanged, {len(result.removed)} removed) "
              f"in {time.monotonic() - started:.1f}s")
    return EXIT_OK


def default_project_dir(project_type: str, source: Path) -> str:
    if project_type == "sqlmesh":
        return str(source)
    candidate = source.resolve().parent.parent
    if source.resolve().parent.name == "target" and (candidate / "dbt_project.yml").exists():
        return str(candidate)
    return "."


if __name__ == "__main__":
    sys.exit(main())
