"""What a component reads around it: the settings (with its own overrides), paths relative to its
`defs.yaml`, and the assets it attaches checks to, wherever in the project they are defined."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg

from orchestration_utils.errors import ProjectError
from orchestration_utils.settings import Settings, load_settings


def component_path(context: dg.ComponentLoadContext, value: str) -> Path:
    """A path of `defs.yaml`: absolute, or relative to the folder holding that `defs.yaml`."""
    return (context.path / value).resolve()


def component_settings(
    *,
    sqlmesh_project_dir: Path | None = None,
    default_schedule: str | None = None,
    health_config_path: Path | None = None,
    sla_config_path: Path | None = None,
) -> Settings:
    """The `ORCHESTRATION_UTILS_*` settings, with what the component's attributes set (not None)
    instead."""
    settings = load_settings()
    return dataclasses.replace(
        settings,
        sqlmesh_project_dir=settings.sqlmesh_project_dir
        if sqlmesh_project_dir is None
        else sqlmesh_project_dir,
        default_schedule=settings.default_schedule
        if default_schedule is None
        else default_schedule,
        health_config_path=settings.health_config_path
        if health_config_path is None
        else health_config_path,
        sla_config_path=settings.sla_config_path if sla_config_path is None else sla_config_path,
    )


def attached_assets(
    context: dg.ComponentLoadContext,
    assets_from: Sequence[str],
    asset_keys: Mapping[str, str],
) -> dg.Definitions:
    """The assets checks may attach to, for lookup only (never returned as definitions): those the
    `assets_from` defs folders build, matched to configured tables by their `dagster/table_name`,
    and the `asset_keys` named in `defs.yaml` (table id -> asset key), which win over a match."""
    for path in assets_from:
        if not (context.defs_module_path / path).exists():
            raise ProjectError(
                context.path / "defs.yaml",
                f"assets_from: {path!r} is no folder or file under {context.defs_module_path}",
            )
    parts = [context.build_defs(path) for path in assets_from]
    named = []
    for table_id, key in asset_keys.items():
        if not key.strip():
            raise ProjectError(context.path / "defs.yaml", f"asset_keys.{table_id}: empty key")
        named.append(
            dg.AssetSpec(
                dg.AssetKey.from_user_string(key), metadata={"dagster/table_name": table_id}
            )
        )
    return dg.Definitions.merge(*parts, dg.Definitions(assets=named))
