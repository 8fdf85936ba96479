"""Health checks and SLAs as components that attach to assets defined anywhere in the project:
by table name (the `dagster/table_name` of the assets that `assets_from` folders build) or by key
(`asset_keys`). Tables matched by neither become observed warehouse assets of their own."""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from orchestration_utils.components.attach import (
    AttachesChecks,
    attached_assets,
    component_path,
    component_settings,
    defs_at,
    refuse_unknown_tables,
)
from orchestration_utils.components.errors import ComponentConfigError, config_error
from orchestration_utils.dagster_defs.health import build_health_defs, dbt_freshness_tables
from orchestration_utils.dagster_defs.resources import artifacts_resource
from orchestration_utils.dagster_defs.sla import build_sla_defs
from orchestration_utils.errors import OrchestrationUtilsError
from orchestration_utils.health.config import load_health_config
from orchestration_utils.settings import Settings
from orchestration_utils.sla.config import CompletionSla, load_sla_config


class HealthChecksComponent(AttachesChecks, dg.Component, dg.Model, dg.Resolvable):
    """Health checks of a health config (`pipeline-health-monitor`'s file): asset checks on the
    assets holding its tables, a schedule per criticality and `health_report_job`."""

    config: str | None = Field(default=None, min_length=1)
    """The health config file (JSON), relative to this `defs.yaml`; unset: the
    `ORCHESTRATION_UTILS_HEALTH_CONFIG` setting (the demo's config on the demo project)."""
    assets_from: list[str] = Field(default_factory=list)
    """Defs folders (relative to the defs root) whose assets get the checks of the tables they hold."""
    asset_keys: dict[str, str] = Field(default_factory=dict)
    """Table id -> asset key (`a/b`) of an asset defined anywhere in the project (plain Python
    files too)."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        try:
            settings = component_settings(
                health_config_path=component_path(context, self.config) if self.config else None
            )
            attached = attached_assets(context, self.assets_from, self.asset_keys)
            if self.asset_keys:
                path = settings.health_config_path
                tables = [t.table_id for t in load_health_config(path).tables] if path else []
                tables += [t.table_id for t in dbt_freshness_tables(attached)[0]]
                refuse_unknown_tables(self.asset_keys, tables, str(path or "the health config"))
            health = build_health_defs(settings, attached)
        except OrchestrationUtilsError as exc:
            raise _config_error(
                context, exc, self.config, "ORCHESTRATION_UTILS_HEALTH_CONFIG"
            ) from None
        return _with_artifacts(health, settings)


class SlaComponent(AttachesChecks, dg.Component, dg.Model, dg.Resolvable):
    """SLAs of an SLA config (`sla-tracker`'s file): a check per SLA on its table's asset (or a
    `pipelines/<job>` asset), `sla_sensor` with `sla_evaluation_job` (evaluate, record, alert), the
    run-failure alert sensor and the scheduled `sla_report_job`."""

    config: str | None = Field(default=None, min_length=1)
    """The SLA config file, relative to this `defs.yaml`; unset: `ORCHESTRATION_UTILS_SLA_CONFIG`."""
    assets_from: list[str] = Field(default_factory=list)
    """Defs folders whose assets get the SLAs of the tables they hold."""
    asset_keys: dict[str, str] = Field(default_factory=dict)
    """Table id -> asset key (`a/b`) of an asset defined anywhere in the project."""
    health: str | None = Field(default=None, min_length=1)
    """The defs folder of a health-checks component: the warehouse tables it already observes are
    reused, not defined twice."""

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        try:
            settings = component_settings(
                sla_config_path=component_path(context, self.config) if self.config else None
            )
            health = defs_at(context, "health", self.health) if self.health else dg.Definitions()
            attached = attached_assets(context, self.assets_from, self.asset_keys, health)
            if self.asset_keys:
                path = settings.sla_config_path
                slas = load_sla_config(path).slas if path else ()
                tables = [s.table_id for s in slas if not isinstance(s, CompletionSla)]
                refuse_unknown_tables(self.asset_keys, tables, str(path or "the SLA config"))
            sla = build_sla_defs(settings, attached, health)
        except OrchestrationUtilsError as exc:
            raise _config_error(
                context, exc, self.config, "ORCHESTRATION_UTILS_SLA_CONFIG"
            ) from None
        return _with_artifacts(sla, settings)


def _config_error(
    context: dg.ComponentLoadContext, exc: OrchestrationUtilsError, config: str | None, var: str
) -> ComponentConfigError:
    """Under the `config` attribute when it names the file. Unset, the file came from `var`: an
    error in that file names the variable, not an attribute the `defs.yaml` does not have."""
    if config is not None:
        return config_error(context, exc, ("config",))
    source = os.environ.get(var)
    if source and str(exc).startswith(str(Path(source).resolve())):
        return ComponentConfigError(context, (), f"{var}={exc}")
    return config_error(context, exc, ())


def _with_artifacts(defs: dg.Definitions, settings: Settings) -> dg.Definitions:
    """The report jobs write through `artifacts` (the one resource object every part binds)."""
    if not defs.jobs:
        return defs
    resource = artifacts_resource(str(settings.artifacts_dir), settings.artifacts_url)
    return dg.Definitions.merge(defs, dg.Definitions(resources={"artifacts": resource}))
