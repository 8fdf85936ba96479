"""The code location's SQLMesh project (`ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR`), read once per process."""

import functools
from pathlib import Path

import dagster as dg

from orchestration_utils.dagster_assets.sqlmesh import build_sqlmesh_assets
from orchestration_utils.project.sqlmesh_project import load_sqlmesh_project
from orchestration_utils.settings import Settings


@functools.cache
def load_sqlmesh_defs(settings: Settings) -> dg.Definitions:
    project = load_sqlmesh_project(settings.sqlmesh_project_dir)
    return dg.Definitions(
        assets=build_sqlmesh_assets(
            project, Path(settings.sqlmesh_project_dir), settings.default_schedule
        )
    )
