"""The JSON types of every manifest value this project or dagster-dbt reads, checked once where the
manifest enters: a wrong type is one `ProjectError` naming the node and field, never a traceback
further in (dbt writes these types; a hand-edited or truncated manifest may not)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestration_utils.errors import ProjectError, clip, printable

_OBJ, _STR, _LIST, _BOOL, _NUM = "an object", "a string", "a list", "true or false", "a number"
_PY_TYPES = {_OBJ: dict, _STR: str, _LIST: list, _BOOL: bool}

# Top-level sections: each an object (of objects, for the node-holding ones) or null.
_NODE_SECTIONS = (
    "nodes",
    "sources",
    "exposures",
    "metrics",
    "semantic_models",
    "saved_queries",
    "unit_tests",
    "macros",
    "docs",
    "groups",
)
_INDEXED = frozenset(
    {
        "nodes",
        "sources",
        "parent_map",
        "child_map",
        "semantic_models",
        "unit_tests",
        "exposures",
        "metrics",
        "saved_queries",
    }
)
_MAP_SECTIONS = ("metadata", "parent_map", "child_map", "group_map", "selectors")
_METADATA = {
    "dbt_schema_version": _STR,
    "dbt_version": _STR,
    "project_name": _STR,
    "adapter_type": _STR,
    "project_id": _STR,
    "invocation_id": _STR,
    "generated_at": _STR,
}
# Fields of a node (model, seed, snapshot, test, source, ...): null is always accepted.
_NODE = {
    "name": _STR,
    "resource_type": _STR,
    "unique_id": _STR,
    "package_name": _STR,
    "database": _STR,
    "schema": _STR,
    "alias": _STR,
    "identifier": _STR,
    "relation_name": _STR,
    "description": _STR,
    "original_file_path": _STR,
    "path": _STR,
    "source_name": _STR,
    "language": _STR,
    "raw_code": _STR,
    "compiled_code": _STR,
    "compiled_sql": _STR,
    "column_name": _STR,
    "attached_node": _STR,
    "patch_path": _STR,
    "fqn": (_LIST, _STR),
    "tags": (_LIST, _STR),
    "config": _OBJ,
    "meta": _OBJ,
    "columns": (_OBJ, _OBJ),
    "depends_on": _OBJ,
    "test_metadata": _OBJ,
    "refs": _LIST,
    "sources": _LIST,
    "constraints": _LIST,
    "freshness": _OBJ,
    "loaded_at_field": _STR,
    "version": None,
    "latest_version": None,
}
_CONFIG = {
    "materialized": _STR,
    "meta": _OBJ,
    "severity": _STR,
    "alias": _STR,
    "schema": _STR,
    "database": _STR,
    "group": _STR,
    "labels": _OBJ,
}
_COLUMN = {
    "name": _STR,
    "data_type": _STR,
    "description": _STR,
    "meta": _OBJ,
    "tags": (_LIST, _STR),
    "constraints": _LIST,
}
_DEPENDS_ON = {"nodes": (_LIST, _STR), "macros": (_LIST, _STR)}
_TEST_METADATA = {"name": _STR, "namespace": _STR, "kwargs": _OBJ}


def check_manifest_shape(manifest: Any, path: Path) -> None:
    """Raise `ProjectError(path, "<node>: <field>: expected ..., got ...")` at the first wrong type."""
    if not isinstance(manifest, dict):
        raise ProjectError(path, f"not a dbt manifest: expected an object, got {_show(manifest)}")
    for section in (*_NODE_SECTIONS, *_MAP_SECTIONS, "disabled"):
        value = manifest.get(section, {})
        # dagster-dbt indexes these without a null check; the others may be null.
        if (value is not None or section in _INDEXED) and not isinstance(value, dict):
            raise ProjectError(path, f"{section}: expected an object, got {_show(value)}")
    has_tests = any(
        isinstance(n, dict) and n.get("resource_type") == "test" for n in manifest["nodes"].values()
    )
    if has_tests and "parent_map" not in manifest:
        raise ProjectError(
            path,
            "parent_map: missing (it lists the models each test reads); regenerate with `dbt parse`",
        )
    _fields(path, "metadata", manifest.get("metadata") or {}, _METADATA_ROWS)
    for section in ("parent_map", "child_map", "group_map"):
        for key, value in (manifest.get(section) or {}).items():
            _typed(path, section, key, value, (_LIST, _STR))
    for section in _NODE_SECTIONS:
        for uid, node in (manifest.get(section) or {}).items():
            if not isinstance(node, dict):
                raise ProjectError(path, f"{uid}: expected an object, got {_show(node)}")
            if section in (
                "nodes",
                "sources",
                "unit_tests",
                "semantic_models",
                "exposures",
                "metrics",
                "saved_queries",
            ):
                _node(path, uid, node)


def _node(path: Path, uid: str, node: Mapping[str, Any]) -> None:
    _fields(path, uid, node, _NODE_ROWS)
    _fields(path, uid, node.get("config") or {}, _CONFIG_ROWS, prefix="config.")
    _fields(path, uid, node.get("depends_on") or {}, _DEPENDS_ON_ROWS, prefix="depends_on.")
    _fields(
        path, uid, node.get("test_metadata") or {}, _TEST_METADATA_ROWS, prefix="test_metadata."
    )
    for key, column in (node.get("columns") or {}).items():
        _fields(path, uid, column, _COLUMN_ROWS, prefix=f"columns.{key}.")
    tags = (node.get("config") or {}).get("tags")
    if tags is not None and not isinstance(tags, str):
        _typed(path, uid, "config.tags", tags, (_LIST, _STR))


# A spec as rows (field, Python type, item type or None, expected): checked with plain isinstance
# (843,000 `_typed` calls at 5,000 models were most of this check's time); a wrong type goes to
# `_typed` for its message.
_Rows = tuple[tuple[str, Any, Any, Any], ...]


def _rows(spec: Mapping[str, Any]) -> _Rows:
    rows = []
    for field, expected in spec.items():
        if expected is not None:
            outer, inner = expected if isinstance(expected, tuple) else (expected, None)
            rows.append((field, _PY_TYPES[outer], _PY_TYPES[inner] if inner else None, expected))
    return tuple(rows)


_METADATA_ROWS, _NODE_ROWS, _CONFIG_ROWS, _COLUMN_ROWS, _DEPENDS_ON_ROWS, _TEST_METADATA_ROWS = (
    _rows(spec) for spec in (_METADATA, _NODE, _CONFIG, _COLUMN, _DEPENDS_ON, _TEST_METADATA)
)


def _fields(path: Path, uid: str, obj: Mapping[str, Any], rows: _Rows, prefix: str = "") -> None:
    for field, outer, inner, expected in rows:
        value = obj.get(field)
        if value is None or (
            isinstance(value, outer)
            and (
                inner is None
                or all(isinstance(i, inner) for i in (value.values() if outer is dict else value))
            )
        ):
            continue
        _typed(path, uid, prefix + field, value, expected)


def _typed(path: Path, uid: str, field: str, value: Any, expected: str | tuple[str, str]) -> None:
    outer, inner = expected if isinstance(expected, tuple) else (expected, None)
    if not _is(value, outer):
        raise ProjectError(path, f"{uid}: {field}: expected {outer}, got {_show(value)}")
    if inner is not None:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if not _is(item, inner):
                raise ProjectError(
                    path, f"{uid}: {field}[{key!r}]: expected {inner}, got {_show(item)}"
                )


def _is(value: Any, kind: str) -> bool:
    if kind == _NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == _STR and isinstance(value, bool):
        return False
    return isinstance(value, _PY_TYPES[kind])


def _show(value: Any) -> str:
    """The value as JSON, as the user wrote it."""
    return clip(printable(json.dumps(value, ensure_ascii=False, default=str)), 60)
