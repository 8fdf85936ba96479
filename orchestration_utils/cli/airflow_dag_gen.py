"""`airflow-dag-gen`: static Airflow 3 DAG files from a dbt manifest or a SQLMesh project."""

from __future__ import annotations

import sys
import time
from datetime import datetime

from orchestration_utils.cli.generator_args import (
    add_project_arguments,
    default_schedule,
    generating,
    project_dir,
    project_source,
    report,
)
from orchestration_utils.cli.shell import parser, run, say
from orchestration_utils.codegen.airflow.plan import (
    BIGQUERY_MODE_DBT_ONLY,
    ExecutionMode,
    GeneratorOptions,
)
from orchestration_utils.errors import UsageError
from orchestration_utils.project.model import ProjectKind

PROG = "airflow-dag-gen"
EPILOG = """\
examples:
  airflow-dag-gen --project-type dbt --manifest-path target/manifest.json --output-dir dags/ --schedule daily
  airflow-dag-gen --project-type sqlmesh --project-path . --output-dir dags/ --schedule hourly
  airflow-dag-gen --project-type dbt --manifest-path target/manifest.json --output-dir dags/ --check   # in CI

One DAG file per schedule (a model's meta `schedule` or SQLMesh `cron` wins over --schedule),
plus <project>__airflow_dag_index.json mapping every node to its dag_id and task_id. Several
projects can share one --output-dir: a run replaces and removes only its own project's files,
and refuses (exit 2) a file of the same name it did not generate. Copy the folder to
$AIRFLOW_HOME/dags. A JSON summary goes to stdout, progress to stderr.

exit codes:
  0  files written (or, with --check, already up to date)
  1  --check: some files would change (they are named)
  2  bad usage or bad input (missing file, invalid manifest, cycle, ...), or stdout
     closed or full
  141  stdout's reader left early (`| head`): nothing said, as `cat` does
"""


def main(argv: list[str] | None = None) -> int:
    p = parser(PROG, "Generate static Airflow 3 DAGs from dbt or SQLMesh project metadata.", EPILOG)
    add_project_arguments(p)
    p.add_argument(
        "--mode",
        type=lambda value: value.strip().lower(),  # any case, as the job's op config
        choices=[m.value for m in ExecutionMode],
        default="dbt",
        help="dbt: `dbt build --select` per model (any warehouse); bigquery: compiled SQL via "
        "deferrable BigQueryInsertJobOperator for table/view models (dbt projects on BigQuery "
        "only: needs a manifest from `dbt compile` against BigQuery)",
    )
    p.add_argument(
        "--no-health-checks", action="store_true", help="omit the BigQuery health-check tasks"
    )
    p.add_argument("--gcp-conn-id", default="google_cloud_default")
    p.add_argument(
        "--location", default="US", help="BigQuery location for jobs and checks (default: US)"
    )
    p.add_argument("--start-date", default="2024-01-01")
    args = p.parse_args(argv)
    return run(lambda: generating(_generate, args), PROG)


def _generate(args) -> int:
    from orchestration_utils.codegen.airflow.generate import generate_airflow_dags

    source = project_source(args)
    try:
        datetime.fromisoformat(args.start_date)
    except ValueError:
        raise UsageError(f"--start-date: not an ISO date: {args.start_date[:80]!r}") from None
    if args.mode == ExecutionMode.BIGQUERY and args.project_type == ProjectKind.SQLMESH:
        raise UsageError(f"--mode bigquery: {BIGQUERY_MODE_DBT_ONLY}")
    options = GeneratorOptions(
        default_schedule=default_schedule(args),
        mode=ExecutionMode(args.mode),
        health_checks=not args.no_health_checks,
        project_dir=project_dir(args, source),
        gcp_conn_id=args.gcp_conn_id,
        location=args.location,
        start_date=args.start_date,
    )
    started = time.monotonic()
    say(PROG, f"reading {args.project_type} project {source}")
    plan, result = generate_airflow_dags(
        args.project_type, source, args.output_dir, options, check=args.check, gateway=args.gateway
    )
    for warning in plan.warnings:
        say(PROG, f"warning: {warning}")
    dags = {
        d.dag_id: {"file": d.file_name, "schedule": d.schedule, "tasks": len(d.tasks)}
        for d in plan.dags
    }
    tasks = sum(len(d.tasks) for d in plan.dags)
    return report(
        PROG,
        args,
        result,
        {"dags": dags},
        f"{len(plan.dags)} DAGs, {tasks} tasks in {time.monotonic() - started:.1f}s",
    )


if __name__ == "__main__":
    sys.exit(main())
