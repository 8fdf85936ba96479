"""The one generation routine behind `airflow-dag-gen` and the Dagster job."""

from __future__ import annotations

from pathlib import Path

from orchestration_utils.codegen.airflow.plan import AirflowPlan, GeneratorOptions, plan_airflow
from orchestration_utils.codegen.airflow.render import TOOL, render_airflow
from orchestration_utils.codegen.writer import Owner, ProjectId, WriteResult, write_files
from orchestration_utils.project.loader import load_source


def generate_airflow_dags(
    project_type: str,
    source: Path | str,
    output_dir: Path | str,
    options: GeneratorOptions,
    *,
    check: bool = False,
    gateway: str | None = None,
) -> tuple[AirflowPlan, WriteResult]:
    loaded = load_source(project_type, source, gateway=gateway)  # a manifest is read once
    plan = plan_airflow(loaded.project, options)
    output = Path(output_dir)
    project = ProjectId.read_from(plan.kind, plan.project, source, output)
    files = render_airflow(plan, loaded.sha256, project)
    return plan, write_files(output, files, Owner(TOOL, project), check=check)
