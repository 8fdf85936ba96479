"""`orchestration-utils-demo`: build the embedded demo end to end on DuckDB and say where things are."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson

from orchestration_utils.settings import export_project_env, load_settings

EPILOG = """\
example:
  orchestration-utils-demo            # build the demo into .orchestration_utils/ (its DuckDB
                                      # file rebuilt; the Dagster instance keeps its history)

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
    # One "now" for every run of the demo: the dbt project dates its data relative to it (demo_time.sql).
    os.environ.setdefault(DEMO_NOW_ENV, datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"))
    # The demo's tables are rebuilt whole each time: its data is dated relative to this run, and an
    # old file would keep yesterday's partitions beside today's (the partitions check would fail).
    # Only the home's own file: a DuckDB file named by ORCHESTRATION_UTILS_DBT_DUCKDB is the user's.
    if settings.dbt_duckdb_path == settings.warehouse_dir / "shop.duckdb":
        for stale in (settings.dbt_duckdb_path, settings.warehouse_dir / "shop.duckdb.wal"):
            stale.unlink(missing_ok=True)
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
    for job_name in (
        "generate_airflow_dags_job",
        "generate_dagster_package_job",
        "health_checks_critical_job",
        "health_checks_job",
        "health_report_job",
        "sla_checks_job",
        "sla_report_job",
    ):
        _say(f"running {job_name}")
        if not _run(definitions, instance, job_name, log_path):
            failed.append(job_name)
    materialized = sum(
        1
        for spec in executable_specs(definitions)
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

        print("health of the demo tables (pipeline-health-monitor):")
        for line in human_summary(orjson.loads(health_report.read_bytes())):
            print(f"  {line}")
    if sla_report.exists():
        print("SLAs of the demo (sla-tracker):")
        summary = orjson.loads(sla_report.with_suffix(".json").read_bytes())
        for sla in summary["slas"]:
            print(f"  {sla['status']:8} {sla['name']} ({sla['subject']}): {sla['message']}")
    for line in verdict_lines(latest_check_statuses(definitions, instance)):
        print(line)
    if failed:
        print(f"failed jobs: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


DEMO_NOW_ENV = "ORCHESTRATION_UTILS_DEMO_NOW"
# What the demo data makes fail, by check (asset / check name), and why: everything else passes.
ON_PURPOSE = {
    "marts/fct_orders freshness": "stale on purpose: no order since yesterday 00:00 UTC (limit 24 h)",
    "marts/fct_orders sla_orders_fresh": "the critical SLA on that same freshness: it is what pages",
    "marts/fct_orders sla_orders_available": "availability of that freshness over the week (99%): "
    "no data yet on a new instance (a warning), under 99% once evaluations accumulate",
    "marts/dim_customers dim_customers_every_customer_has_ordered": "failing dbt test (severity warn): "
    "customer 12 signed up and never ordered",
    "marts/dim_products schema_drift": "additive schema change: units_sold is not in the health "
    "config's expected schema",
}


def latest_check_statuses(definitions, instance) -> dict[str, str]:
    """Each asset check's latest execution as the UI shows it: SUCCEEDED, FAILED, PLANNED (never
    ended: Skipped) or NONE (never ran), by "asset / check name"."""
    keys = list(definitions.resolve_asset_graph().asset_check_keys)
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    return {
        f"{key.asset_key.to_user_string()} {key.name}": latest[key].status.value
        if key in latest
        else "NONE"
        for key in keys
    }


def verdict_lines(statuses: Mapping[str, str]) -> list[str]:
    """The demo's first look: how many checks passed, what failed on purpose and why, and any
    other check that did not pass (a real problem of the demo)."""
    failed = sorted(k for k, status in statuses.items() if status == "FAILED")
    passed = sum(status == "SUCCEEDED" for status in statuses.values())
    on_purpose = sum(k in ON_PURPOSE for k in failed)
    lines = [
        f"asset checks: {passed} passed, {len(failed)} failed of {len(statuses)} ({on_purpose} on purpose)"
    ]
    lines += [f"  on purpose  {k}: {ON_PURPOSE[k]}" for k in failed if k in ON_PURPOSE]
    lines += [f"  UNEXPECTED  {k}: failed" for k in failed if k not in ON_PURPOSE]
    lines += [
        f"  UNEXPECTED  {k}: {'never ran' if statuses[k] == 'NONE' else 'skipped'}"
        for k in sorted(statuses)
        if statuses[k] in ("NONE", "PLANNED")
    ]
    lines += [
        f"  UNEXPECTED  {k}: passed, but the demo data should make it fail"
        for k in sorted(ON_PURPOSE)
        if statuses.get(k) == "SUCCEEDED"
    ]
    return lines


# The code location as workspace.yaml names it: `dagster dev` lists a job's runs by the run's
# repository label (`__repository__@<location>`), so the demo's runs must carry this origin.
MODULE_NAME = "orchestration_utils.definitions"
LOCATION_NAME = "orchestration_utils"


def _run_config(job_def) -> dict:
    """Runs are recorded in the instance (the UI shows them); the console gets warnings only. Steps
    run in this process: a run worker and a subprocess per step would each load the code location
    again (jobs whose executor is in-process already take no executor choice)."""
    import dagster as dg

    config: dict = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if job_def.executor_def.name == dg.multi_or_in_process_executor.name:
        config["execution"] = {"config": {"in_process": {}}}
    return config


def _run(definitions, instance, job_name: str, log_path, partition_key: str | None = None) -> bool:
    """Run one job of the code location as a run launched from the UI is recorded (the job's own
    snapshot, its code location origin, so the Jobs pages, run lists and timeline show it), and
    execute it here, where the definitions are already loaded."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.api import execute_run

    job_def = definitions.resolve_job_def(job_name)
    run = instance.create_run_for_job(
        job_def,
        run_config=_run_config(job_def),
        tags=job_def.get_tags_for_partition_key(partition_key, None) if partition_key else None,
        remote_job_origin=job_origin(job_name),
        job_code_origin=job_python_origin(job_name),
    )
    with log_path.open("a") as log, contextlib.redirect_stdout(log):
        result = execute_run(InMemoryJob(job_def), run, instance)
    if not result.success:
        _say(f"  {job_name} FAILED (run {result.run_id})")
    return result.success


def job_origin(job_name: str):
    """Where `dagster dev` (workspace.yaml) finds the job: the origin a UI launch records."""
    from dagster._core.definitions.repository_definition.valid_definitions import (
        SINGLETON_REPOSITORY_NAME,
    )
    from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.workspace.load import location_origin_from_module_name

    location = location_origin_from_module_name(
        MODULE_NAME, None, os.getcwd(), LOCATION_NAME, sys.executable
    )
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), job_name)


def job_python_origin(job_name: str):
    """How a run worker would load the job (what `dagster job launch` records)."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    repository = ReconstructableRepository.for_module(
        MODULE_NAME, "defs", working_directory=os.getcwd()
    )
    return repository.get_reconstructable_job(job_name).get_python_origin()


def _say(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
