"""The one generation routine behind `dagster-asset-gen` and its Dagster job."""

from __future__ import annotations

import os
from pathlib import Path

from orchestration_utils.codegen.dagster.plan import DagsterPlan, plan_dagster
from orchestration_utils.codegen.dagster.render import render_dagster
from orchestration_utils.codegen.writer import WriteResult, write_files
from orchestration_utils.project.dbt_manifest import project_from_manifest, read_manifest
from orchestration_utils.project.loader import load_project, source_hash
from orchestration_utils.project.model import ProjectKind


def generate_dagster_package(
    project_type: ProjectKind | str,
    source: Path | str,
    output_dir: Path | str,
    *,
    project_dir: str,
    warehouse_url: str,
    default_schedule: str = "@daily",
    check: bool = False,
    gateway: str | None = None,
) -> tuple[DagsterPlan, WriteResult]:
    if project_type == ProjectKind.DBT:  # the manifest is read and validated once
        from orchestration_utils.dagster_assets.dbt import build_dbt_assets

        manifest = read_manifest(Path(source))
        project = project_from_manifest(manifest, Path(source))
        assets_defs = build_dbt_assets(Path(source), default_schedule, manifest, project)
    else:
        from orchestration_utils.dagster_assets.sqlmesh import build_sqlmesh_assets

        project = load_project(project_type, source, gateway=gateway)
        assets_defs = build_sqlmesh_assets(project, Path(source), default_schedule)
    output = Path(output_dir)
    plan = plan_dagster(
        project,
        assets_defs,
        project_dir=_from_output(project_dir, output),
        warehouse_url=warehouse_url,
        manifest=_from_output(source, output, absolute=False)
        if project.kind is ProjectKind.DBT
        else None,
    )
    files = render_dagster(plan, source_hash(project_type, source))
    return plan, write_files(output, files, check=check)


def _from_output(path: Path | str, output_dir: Path, *, absolute: bool = True) -> str:
    """A path as the package reads it: relative to the output directory, where `definitions.py`
    sits, so the package finds its project from any checkout and any working directory. An
    absolute project directory (where the code runs in a deployment) is kept as given."""
    if absolute and Path(path).is_absolute():
        return Path(path).as_posix()
    return Path(os.path.relpath(Path(path).resolve(), output_dir.resolve())).as_posix()
