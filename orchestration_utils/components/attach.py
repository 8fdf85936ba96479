"""What a component reads around it: the settings (with its own overrides), paths relative to its
`defs.yaml`, and the assets it attaches checks to, wherever in the project they are defined."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path

import dagster as dg
from dagster.components.core.decl import ComponentDecl, PythonFileDecl, YamlDecl
from dagster.components.core.defs_module import ComponentPath

from orchestration_utils.components.errors import BadAttribute
from orchestration_utils.dagster_defs.health import asset_specs
from orchestration_utils.project.schedule import normalize_schedule
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


def schedule_attribute(value: str | None) -> str | None:
    """A `default_schedule` attribute, normalized (`daily` -> `@daily`): a value no schedule reads
    is refused here, where its node-less default would otherwise be taken silently."""
    if value is None:
        return None
    try:
        return normalize_schedule(value)
    except ValueError as exc:
        raise BadAttribute(("default_schedule",), str(exc)) from None


def defs_at(context: dg.ComponentLoadContext, attribute: str, path: str) -> dg.Definitions:
    """The definitions of a defs folder or file named in `defs.yaml` (relative to the defs root)."""
    target = (context.defs_module_path / path).resolve()
    if target not in {loc.file_path.resolve() for loc, _ in _declared(context)}:
        what = "holds no component or definitions" if target.exists() else "does not exist"
        raise BadAttribute((attribute,), f"{path!r} {what} under {context.defs_module_path}")
    return context.build_defs(path)


def _declared(context: dg.ComponentLoadContext) -> list[tuple[ComponentPath, ComponentDecl]]:
    """Every folder, file and component of the defs folder, as Dagster declared them."""
    root = context.component_tree.find_decl_at_path(context.defs_module_path)
    return [
        (loc, decl)
        for loc, decl in root.iterate_loc_component_decl_pairs()
        if isinstance(loc, ComponentPath)
    ]


def attached_assets(
    context: dg.ComponentLoadContext,
    assets_from: Sequence[str],
    asset_keys: Mapping[str, str],
    also_defined: dg.Definitions | None = None,
) -> dg.Definitions:
    """The assets checks may attach to, for lookup only (never returned as definitions): those the
    `assets_from` defs folders build, matched to configured tables by their `dagster/table_name`,
    and the `asset_keys` named in `defs.yaml` (table id -> asset key), which win over a match.
    An `asset_keys` key must be an asset of the project (or of `also_defined`): a typo would
    otherwise check a stub asset Dagster makes up for it, which never materializes."""
    parts = [defs_at(context, "assets_from", path) for path in assets_from]
    keys: dict[str, dg.AssetKey] = {}
    for table_id, written in asset_keys.items():
        if not written.strip():
            raise BadAttribute(("asset_keys", table_id), "empty key")
        keys[table_id] = dg.AssetKey.from_user_string(written)
    defined = project_asset_keys(context) if keys else None
    if defined is not None:
        defined |= {spec.key for spec in asset_specs(also_defined or dg.Definitions())}
        for table_id, key in keys.items():
            if key not in defined:
                raise BadAttribute(("asset_keys", table_id), _unknown_key(key, defined, context))
    named = [dg.AssetSpec(key, metadata={"dagster/table_name": t}) for t, key in keys.items()]
    return dg.Definitions.merge(*parts, dg.Definitions(assets=named))


def _unknown_key(
    key: dg.AssetKey, defined: set[dg.AssetKey], context: dg.ComponentLoadContext
) -> str:
    names = sorted(k.to_user_string() for k in defined)
    close = difflib.get_close_matches(key.to_user_string(), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"no asset {key.to_user_string()!r} in {context.defs_module_path}{hint}"


def refuse_unknown_tables(
    asset_keys: Mapping[str, str], tables: Iterable[str], config: str
) -> None:
    """Each `asset_keys` table id must be a table of the component's config (compared as the
    config's tables are matched to assets: lower-case, without quotes): a typo would otherwise
    give the checks to a stub warehouse asset while the named asset gets none."""
    known = {_table_key(t): t for t in tables}
    for table_id in asset_keys:
        if _table_key(table_id) not in known:
            close = difflib.get_close_matches(table_id.lower(), sorted(known), n=1)
            hint = f" (did you mean {known[close[0]]!r}?)" if close else ""
            raise BadAttribute(("asset_keys", table_id), f"no table {table_id!r} in {config}{hint}")


def _table_key(table_id: str) -> str:
    return table_id.replace("`", "").replace('"', "").lower()


class AttachesChecks:
    """A component that adds checks to assets defined elsewhere (health, SLA): never built to
    find the project's assets, which it may itself be looking up."""


_SCANNING: ContextVar[bool] = ContextVar("scanning_project_assets", default=False)


def project_asset_keys(context: dg.ComponentLoadContext) -> set[dg.AssetKey] | None:
    """The keys of the assets every component and Python file of the defs folder defines, except
    the health and SLA components (they add checks, and observed tables no key should name). Each
    is built through the component tree, which keeps what it built for the whole load. None while
    another scan runs: a component the scan builds built a health or SLA component in turn."""
    if _SCANNING.get():
        return None
    token = _SCANNING.set(True)
    try:
        keys: set[dg.AssetKey] = set()
        for loc, decl in _declared(context):
            if isinstance(decl, PythonFileDecl) or (
                isinstance(decl, YamlDecl) and not issubclass(decl.component_type, AttachesChecks)
            ):
                keys |= {spec.key for spec in asset_specs(context.build_defs(loc))}
        return keys
    finally:
        _SCANNING.reset(token)
