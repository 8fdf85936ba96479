"""The warehouse-neutral project graph every tool works from.

Readers (`dbt_manifest`, `sqlmesh_project`) turn their source into a `Project`
once; generators, Dagster definitions and health checks only read it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from orchestration_utils.errors import ProjectError


class ProjectKind(StrEnum):
    """What a project was read from: a dbt manifest or a SQLMesh project."""

    DBT = "dbt"
    SQLMESH = "sqlmesh"


class ResourceType(StrEnum):
    MODEL = "model"
    SEED = "seed"
    SNAPSHOT = "snapshot"
    SOURCE = "source"


# Nodes that run (get a task / a materialization); sources are only read.
RUNNABLE = frozenset({ResourceType.MODEL, ResourceType.SEED, ResourceType.SNAPSHOT})


class Layer(StrEnum):
    RAW = "raw"
    STAGING = "staging"
    INTERMEDIATE = "intermediate"
    MARTS = "marts"
    SNAPSHOTS = "snapshots"
    OTHER = "other"


_LAYER_BY_FOLDER = {
    "staging": Layer.STAGING,
    "stg": Layer.STAGING,
    "base": Layer.STAGING,
    "intermediate": Layer.INTERMEDIATE,
    "int": Layer.INTERMEDIATE,
    "marts": Layer.MARTS,
    "mart": Layer.MARTS,
}
_LAYER_BY_PREFIX = (
    ("stg_", Layer.STAGING),
    ("base_", Layer.STAGING),
    ("int_", Layer.INTERMEDIATE),
    ("fct_", Layer.MARTS),
    ("dim_", Layer.MARTS),
    ("mart_", Layer.MARTS),
)


def infer_layer(name: str, folders: Iterable[str] = ()) -> Layer:
    """Layer from the model's folders (nearest wins), else its name prefix."""
    for folder in reversed([f.lower() for f in folders]):
        if folder in _LAYER_BY_FOLDER:
            return _LAYER_BY_FOLDER[folder]
    lowered = name.lower()
    for prefix, layer in _LAYER_BY_PREFIX:
        if lowered.startswith(prefix):
            return layer
    return Layer.OTHER


@dataclass(frozen=True, slots=True)
class Partitioning:
    field: str
    data_type: str  # timestamp | date | datetime | int64
    granularity: str | None  # hour | day | month | year; None for integer ranges
    start: str | None = None  # ISO date of the first partition, when the project says


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    data_type: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Test:
    unique_id: str
    name: str
    test_type: str  # not_null, unique, ... or "singular"
    column: str | None
    severity: str  # error | warn
    other_parents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Node:
    unique_id: str
    name: str
    resource_type: ResourceType
    layer: Layer
    database: str | None
    schema: str | None
    identifier: str
    relation_name: str | None
    depends_on: tuple[str, ...]
    package: str = ""
    path: str = ""
    description: str = ""
    materialization: str | None = None
    schedule: str | None = None  # normalised preset or cron; None means "the default"
    sla_hours: float | None = None
    freshness_hours: float | None = None
    critical: bool = False
    owner: str | None = None
    tags: tuple[str, ...] = ()
    partitioning: Partitioning | None = None
    columns: tuple[Column, ...] = ()
    tests: tuple[Test, ...] = ()
    fqn: tuple[str, ...] = ()
    compiled_sql: str | None = None  # only in manifests written by `dbt compile`/`run`/`build`
    language: str = "sql"  # dbt models can be python
    # Config keys that make dbt's materialization do more than `CREATE OR REPLACE ... AS <sql>`
    # (partitioning, clustering, labels, hooks, grants, ...): such models keep running through dbt.
    materialization_options: tuple[str, ...] = ()
    meta: Mapping[str, object] = field(default_factory=dict)

    @property
    def dbt_selector(self) -> str:
        """Selects exactly this node: the fqn is unique across packages, while a bare name
        also matches a folder or package of that name (cosmos #1093)."""
        return "fqn:" + ".".join(self.fqn) if self.fqn else self.name

    @property
    def runnable(self) -> bool:
        return self.resource_type in RUNNABLE

    @property
    def table_id(self) -> str:
        """`database.schema.identifier`, the id health checks and Airflow assets use."""
        return ".".join(p for p in (self.database, self.schema, self.identifier) if p)


@dataclass(frozen=True)
class Project:
    """A validated, acyclic graph of nodes in a deterministic topological order."""

    name: str
    kind: ProjectKind
    source: str  # the manifest or project path it was read from
    nodes: Mapping[str, Node]
    adapter: str | None = (
        None  # the warehouse the project targets (dbt's metadata.adapter_type), when known
    )

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def runnable(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.runnable]

    def models(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.resource_type == ResourceType.MODEL]

    def edges(self) -> set[tuple[str, str]]:
        return {(up, n.unique_id) for n in self.nodes.values() for up in n.depends_on}


def build_project(
    name: str,
    kind: ProjectKind | str,
    source: Path | str,
    nodes: Iterable[Node],
    adapter: str | None = None,
) -> Project:
    """Check the graph (unique ids, known references, no cycle) and order it topologically.
    `kind` may be given by its value (`"sqlmesh"`): the planners compare the enum member."""
    kind = ProjectKind(kind)
    by_id: dict[str, Node] = {}
    for node in nodes:
        if node.unique_id in by_id:
            raise ProjectError(source, f"duplicate node id {node.unique_id!r}")
        by_id[node.unique_id] = node
    children: dict[str, list[str]] = {uid: [] for uid in by_id}
    indegree = dict.fromkeys(by_id, 0)
    for node in by_id.values():
        for up in node.depends_on:
            if up not in by_id:
                raise ProjectError(source, f"{node.unique_id} depends on unknown node {up!r}")
            children[up].append(node.unique_id)
            indegree[node.unique_id] += 1
    # Kahn's algorithm with a heap: the order is a function of the graph alone.
    ready = [uid for uid, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    ordered: dict[str, Node] = {}
    while ready:
        uid = heapq.heappop(ready)
        ordered[uid] = by_id[uid]
        for child in children[uid]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, child)
    if len(ordered) != len(by_id):
        stuck = sorted(uid for uid in by_id if uid not in ordered)
        raise ProjectError(source, f"dependency cycle among {', '.join(_find_cycle(by_id, stuck))}")
    return Project(name=name, kind=kind, source=str(source), nodes=ordered, adapter=adapter)


def _find_cycle(by_id: Mapping[str, Node], stuck: list[str]) -> list[str]:
    """One cycle through the nodes Kahn's algorithm could not order, for the message."""
    stuck_set = set(stuck)
    path: list[str] = []
    seen: dict[str, int] = {}
    uid = stuck[0]
    while uid not in seen:
        seen[uid] = len(path)
        path.append(uid)
        uid = next(up for up in sorted(by_id[uid].depends_on) if up in stuck_set)
    return path[seen[uid] :] + [uid]
