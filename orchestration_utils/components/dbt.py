"""dbt projects as components: dagster-dbt's `DbtProjectComponent` with this project's
translation, and the dbt part of the product's own code location."""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProjectComponent
from dagster_dbt.asset_utils import DBT_DEFAULT_EXCLUDE, DBT_DEFAULT_SELECT, DBT_DEFAULT_SELECTOR
from dagster_dbt.components.dbt_project.component import DagsterDbtComponentTranslatorSettings

from orchestration_utils.components.attach import component_settings, schedule_attribute
from orchestration_utils.components.errors import BadAttribute, config_error
from orchestration_utils.dagster_assets.dbt import build_dbt_assets, source_freshness_specs
from orchestration_utils.dagster_defs.dbt_project import DBT_EXECUTABLE, load_dbt_defs
from orchestration_utils.errors import OrchestrationUtilsError
from orchestration_utils.project.dbt_manifest import read_manifest
from orchestration_utils.settings import export_project_env


@dataclass
class DbtProjectWithMetadataComponent(DbtProjectComponent):
    """dagster-dbt's `DbtProjectComponent` (same `project`, preparation and state), whose assets
    carry what this project reads from each node's `meta` and config: layer groups, owners,
    partitions, freshness policies, automation conditions, schedules, dbt tests as checks, and
    sources' dbt freshness for the health checks. One `@dbt_assets` per layer, schedule and
    partitioning; each run builds its selected nodes with `dbt build` (row counts and column
    metadata fetched), so the base component's `select`, `exclude`, `selector`, `cli_args`, `op`,
    `include_metadata`, `translation` and `translation_settings` have no place here: one of them
    set is refused in one line rather than ignored (the project's `meta` is read instead)."""

    default_schedule: str = "@daily"
    """The schedule of nodes whose `meta` names none."""

    def build_defs_from_state(
        self, context: dg.ComponentLoadContext, state_path: Path | None
    ) -> dg.Definitions:
        try:
            self._refuse_unread_attributes()
            default_schedule = schedule_attribute(self.default_schedule) or "@daily"
            project = self._project_manager.get_project(state_path)
            manifest_path = Path(project.manifest_path)
            manifest = read_manifest(manifest_path)
            assets: list[dg.AssetsDefinition | dg.AssetSpec] = [
                *build_dbt_assets(manifest_path, default_schedule, manifest),
                *source_freshness_specs(manifest, manifest_path),
            ]
        except OrchestrationUtilsError as exc:
            raise config_error(context, exc, ("project",)) from None
        return dg.Definitions(
            assets=assets,
            resources={"dbt": DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)},
        )

    def _refuse_unread_attributes(self) -> None:
        for name, default in _UNREAD_DEFAULTS.items():
            if getattr(self, name) != default:
                raise BadAttribute(
                    (name,),
                    "not read by DbtProjectWithMetadataComponent (its assets are one op per"
                    " layer, schedule and partitioning, each running `dbt build` on its nodes):"
                    " remove it, or use dagster-dbt's DbtProjectComponent",
                )


# The base component's attributes this one does not read, with the values meaning "unset".
_UNREAD_DEFAULTS: dict[str, object] = {
    "select": DBT_DEFAULT_SELECT,
    "exclude": DBT_DEFAULT_EXCLUDE,
    "selector": DBT_DEFAULT_SELECTOR,
    "cli_args": ["build"],
    "op": None,
    "include_metadata": [],
    "translation": None,
    "translation_settings": DagsterDbtComponentTranslatorSettings(),
}


class LocationDbtComponent(dg.Component, dg.Model, dg.Resolvable):
    """The dbt project the `ORCHESTRATION_UTILS_*` settings name (the embedded demo's by default),
    exactly as `orchestration_utils.definitions` builds it: the manifest read once per process,
    refused with one line when it comes from another project."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        settings = component_settings()
        export_project_env(settings)
        if not (settings.dbt_project_dir or settings.dbt_manifest_path):
            return dg.Definitions()
        try:
            return load_dbt_defs(settings)
        except OrchestrationUtilsError as exc:
            raise config_error(context, exc, ()) from None
