"""Read a dbt `manifest.json` (schema v4 to v12, and dbt Fusion's v20) into a `Project`."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from orchestration_utils.errors import ProjectError
from orchestration_utils.project.manifest_shape import check_manifest_shape
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
from orchestration_utils.project.schedule import normalize_schedule

MAX_HOURS = 87_600.0  # ten years, as in the health and SLA configs

SUPPORTED_SCHEMA_VERSIONS = frozenset(range(4, 13)) | {20}
_SCHEMA_RE = re.compile(r"/manifest/v(\d+)\.json$")
# dbt(-bigquery) config that its materialization turns into DDL or extra statements.
_MATERIALIZATION_OPTIONS = (
    "partition_by",
    "cluster_by",
    "labels",
    "partition_expiration_days",
    "require_partition_filter",
    "kms_key_name",
    "hours_to_expiration",
    "description",
    "pre-hook",
    "post-hook",
    "pre_hook",
    "post_hook",
    "grants",
    "grant_access_to",
    "persist_docs",
    "contract",
    "tags_to_labels",
    "resource_tags",
    "options",
    "max_staleness",
    "enable_refresh",
    "refresh_interval_minutes",
)
_RESOURCE_TYPES = {
    "model": ResourceType.MODEL,
    "seed": ResourceType.SEED,
    "snapshot": ResourceType.SNAPSHOT,
}


def load_dbt_manifest(path: Path | str) -> Project:
    """Parse and validate a manifest; every problem is a one-line `ProjectError`."""
    path = Path(path)
    return project_from_manifest(read_manifest(path), path)


def read_manifest(path: Path) -> Any:
    return parse_manifest(read_manifest_bytes(path), path)


def read_manifest_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ProjectError(path, "file not found") from None
    except OSError as exc:
        raise ProjectError(path, f"cannot read: {exc.strerror}") from None


def parse_manifest(raw: bytes, path: Path) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProjectError(path, f"invalid JSON: {exc}") from None


def project_from_manifest(manifest: Any, path: Path) -> Project:
    """The project of an already parsed manifest (`path` names it in errors)."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("nodes"), dict):
        raise ProjectError(path, "not a dbt manifest (no `nodes` object)")
    metadata = manifest.get("metadata") or {}
    version = schema_version(path, metadata if isinstance(metadata, dict) else {})
    check_manifest_shape(manifest, path)
    project_name = metadata.get("project_name") or _guess_project_name(manifest) or path.parent.name
    disabled = set(manifest.get("disabled") or {})
    reader = _NodeReader(path, version)

    nodes: list[Node] = []
    tests: list[Mapping[str, Any]] = []
    for uid, props in manifest["nodes"].items():
        rtype = props.get("resource_type")
        if rtype in _RESOURCE_TYPES:
            if _enabled(props):
                nodes.append(reader.node(uid, props, _RESOURCE_TYPES[rtype]))
        elif rtype == "test":
            tests.append(props)
    for uid, props in (manifest.get("sources") or {}).items():
        if _enabled(props):
            nodes.append(reader.source(uid, props))

    nodes = _attach_tests(path, nodes, tests, disabled)
    return build_project(
        project_name, ProjectKind.DBT, path, nodes, adapter=metadata.get("adapter_type") or None
    )


def schema_version(path: Path, metadata: Mapping[str, Any]) -> int:
    url = metadata.get("dbt_schema_version")
    match = _SCHEMA_RE.search(url) if isinstance(url, str) else None
    if not match:
        raise ProjectError(path, f"metadata.dbt_schema_version is missing or unrecognised: {url!r}")
    version = int(match.group(1))
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ProjectError(
            path,
            f"unsupported manifest schema v{version} (dbt {metadata.get('dbt_version', '?')}); "
            "supported: v4 to v12 (dbt 1.0+) and v20 (dbt Fusion); regenerate it with `dbt parse`",
        )
    return version


def _guess_project_name(manifest: Mapping[str, Any]) -> str | None:
    packages = {
        p.get("package_name")
        for p in manifest["nodes"].values()
        if p.get("resource_type") == "model"
    }
    return next(iter(packages)) if len(packages) == 1 else None


def _enabled(props: Mapping[str, Any]) -> bool:
    return (props.get("config") or {}).get("enabled", True) is not False


class _NodeReader:
    def __init__(self, path: Path, version: int):
        self.path = path
        self.version = version

    def _fail(self, uid: str, field: str, reason: str) -> ProjectError:
        return ProjectError(self.path, f"{uid}: {field}: {reason}")

    def identity(self, uid: str, props: Mapping[str, Any]) -> None:
        """What dagster-dbt and our generators index a node by: its name, unique id and fqn."""
        if not props.get("name"):
            raise self._fail(uid, "name", "missing")
        if props.get("unique_id", uid) != uid:
            raise self._fail(uid, "unique_id", f"differs from its key: {props['unique_id']!r}")
        if "fqn" in props and props["fqn"] is not None and not props["fqn"]:
            raise self._fail(uid, "fqn", "expected a non-empty list, got []")

    def node(self, uid: str, props: Mapping[str, Any], rtype: ResourceType) -> Node:
        self.identity(uid, props)
        config = props.get("config") or {}
        meta = merged_meta(props)
        name = props.get("name") or uid.split(".")[-1]
        folders = _folders(props)
        if rtype == ResourceType.SEED:
            layer = Layer.RAW
        elif rtype == ResourceType.SNAPSHOT:
            layer = Layer.SNAPSHOTS
        else:
            layer = infer_layer(name, folders)
        deps = (props.get("depends_on") or {}).get("nodes") or []
        return Node(
            unique_id=uid,
            name=name,
            resource_type=rtype,
            layer=layer,
            database=props.get("database"),
            schema=props.get("schema"),
            identifier=props.get("alias") or name,
            relation_name=props.get("relation_name"),
            # A model can ref the same node twice (e.g. a versioned ref); edges are a set.
            depends_on=tuple(dict.fromkeys(deps)),
            package=props.get("package_name", ""),
            path=props.get("original_file_path") or props.get("path", ""),
            description=props.get("description") or "",
            materialization=config.get("materialized"),
            schedule=self._schedule(uid, meta),
            sla_hours=self._hours(uid, meta, "sla_hours"),
            freshness_hours=self._freshness_hours(uid, rtype, props, config, meta),
            critical=self._flag(uid, meta, "critical"),
            owner=self._owner(uid, meta),
            tags=tuple(
                dict.fromkeys(str(t) for t in (props.get("tags") or config.get("tags") or []))
            ),
            partitioning=self._partitioning(uid, config, meta),
            columns=_columns(props),
            fqn=tuple(props.get("fqn") or ()),
            compiled_sql=props.get("compiled_code") or props.get("compiled_sql") or None,
            language=props.get("language") or "sql",
            materialization_options=_materialization_options(config),
            meta=meta,
        )

    def source(self, uid: str, props: Mapping[str, Any]) -> Node:
        self.identity(uid, props)
        meta = merged_meta(props)
        name = props.get("name") or uid.split(".")[-1]
        return Node(
            unique_id=uid,
            name=f"{props.get('source_name', '')}.{name}".strip("."),
            resource_type=ResourceType.SOURCE,
            layer=Layer.RAW,
            database=props.get("database"),
            schema=props.get("schema"),
            identifier=props.get("identifier") or name,
            relation_name=props.get("relation_name"),
            depends_on=(),
            package=props.get("package_name", ""),
            path=props.get("original_file_path") or props.get("path", ""),
            description=props.get("description") or "",
            sla_hours=self._hours(uid, meta, "sla_hours"),
            freshness_hours=self._hours(uid, meta, "freshness_hours"),
            critical=self._flag(uid, meta, "critical"),
            owner=self._owner(uid, meta),
            tags=tuple(dict.fromkeys(str(t) for t in props.get("tags") or [])),
            columns=_columns(props),
            meta=meta,
        )

    def _schedule(self, uid: str, meta: Mapping[str, Any]) -> str | None:
        value = meta.get("schedule")
        if value is None:
            return None
        try:
            return normalize_schedule(value)
        except ValueError as exc:
            raise self._fail(uid, "meta.schedule", str(exc)) from None

    def _freshness_hours(
        self,
        uid: str,
        rtype: ResourceType,
        props: Mapping[str, Any],
        config: Mapping[str, Any],
        meta: Mapping[str, Any],
    ) -> float | None:
        """`meta.freshness_hours` wins over a model's `build_after`, which is still checked: a
        wrong one is refused, not passed over unnoticed."""
        build_after = (
            self._build_after_hours(uid, props, config) if rtype == ResourceType.MODEL else None
        )
        hours = self._hours(uid, meta, "freshness_hours")
        return build_after if hours is None else hours

    def _build_after_hours(
        self, uid: str, props: Mapping[str, Any], config: Mapping[str, Any]
    ) -> float | None:
        """dbt 1.10+'s model freshness, `freshness.build_after: {count, period, updates_on}`
        (in `config`, else at the node's top level): the data is due again after count periods,
        so that is its maximum age. `updates_on` says which upstream updates trigger a build, not
        how old the data may be. A count of 0 (build on every upstream update) sets no age."""
        freshness = config.get("freshness")
        if freshness is None:  # dbt writes `config.freshness: null` beside a top-level block
            freshness = props.get("freshness")
        if freshness is None:
            return None
        build_after = freshness.get("build_after") if isinstance(freshness, Mapping) else freshness
        if build_after is None:
            return None
        if not isinstance(build_after, Mapping):
            raise self._fail(
                uid,
                "config.freshness.build_after",
                f"expected an object {{count, period}}, got {build_after!r}",
            )
        count = build_after.get("count")
        if count == 0 and not isinstance(count, bool) and build_after.get("period") in _PERIODS:
            return None
        after = _after(self.path, uid, "build_after", build_after)
        if after is None:
            return None
        hours = after.total_seconds() / 3600
        if hours > MAX_HOURS:
            raise self._fail(
                uid,
                "config.freshness.build_after",
                f"expected at most {MAX_HOURS:g} hours, got {dict(build_after)}",
            )
        return hours

    def _hours(self, uid: str, meta: Mapping[str, Any], key: str) -> float | None:
        value = meta.get(key)
        if value is None:
            return None
        try:
            hours = math.nan if isinstance(value, bool) else float(value)
        except (TypeError, ValueError, OverflowError):
            hours = math.nan
        # The bound of the SQLMesh tags and the health/SLA configs: finite, > 0, <= 10 years.
        if not (math.isfinite(hours) and 0 < hours <= MAX_HOURS):
            raise self._fail(
                uid,
                f"meta.{key}",
                f"expected a positive number of hours up to {MAX_HOURS:g}, got {value!r}",
            )
        return hours

    def _flag(self, uid: str, meta: Mapping[str, Any], key: str) -> bool:
        value = meta.get(key, False)
        if isinstance(value, bool):
            return value
        # YAML reads an unquoted `yes`/`no` as a bool already; a quoted word is refused (is "no"
        # meant, or a typo of a tier name?), except the spelled-out "true"/"false".
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise self._fail(uid, f"meta.{key}", f"expected true or false, got {value!r}")

    def _owner(self, uid: str, meta: Mapping[str, Any]) -> str | None:
        value = meta.get("owner")
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._fail(uid, "meta.owner", f"expected a string, got {value!r}")
        return value

    def _partitioning(
        self, uid: str, config: Mapping[str, Any], meta: Mapping[str, Any]
    ) -> Partitioning | None:
        # BigQuery's dict form; other adapters use a list of columns (not time partitions).
        # `meta.partition_by` carries the same spec for targets that reject the dict (DuckDB).
        spec = config.get("partition_by")
        if not isinstance(spec, Mapping):
            spec = meta.get("partition_by")
            if spec is not None and not isinstance(spec, Mapping):
                raise self._fail(
                    uid, "meta.partition_by", f"expected an object with a field, got {spec!r}"
                )
        if isinstance(config.get("partition_by"), str) and not config.get("file_format"):
            # A string is Spark's column list; elsewhere (BigQuery) it is a mistaken object.
            raise self._fail(
                uid,
                "config.partition_by",
                f"expected an object with a field, got {config['partition_by']!r}",
            )
        if not isinstance(spec, Mapping):
            return None
        field = spec.get("field")
        if not isinstance(field, str) or not field:
            raise self._fail(uid, "partition_by.field", "missing")
        data_type = str(spec.get("data_type") or "date").lower()
        if data_type == "int64":
            granularity = None
        else:
            granularity = str(spec.get("granularity") or "day").lower()
            if granularity not in {"hour", "day", "month", "year"}:
                raise self._fail(uid, "partition_by.granularity", f"unknown {granularity!r}")
        start = meta.get("partition_start")
        if start is not None and not _is_date(start):
            raise self._fail(
                uid,
                "meta.partition_start",
                f"expected a date (YYYY-MM-DD) from {_FIRST_START} to {_LAST_START}, got {start!r}",
            )
        return Partitioning(field, data_type, granularity, str(start) if start else None)


# Partitions Dagster and Airflow can count from: year 1 does not format back, and a start near
# year 9999 overflows when the next partition is computed.
_FIRST_START, _LAST_START = date(1970, 1, 1), date(2999, 12, 31)


def _is_date(value: Any) -> bool:
    """A `YYYY-MM-DD` string (YAML's unquoted date too, which dbt writes back as that string) in
    the range partitions can start; a number such as 20260101 is no date they can parse."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return False
    return isinstance(value, date) and _FIRST_START <= value <= _LAST_START


def _materialization_options(config: Mapping[str, Any]) -> tuple[str, ...]:
    def set_(key: str) -> bool:
        value = config.get(key)
        if isinstance(value, Mapping) and key == "contract":
            return value.get("enforced") is True  # dbt writes the contract block for every model
        if isinstance(value, Mapping) and key == "persist_docs":
            return any(v is True for v in value.values())
        return bool(value)

    return tuple(sorted(k for k in _MATERIALIZATION_OPTIONS if set_(k)))


def merged_meta(props: Mapping[str, Any]) -> dict[str, Any]:
    """`config.meta` (dbt 1.10+) wins over the older top-level `meta`."""
    return {**(props.get("meta") or {}), **((props.get("config") or {}).get("meta") or {})}


def _folders(props: Mapping[str, Any]) -> tuple[str, ...]:
    path = props.get("original_file_path") or props.get("path") or ""
    return Path(path).parts[:-1]


def _columns(props: Mapping[str, Any]) -> tuple[Column, ...]:
    return tuple(
        Column(
            name=col.get("name") or key,
            data_type=col.get("data_type") or None,
            description=col.get("description") or "",
        )
        for key, col in (props.get("columns") or {}).items()
    )


def _attach_tests(
    path: Path, nodes: list[Node], tests: list[Mapping[str, Any]], disabled: set[str]
) -> list[Node]:
    by_id = {n.unique_id: n for n in nodes}
    attached: dict[str, list[Test]] = {}
    for props in tests:
        if not _enabled(props):
            continue
        parents = list(dict.fromkeys((props.get("depends_on") or {}).get("nodes") or []))
        if any(p in disabled for p in parents):
            continue  # dbt does not run a test on a disabled node either
        unknown = [p for p in parents if p not in by_id]
        if unknown:
            raise ProjectError(
                path, f"{props.get('unique_id')} depends on unknown node {unknown[0]!r}"
            )
        target = props.get("attached_node") or next((p for p in parents if by_id[p].runnable), None)
        if target is None or target not in by_id:
            continue  # a source-only test: sources are not materialised, nothing to gate
        meta = props.get("test_metadata") or {}
        severity = str((props.get("config") or {}).get("severity") or "error").lower()
        attached.setdefault(target, []).append(
            Test(
                unique_id=props["unique_id"],
                name=props.get("name") or props["unique_id"].split(".")[-2],
                test_type=meta.get("name") or "singular",
                column=props.get("column_name"),
                severity="warn" if severity == "warn" else "error",
                other_parents=tuple(p for p in parents if p != target),
            )
        )
    if not attached:
        return nodes
    return [_with_tests(n, attached[n.unique_id]) if n.unique_id in attached else n for n in nodes]


def _with_tests(node: Node, tests: list[Test]) -> Node:
    return replace(node, tests=tuple(sorted(tests, key=lambda t: t.unique_id)))


@dataclass(frozen=True)
class SourceFreshness:
    """dbt's own freshness config of a source: `warn_after`/`error_after` (None when not set)
    and `loaded_at_field` (None: the warehouse's metadata decides, as in `dbt source freshness`)."""

    warn_after: timedelta | None
    error_after: timedelta | None
    loaded_at_field: str | None


_PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def source_freshness(manifest: Mapping[str, Any], path: Path) -> dict[str, SourceFreshness]:
    """Source unique id -> its freshness config, for enabled sources that set one (`config.freshness`
    in dbt 1.10+, else the top-level field older manifests carry). A bad period or count is a
    one-line `ProjectError` naming the source."""
    found = {}
    for uid, props in (manifest.get("sources") or {}).items():
        if not _enabled(props):
            continue
        config = props.get("config") if isinstance(props.get("config"), dict) else {}
        freshness = config.get("freshness") if "freshness" in config else props.get("freshness")
        if not isinstance(freshness, Mapping):
            continue
        warn, error = (
            _after(path, uid, key, freshness.get(key)) for key in ("warn_after", "error_after")
        )
        if warn is None and error is None:
            continue
        field = config.get("loaded_at_field") or props.get("loaded_at_field")
        found[uid] = SourceFreshness(warn, error, str(field) if field else None)
    return found


def _after(path: Path, uid: str, key: str, value: Any) -> timedelta | None:
    if not isinstance(value, Mapping) or value.get("count") is None:
        return None  # dbt's empty `{count: null, period: null}` means not set
    count, period = value.get("count"), value.get("period")
    if (
        isinstance(count, bool)
        or not isinstance(count, int)
        or count <= 0
        or period not in _PERIODS
    ):
        raise ProjectError(
            path,
            f"{uid}: freshness.{key} must be a positive integer count and a period "
            f"(minute, hour or day), got {dict(value)}",
        )
    return count * _PERIODS[period]
