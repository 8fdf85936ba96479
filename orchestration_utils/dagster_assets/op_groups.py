"""Which nodes share one multi-asset (one op), in the code location and the generated package.

Dagster builds an op graph from the multi-assets. When two of them feed each other (an
unpartitioned model reads a partitioned one that reads an unpartitioned one) it splits them
again on every load, and every job that touches a large multi-asset stubs all of its assets.
At 5,000 models, two groups took 15 s to build the implicit job; acyclic groups per layer,
schedule and partitions definition, under one second (bench/README.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from orchestration_utils.dagster_assets import attributes
from orchestration_utils.dagster_assets.specs import name_part
from orchestration_utils.project.model import Layer, Node
from orchestration_utils.project.schedule import schedule_slug

# Upstream layers first: snapshots usually read sources and feed staging.
LAYER_ORDER = (
    Layer.RAW,
    Layer.SNAPSHOTS,
    Layer.STAGING,
    Layer.INTERMEDIATE,
    Layer.MARTS,
    Layer.OTHER,
)
# A dbt run names its group's nodes in one command-line argument (dagster-dbt joins them), which
# Linux caps at 128 KiB; 1,000 fqn selectors stay well under it.
MAX_GROUP_SIZE = 1000


@dataclass(frozen=True)
class OpGroup:
    name: str  # the op's name: dbt_<layer>_<schedule>[_by_<granularity>][_<model>|_part<n>]
    partition_spec: tuple[str, str] | None
    members: tuple[Node, ...]  # in the project's topological order


def op_groups(
    nodes: Iterable[Node], *, prefix: str, default_schedule: str, max_size: int = MAX_GROUP_SIZE
) -> list[OpGroup]:
    """Split runnable `nodes` (topologically ordered) by layer, schedule and partitions into
    groups whose graph is acyclic, so each layer job and schedule job selects whole groups.

    Each node gets a stage: its parents' highest stage, plus one after a parent whose key
    sorts after its own. Groups are (stage, key), so every edge between two groups goes
    forward in that order. Ephemeral models pass stages on but are no asset: they join no group.
    """
    stage: dict[str, tuple[tuple, int]] = {}
    grouped: dict[tuple, list[Node]] = defaultdict(list)
    for node in nodes:
        spec = attributes.partition_spec(node)
        key = (
            LAYER_ORDER.index(node.layer),
            schedule_slug(node.schedule or default_schedule),
            spec or ("", ""),
        )
        s = max(
            (ps + (pk > key) for pk, ps in (stage[p] for p in node.depends_on if p in stage)),
            default=0,
        )
        stage[node.unique_id] = (key, s)
        if node.materialization != "ephemeral":
            grouped[(s, key)].append(node)
    groups: list[OpGroup] = []
    seen: dict[str, int] = defaultdict(int)
    names: set[str] = set()
    for (_, (layer, schedule, spec)), members in sorted(grouped.items()):
        spec = spec if spec != ("", "") else None
        base = f"{prefix}_{LAYER_ORDER[layer].value}_{schedule}" + (
            f"_by_{spec[0]}" if spec else ""
        )
        for i in range(0, len(members), max_size):
            part = tuple(members[i : i + max_size])
            seen[base] += 1
            name = _unique(_group_name(base, seen[base], part), names)
            groups.append(OpGroup(name, spec, part))
    return groups


def _group_name(base: str, nth: int, members: tuple[Node, ...]) -> str:
    """The first group of a layer, schedule and partitions is `base`; a later one (its models
    read a group that sorts after theirs, or the first held MAX_GROUP_SIZE) is named for its
    model when it holds one (`dbt_marts_daily_fct_daily_revenue`), else `base_part<n>`."""
    if nth == 1:
        return base
    if len(members) == 1:
        return f"{base}_{name_part(members[0].name)}"
    return f"{base}_part{nth}"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate
