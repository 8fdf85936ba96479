"""A SQLMesh project as a component: the assets `orchestration_utils.definitions` builds from it."""

import dagster as dg

from orchestration_utils.components.attach import (
    component_path,
    component_settings,
    schedule_attribute,
)
from orchestration_utils.components.errors import config_error
from orchestration_utils.dagster_defs.sqlmesh_project import load_sqlmesh_defs
from orchestration_utils.errors import OrchestrationUtilsError
from orchestration_utils.settings import export_project_env


class SqlmeshProjectComponent(dg.Component, dg.Model, dg.Resolvable):
    """A SQLMesh project's models as assets (layers, owners, cron schedules, partitions) with their
    audits as checks; a run applies the selected models through `sqlmesh run`."""

    project_dir: str | None = None
    """The SQLMesh project, relative to this `defs.yaml`; unset: the
    `ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR` setting (the embedded demo's by default; empty: none)."""
    default_schedule: str | None = None
    """The schedule of models whose metadata names none; unset: `ORCHESTRATION_UTILS_DEFAULT_SCHEDULE`."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        try:
            settings = component_settings(
                sqlmesh_project_dir=component_path(context, self.project_dir)
                if self.project_dir
                else None,
                default_schedule=schedule_attribute(self.default_schedule),
            )
            export_project_env(settings)
            if settings.sqlmesh_project_dir is None:
                return dg.Definitions()
            return load_sqlmesh_defs(settings)
        except OrchestrationUtilsError as exc:
            raise config_error(context, exc, ("project_dir",)) from None
