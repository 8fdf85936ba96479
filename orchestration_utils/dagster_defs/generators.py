"""Code generation as Dagster jobs: launch from the UI or `dagster job execute`, files land in
the artifacts directory configured on a resource, and every run records what it wrote."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from orchestration_utils.codegen.airflow.plan import (
    BIGQUERY_MODE_DBT_ONLY,
    ExecutionMode,
    GeneratorOptions,
)
from orchestration_utils.dagster_defs.resources import (
    ArtifactsResource,
    artifacts_resource,
    publish,
)
from orchestration_utils.project.model import ProjectKind
from orchestration_utils.project.schedule import normalize_schedule
from orchestration_utils.settings import Settings

_PROJECT_TYPE = "dbt or sqlmesh; empty: the configured project (dbt when both are configured)"
_SCHEDULE = "for models that set none: daily, hourly, a cron...; empty: ORCHESTRATION_UTILS_DEFAULT_SCHEDULE"


class DagsterGenConfig(dg.Config):
    project_type: str = Field(default="", description=_PROJECT_TYPE)
    schedule: str = Field(default="", description=_SCHEDULE)


class AirflowGenConfig(dg.Config):
    project_type: str = Field(default="", description=_PROJECT_TYPE)
    schedule: str = Field(default="", description=_SCHEDULE)
    mode: str = Field(
        default="dbt", description="dbt (`dbt build` per model) or bigquery (BigQuery operators)"
    )
    health_checks: bool = True


def build_codegen_defs(settings: Settings) -> dg.Definitions:
    @dg.op(description="Write static Airflow 3 DAGs for the configured dbt or SQLMesh project.")
    def write_airflow_dags(
        context: dg.OpExecutionContext, config: AirflowGenConfig, artifacts: ArtifactsResource
    ):
        from orchestration_utils.codegen.airflow.generate import generate_airflow_dags

        kind = project_kind(settings, config.project_type)
        source, project_dir = project_source(settings, kind)
        mode = config.mode.strip().lower()  # as a user types it, like project_type
        if mode not in set(ExecutionMode):
            raise dg.Failure(
                f"config mode: {config.mode[:80]!r}: expected one of {', '.join(ExecutionMode)}"
            )
        if mode == ExecutionMode.BIGQUERY and kind == ProjectKind.SQLMESH:
            raise dg.Failure(f"config mode: 'bigquery': {BIGQUERY_MODE_DBT_ONLY}")
        options = GeneratorOptions(
            default_schedule=default_schedule(settings, config.schedule),
            mode=ExecutionMode(mode),
            health_checks=config.health_checks,
            project_dir=project_dir,
        )
        out = artifacts.subdir("airflow_dags", kind)
        plan, result = generate_airflow_dags(kind, source, out, options)
        for warning in plan.warnings:
            context.log.warning(warning)
        context.log.info(
            f"{len(result.written)} written, {len(result.unchanged)} unchanged, {len(result.removed)} removed in {out}"
        )
        context.add_output_metadata(
            {
                "output_dir": dg.MetadataValue.path(str(out)),
                "files_written": dg.MetadataValue.json(result.written),
                "files_unchanged": dg.MetadataValue.json(result.unchanged),
                "files_removed": dg.MetadataValue.json(result.removed),
                "dag_count": len(plan.dags),
                "task_count": sum(len(d.tasks) for d in plan.dags),
                **publish(artifacts, out, f"airflow_dags/{kind}"),
            }
        )
        return str(out)

    # One op each: in process, so a run loads the code location once, not again per step.
    @dg.job(
        description="Generate Airflow DAGs from the project (see the op config for options).",
        executor_def=dg.in_process_executor,
    )
    def generate_airflow_dags_job():
        write_airflow_dags()

    @dg.op(
        description="Write a standalone Dagster package for the configured dbt or SQLMesh project."
    )
    def write_dagster_package(
        context: dg.OpExecutionContext, config: DagsterGenConfig, artifacts: ArtifactsResource
    ):
        from orchestration_utils.codegen.dagster.generate import generate_dagster_package

        kind = project_kind(settings, config.project_type)
        source, project_dir = project_source(settings, kind)
        warehouse = (
            settings.dbt_duckdb_path if kind == ProjectKind.DBT else settings.sqlmesh_duckdb_path
        )
        out = artifacts.subdir("dagster_package", kind)
        plan, result = generate_dagster_package(
            kind,
            source,
            out,
            project_dir=project_dir,
            warehouse_url=f"duckdb:///{warehouse}",
            default_schedule=default_schedule(settings, config.schedule),
        )
        context.add_output_metadata(
            {
                "output_dir": dg.MetadataValue.path(str(out)),
                "files_written": dg.MetadataValue.json(result.written),
                "files_unchanged": dg.MetadataValue.json(result.unchanged),
                "files_removed": dg.MetadataValue.json(result.removed),
                "asset_count": sum(len(g.assets) for g in plan.groups),
                **publish(artifacts, out, f"dagster_package/{kind}"),
            }
        )
        return str(out)

    @dg.job(
        description="Generate a standalone Dagster package from the project.",
        executor_def=dg.in_process_executor,
    )
    def generate_dagster_package_job():
        write_dagster_package()

    return dg.Definitions(
        jobs=[generate_airflow_dags_job, generate_dagster_package_job],
        resources={
            "artifacts": artifacts_resource(str(settings.artifacts_dir), settings.artifacts_url)
        },
    )


def project_kind(settings: Settings, project_type: str) -> ProjectKind:
    """The op config's `project_type` (any case); empty: the configured project (dbt when both
    are)."""
    configured = {
        ProjectKind.DBT: bool(settings.dbt_project_dir or settings.dbt_manifest_path),
        ProjectKind.SQLMESH: bool(settings.sqlmesh_project_dir),
    }
    project_type = project_type.strip().lower()
    if not project_type:
        for kind, on in configured.items():
            if on:
                return kind
        raise dg.Failure(
            "no project configured: set ORCHESTRATION_UTILS_DBT_PROJECT_DIR or "
            "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR"
        )
    if project_type not in set(ProjectKind):
        raise dg.Failure(f"config project_type: {project_type[:80]!r}: expected dbt or sqlmesh")
    kind = ProjectKind(project_type)
    if not configured[kind]:
        variable = f"ORCHESTRATION_UTILS_{kind.upper()}_PROJECT_DIR"
        raise dg.Failure(
            f"config project_type: {kind}: no {kind} project configured ({variable} is empty)"
        )
    return kind


def default_schedule(settings: Settings, schedule: str) -> str:
    """The op config's `schedule` (empty: the location's default), normalized."""
    try:
        return normalize_schedule(schedule) if schedule.strip() else settings.default_schedule
    except ValueError as exc:
        raise dg.Failure(f"config schedule: {exc}") from None


def project_source(settings: Settings, kind: ProjectKind) -> tuple[Path, str]:
    """The configured project's source and its directory (what generated code runs in); `kind`
    is configured (`project_kind`)."""
    if kind == ProjectKind.DBT:
        from orchestration_utils.dagster_defs.dbt_project import ensure_manifest  # dagster-dbt

        return ensure_manifest(settings), str(settings.dbt_project_dir or ".")
    assert settings.sqlmesh_project_dir is not None
    return settings.sqlmesh_project_dir, str(settings.sqlmesh_project_dir)
