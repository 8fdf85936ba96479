"""Read a SQLMesh project through `sqlmesh.Context` into a `Project`.

SQLMesh has no `meta`: SLA, freshness and criticality come from tags
`sla_hours:N`, `freshness_hours:N` and `critical` (quote them in MODEL blocks:
`tags ['sla_hours:2']`; unquoted, `sla_hours:2` parses to an empty tag).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlglot import exp

from orchestration_utils.project.model import (
    Column,
    Layer,
    Node,
    Partitioning,
    Project,
    ProjectError,
    ResourceType,
    Test,
    build_project,
    infer_layer,
)
from orchestration_utils.project.schedule import normalize_schedule

_GRANULARITY = {"HOUR": "hour", "DAY": "day", "MONTH": "month", "YEAR": "year"}
_NUMERIC_TAGS = ("sla_hours", "freshness_hours")


def load_sqlmesh_project(path: Path | str, gateway: str | None = None) -> Project:
    path = Path(path)
    if not path.is_dir():
        raise ProjectError(path, "SQLMesh project directory not found")
    if not any((path / name).exists() for name in ("config.yaml", "config.yml", "config.py")):
        raise ProjectError(path, "not a SQLMesh project (no config.yaml or config.py)")
    context = _open_context(path, gateway)
    nodes = [_node(path, model) for model in context.models.values()]
    return build_project(path.resolve().name, "sqlmesh", path, nodes)


def _open_context(path: Path, gateway: str | None) -> Any:
    from sqlmesh import Context  # slow import (~1.5 s): only when a SQLMesh project is read

    logging.getLogger("sqlmesh").setLevel(logging.ERROR)
    cwd = os.getcwd()
    try:
        return Context(paths=[str(path)], gateway=gateway, load=True)
    except Exception as exc:  # SQLMesh raises many types; the user needs the message, not the stack
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ProjectError(path, f"SQLMesh project does not load: {first_line}") from None
    finally:
        os.chdir(cwd)


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
            layer = next((Layer(t) for t in tags if t in {"staging", "intermediate", "marts"}), layer)
    try:
        schedule = normalize_schedule(model.cron)
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
        partitioning=_partitioning(model, kind),
        columns=columns,
        tests=tuple(_audit(model, name, args) for name, args in model.audits),
    )


def _type_name(dtype: Any) -> str | None:
    name = dtype.sql() if dtype is not None else ""
    return None if name in {"", "UNKNOWN"} else name


def _split_tags(path: Path, model: str, raw: list[str]) -> tuple[tuple[str, ...], dict[str, float], bool]:
    tags: list[str] = []
    numbers: dict[str, float] = {}
    critical = False
    for tag in raw:
        key, sep, value = tag.partition(":")
        if sep and key in _NUMERIC_TAGS:
            try:
                numbers[key] = float(value)
            except ValueError:
                raise ProjectError(path, f"{model}: tag {tag!r}: expected {key}:<hours>") from None
        elif tag == "critical":
            critical = True
        else:
            tags.append(tag)
    return tuple(tags), numbers, critical


def _partitioning(model: Any, kind: str) -> Partitioning | None:
    if kind != "INCREMENTAL_BY_TIME_RANGE":
        return None
    unit = model.interval_unit.name if model.interval_unit else "DAY"
    start = model.start
    return Partitioning(
        field=model.kind.time_column.column.name,
        data_type="timestamp",
        granularity=_GRANULARITY.get(unit, "day"),
        start=str(start) if start else None,
    )


def _audit(model: Any, name: str, args: dict[str, Any]) -> Test:
    columns = args.get("columns")
    column = ",".join(c.name for c in columns.find_all(exp.Column)) if columns is not None else None
    blocking = args.get("blocking")
    non_blocking = blocking is not None and blocking.sql().lower() == "false"
    return Test(
        unique_id=f"{model.fqn}#{name}" + (f"({column})" if column else ""),
        name=name,
        test_type=name,
        column=column or None,
        severity="warn" if non_blocking else "error",
    )
