"""`orchestration-utils-demo`: build the embedded demo end to end on DuckDB and say where things are."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

import orjson

from orchestration_utils.settings import export_project_env, load_settings

EPILOG = """\
example:
  orchestration-utils-demo            # build the demo into .orchestration_utils/

exit codes: 0 everything materialized, 1 a run failed, 2 bad usage
"""


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="orchestration-utils-demo",
        description="Materialize the demo dbt and SQLMesh projects into DuckDB through the code location, "
        "recording runs in a local Dagster instance, and generate Airflow DAGs and a Dagster package from it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    settings = load_settings()
    export_project_env(settings)
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    dagster_yaml = settings.dagster_home / "dagster.yaml"
    if not dagster_yaml.exists():  # this machine may have no network: no telemetry calls
        dagster_yaml.write_text("telemetry:\n  enabled: false\n")
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home))

    import dagster as dg  # after DAGSTER_HOME is set

    from orchestration_utils.dagster_defs.jobs import executable_specs, layer_jobs_in_order
    from orchestration_utils.definitions import defs

    started = time.monotonic()
    _say("loading the code location")
    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    instance = dg.DagsterInstance.get()
    log_path = settings.home / "demo.log"  # dbt's output; the runs are in the instance too
    log_path.write_text("")
    failed = []
    for job_name, partitions_def in layer_jobs_in_order(definitions):
        partition_key = partitions_def.get_last_partition_key() if partitions_def else None
        _say(f"running {job_name}" + (f" for partition {partition_key}" if partition_key else ""))
        if not _run(definitions, instance, job_name, log_path, partition_key):
            failed.append(job_name)
    for job_name in ("generate_airflow_dags_job", "generate_dagster_package_job", "health_checks_critical_job",
                     "health_checks_job", "health_report_job", "sla_checks_job", "sla_report_job"):
        _say(f"running {job_name}")
        if not _run(definitions, instance, job_name, log_path):
            failed.append(job_name)
    materialized = sum(
        1 for spec in executable_specs(definitions)
        if instance.get_latest_materialization_event(spec.key) is not None
    )
    total = len(executable_specs(definitions))
    print(f"demo assets materialized: {materialized}/{total} in {time.monotonic() - started:.1f}s")
    print(f"  DuckDB warehouse:  {settings.dbt_duckdb_path}")
    print(f"  dbt manifest:      {settings.dbt_target_dir / 'manifest.json'}")
    print(f"  Dagster instance:  {settings.dagster_home}")
    print(f"  dbt output:        {log_path}")
    print(f"  Airflow DAGs:      {settings.artifacts_dir / 'airflow_dags' / 'dbt'}")
    print(f"  Dagster package:   {settings.artifacts_dir / 'dagster_package' / 'dbt'}")
    health_report = settings.artifacts_dir / "health" / "health-report.json"
    sla_report = settings.artifacts_dir / "sla" / "sla-report.md"
    print(f"  health report:     {health_report}")
    print(f"  SLA report:        {sla_report}")
    print(f"  open the UI:       DAGSTER_HOME={settings.dagster_home} .venv/bin/dagster dev")
    if health_report.exists():
        from orchestration_utils.health.report import human_summary

        # The demo's seed data is from January 2026, so freshness and partition checks fail on purpose.
        print("health of the demo tables (pipeline-health-monitor):")
        for line in human_summary(orjson.loads(health_report.read_bytes())):
            print(f"  {line}")
    if sla_report.exists():
        print("SLAs of the demo (sla-tracker):")
        summary = orjson.loads(sla_report.with_suffix(".json").read_bytes())
        for sla in summary["slas"]:
            print(f"  {sla['status']:8} {sla['name']} ({sla['subject']}): {sla['message']}")
    if failed:
        print(f"failed jobs: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


# Runs are recorded in the instance (the UI shows them); the console gets warnings only.
_QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _run(definitions, instance, job_name: str, log_path, partition_key: str | None = None) -> bool:
    with log_path.open("a") as log, contextlib.redirect_stdout(log):
        result = definitions.resolve_job_def(job_name).execute_in_process(
            instance=instance, partition_key=partition_key, raise_on_error=False, run_config=_QUIET
        )
    if not result.success:
        _say(f"  {job_name} FAILED (run {result.run_id})")
    return result.success


def _say(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
