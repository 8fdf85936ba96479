"""Read a SQLMesh project through `sqlmesh.Context` into a `Project`.

SQLMesh has no `meta`: SLA, freshness and criticality come from tags
`sla_hours:N`, `freshness_hours:N` and `critical` (quote them in MODEL blocks:
`tags ['sla_hours:2']`; unquoted, `sla_hours:2` parses to an empty tag).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

from sqlglot import exp

from orchestration_utils.errors import ProjectError
from orchestration_utils.project.dbt_manifest import MAX_HOURS
from orchestration_utils.project.model import (
    Column,
    Layer,
    Node,
    Partitioning,
    Project,
    ProjectKind,
    ResourceType,
    Test,
    build_project,
    infer_layer,
)
from orchestration_utils.project.schedule import GRANULARITIES, normalize_schedule

_NUMERIC_TAGS = ("sla_hours", "freshness_hours")


def load_sqlmesh_project(path: Path | str, gateway: str | None = None) -> Project:
    path = Path(path)
    if not path.is_dir():
        raise ProjectError(path, "SQLMesh project directory not found")
    if not any((path / name).exists() for name in ("config.yaml", "config.yml", "config.py")):
        raise ProjectError(path, "not a SQLMesh project (no config.yaml or config.py)")
    context = _open_context(path, gateway)
    nodes = [_node(path, model) for model in context.models.values()]
    return build_project(
        path.resolve().name, ProjectKind.SQLMESH, path, [*nodes, *_undeclared_externals(nodes)]
    )


def _undeclared_externals(nodes: list[Node]) -> list[Node]:
    """Tables models read that no model or `external_models.yaml` declares: SQLMesh loads them as
    external, so they are sources here too (lineage only)."""
    known = {n.unique_id for n in nodes}
    missing = sorted({up for n in nodes for up in n.depends_on} - known)
    sources = []
    for fqn in missing:
        table = exp.to_table(fqn)
        sources.append(
            Node(
                unique_id=fqn,
                name=".".join(p for p in (table.db, table.name) if p),
                resource_type=ResourceType.SOURCE,
                layer=Layer.RAW,
                database=table.catalog or None,
                schema=table.db or None,
                identifier=table.name,
                relation_name=fqn,
                depends_on=(),
                materialization="external",
                description="Read by the project without a declaration in external_models.yaml.",
            )
        )
    return sources


def _open_context(path: Path, gateway: str | None) -> Any:
    from sqlmesh import Context  # slow import (~1.5 s): only when a SQLMesh project is read

    logging.getLogger("sqlmesh").setLevel(logging.ERROR)
    cwd = os.getcwd()
    try:
        return Context(paths=[str(path)], gateway=gateway, load=True)
    except Exception as exc:  # noqa: BLE001 - SQLMesh raises many types; the user needs the message
        raise ProjectError(path, f"SQLMesh project does not load: {_cause(exc)}") from None
    finally:
        os.chdir(cwd)


def _cause(exc: BaseException | None) -> str:
    """The error and what caused it (`No module named 'faker'`, a missing seed file), on one line."""
    parts: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = " ".join(str(exc).split()) or type(exc).__name__
        # A worker process's error arrives with its remote stack as a cause: the message is enough.
        if type(exc).__name__ != "_RemoteTraceback" and not any(text in p for p in parts):
            parts.append(text)
        exc = exc.__cause__ or exc.__context__
    return ": ".join(parts)


def _node(path: Path, model: Any) -> Node:
    kind = model.kind.name.value if hasattr(model.kind.name, "value") else str(model.kind.name)
    schema, _, table = model.name.rpartition(".")
    schema = schema.split(".")[-1] if schema else None
    tags, numbers, critical = _split_tags(path, model.name, model.tags)
    if kind == "SEED":
        rtype, layer = ResourceType.SEED, Layer.RAW
    elif kind == "EXTERNAL":
        rtype, layer = ResourceType.SOURCE, Layer.RAW
    else:
        rtype = ResourceType.MODEL
        layer = infer_layer(table, [schema or ""])
        if layer == Layer.OTHER:
            layer = next(
                (Layer(t) for t in tags if t in {"staging", "intermediate", "marts"}), layer
            )
    try:
        schedule = normalize_schedule(model.cron, timezone=getattr(model.cron_tz, "key", None))
    except ValueError as exc:
        raise ProjectError(path, f"{model.name}: cron: {exc}") from None
    descriptions = model.column_descriptions or {}
    columns = tuple(
        Column(name=name, data_type=_type_name(dtype), description=descriptions.get(name, ""))
        for name, dtype in (model.columns_to_types or {}).items()
    )
    return Node(
        unique_id=model.fqn,
        name=model.name,
        resource_type=rtype,
        layer=layer,
        database=model.catalog,
        schema=schema,
        identifier=table,
        relation_name=model.fqn,
        depends_on=tuple(sorted(model.depends_on)),
        path=str(Path(model._path).relative_to(path.resolve())) if model._path else "",
        description=model.description or "",
        materialization=kind.lower(),
        schedule=schedule,
        sla_hours=numbers.get("sla_hours"),
        freshness_hours=numbers.get("freshness_hours"),
        critical=critical,
        owner=model.owner or None,
        tags=tags,
        partitioning=_partitioning(path, model, kind),
        columns=columns,
        tests=tuple(_audit(model, name, args) for name, args in model.audits),
    )


def _type_name(dtype: Any) -> str | None:
    name = dtype.sql() if dtype is not None else ""
    return None if name in {"", "UNKNOWN"} else name


def _split_tags(
    path: Path, model: str, raw: list[str]
) -> tuple[tuple[str, ...], dict[str, float], bool]:
    tags: list[str] = []
    numbers: dict[str, float] = {}
    critical = False
    for tag in raw:
        key, sep, value = tag.partition(":")
        if sep and key in _NUMERIC_TAGS:
            try:
                hours = float(value)
            except ValueError:
                hours = math.nan
            if not (math.isfinite(hours) and 0 < hours <= MAX_HOURS):
                raise ProjectError(
                    path,
                    f"{model}: tag {tag!r}: expected a positive number of hours up to {MAX_HOURS:g}",
                )
            numbers[key] = hours
        elif tag == "critical":
            critical = True
        else:
            tags.append(tag)
    return tuple(tags), numbers, critical


def _partitioning(path: Path, model: Any, kind: str) -> Partitioning | None:
    if kind != "INCREMENTAL_BY_TIME_RANGE":
        return None
    unit = model.interval_unit.value if model.interval_unit else "day"
    return Partitioning(
        field=model.kind.time_column.column.name,
        data_type="timestamp",
        granularity=unit if unit in GRANULARITIES else "day",
        start=_start_date(path, model),
    )


def _start_date(path: Path, model: Any) -> str | None:
    """The model's `start` as an ISO date, resolved as SQLMesh resolves it (`'1 week ago'` is a
    week before today)."""
    if not model.start:
        return None
    from sqlmesh.utils.date import to_ds

    try:
        return to_ds(model.start)
    except Exception:  # noqa: BLE001 - SQLMesh's date parser raises several types
        raise ProjectError(
            path, f"{model.name}: start {model.start!r}: not a date SQLMesh can resolve"
        ) from None


def _audit_column(args: dict[str, Any]) -> str | None:
    columns = args.get("columns")
    return (
        ",".join(c.name for c in columns.find_all(exp.Column)) or None
        if columns is not None
        else None
    )


def audit_test_id(model: Any, name: str, args: dict[str, Any]) -> str:
    """`<model fqn>#<audit>(<columns>)`: the id of an audit, at load and in run results alike."""
    column = _audit_column(args)
    return f"{model.fqn}#{name}" + (f"({column})" if column else "")


def _audit(model: Any, name: str, args: dict[str, Any]) -> Test:
    column = _audit_column(args)
    blocking = args.get("blocking")
    non_blocking = blocking is not None and blocking.sql().lower() == "false"
    return Test(
        unique_id=audit_test_id(model, name, args),
        name=name,
        test_type=name,
        column=column or None,
        severity="warn" if non_blocking else "error",
    )
