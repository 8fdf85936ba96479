"""The code location's jobs and schedules over the assets other components build."""

import dagster as dg
from pydantic import Field

from orchestration_utils.components.attach import component_settings, defs_at
from orchestration_utils.components.errors import config_error
from orchestration_utils.dagster_defs.generators import build_codegen_defs
from orchestration_utils.dagster_defs.jobs import build_jobs
from orchestration_utils.dagster_defs.schedules import build_schedules
from orchestration_utils.errors import OrchestrationUtilsError


class LocationJobsComponent(dg.Component, dg.Model, dg.Resolvable):
    """One job per layer (and partitioning) of the assets `assets_from` folders build, their
    schedules, and the code generators' jobs (`generate_airflow_dags_job`, ...)."""

    assets_from: list[str] = Field(default_factory=lambda: ["dbt", "sqlmesh"])
    """Defs folders (relative to the defs root) whose assets the layer jobs and schedules cover."""
    generators: bool = True
    """Add the jobs that write Airflow DAGs and a Dagster package from the configured projects."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        try:
            assets = dg.Definitions.merge(
                *(defs_at(context, "assets_from", path) for path in self.assets_from)
            )
            parts = [build_jobs(assets), build_schedules(assets)]
            if self.generators:
                parts.append(build_codegen_defs(component_settings()))
        except OrchestrationUtilsError as exc:
            raise config_error(context, exc, ()) from None
        return dg.Definitions.merge(*parts)
