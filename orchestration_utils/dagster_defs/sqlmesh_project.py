"""The SQLMesh project the code location loads, read once per process."""

import functools
from pathlib import Path

import dagster as dg

from orchestration_utils.dagster_assets.sqlmesh import build_sqlmesh_assets
from orchestration_utils.dagster_defs.project_cache import cached_project
from orchestration_utils.project.model import Project
from orchestration_utils.settings import Settings


@functools.cache
def load_sqlmesh_defs(settings: Settings) -> dg.Definitions:
    """The project model comes from the home's cache when the project is unchanged
    (project_cache.py): a run's worker then builds its definitions without SQLMesh."""
    assert settings.sqlmesh_project_dir is not None  # definitions.py loads SQLMesh only when set
    project = cached_project(
        Path(settings.sqlmesh_project_dir), settings.home / "cache" / "sqlmesh", _read_project
    )
    return dg.Definitions(
        assets=build_sqlmesh_assets(
            project, Path(settings.sqlmesh_project_dir), settings.default_schedule
        )
    )


def _read_project(project_dir: Path) -> Project:
    from orchestration_utils.project.sqlmesh_project import load_sqlmesh_project  # imports sqlglot

    return load_sqlmesh_project(project_dir)
