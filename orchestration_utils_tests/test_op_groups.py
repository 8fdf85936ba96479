"""Op groups: one layer and partitions definition each, and no two groups feeding each other
(Dagster would split them again on every load)."""

from orchestration_utils.dagster_assets.op_groups import op_groups
from orchestration_utils.project.model import Layer, Node, Partitioning, ResourceType, build_project

DAILY = Partitioning(field="ts", data_type="timestamp", granularity="day")


def _node(
    name, deps=(), layer=Layer.STAGING, partitioning=None, materialization="table", schedule=None
):
    return Node(
        unique_id=f"model.p.{name}",
        name=name,
        resource_type=ResourceType.MODEL,
        layer=layer,
        database="db",
        schema="s",
        identifier=name,
        relation_name=None,
        depends_on=tuple(f"model.p.{d}" for d in deps),
        materialization=materialization,
        partitioning=partitioning,
        schedule=schedule,
    )


def _groups(nodes, **kw):
    project = build_project("p", "dbt", "manifest.json", nodes)
    return {
        g.name: [n.name for n in g.members]
        for g in op_groups(project.runnable(), prefix="dbt", default_schedule="@daily", **kw)
    }


def _assert_acyclic(nodes, groups):
    op_of = {n: i for i, members in enumerate(groups.values()) for n in members}
    for node in nodes:
        for dep in node.depends_on:
            dep = dep.split(".")[-1]
            if dep in op_of and node.name in op_of:
                assert op_of[dep] <= op_of[node.name], f"{dep} -> {node.name} goes backwards"


def test_interleaved_partitions_become_three_groups_in_order():
    # a -> daily -> b: one unpartitioned group would both feed and read the daily one.
    nodes = [
        _node("a"),
        _node("d", ["a"], partitioning=DAILY),
        _node("b", ["d"]),
        _node("c", ["a"]),
    ]
    groups = _groups(nodes)
    assert groups == {
        "dbt_staging_daily": ["a", "c"],
        "dbt_staging_daily_by_day": ["d"],
        "dbt_staging_daily_b": ["b"],
    }
    _assert_acyclic(nodes, groups)


def test_layers_in_order_need_no_extra_stage():
    nodes = [
        _node("raw", layer=Layer.RAW),
        _node("stg", ["raw"]),
        _node("fct", ["stg"], Layer.MARTS, DAILY),
        _node("dim", ["stg"], Layer.MARTS),
        _node("agg", ["fct", "dim"], Layer.MARTS),
    ]
    groups = _groups(nodes)
    # agg (unpartitioned) reads the daily fct, which sorts after it: agg starts a second stage.
    assert groups == {
        "dbt_raw_daily": ["raw"],
        "dbt_staging_daily": ["stg"],
        "dbt_marts_daily": ["dim"],
        "dbt_marts_daily_by_day": ["fct"],
        "dbt_marts_daily_agg": ["agg"],
    }
    _assert_acyclic(nodes, groups)


def test_ephemeral_models_join_no_group_but_carry_the_order():
    nodes = [
        _node("a"),
        _node("d", ["a"], partitioning=DAILY),
        _node("e", ["d"], materialization="ephemeral"),
        _node("b", ["e"]),
    ]
    groups = _groups(nodes)
    assert groups == {
        "dbt_staging_daily": ["a"],
        "dbt_staging_daily_by_day": ["d"],
        "dbt_staging_daily_b": ["b"],
    }


def test_large_groups_are_cut_in_topological_order():
    nodes = [_node("n0")] + [_node(f"n{i}", [f"n{i - 1}"]) for i in range(1, 5)]
    groups = _groups(nodes, max_size=2)
    assert groups == {
        "dbt_staging_daily": ["n0", "n1"],
        "dbt_staging_daily_part2": ["n2", "n3"],
        "dbt_staging_daily_n4": ["n4"],
    }


def test_schedules_split_groups_so_schedule_jobs_select_whole_ops():
    nodes = [_node("a"), _node("h", ["a"], schedule="@hourly"), _node("b", ["a"])]
    assert _groups(nodes) == {"dbt_staging_daily": ["a", "b"], "dbt_staging_hourly": ["h"]}


def test_later_groups_are_named_for_their_model_and_every_name_is_unique():
    # `by_day` after the daily group: its readable name is the daily group's own name.
    nodes = [
        _node("a"),
        _node("d", ["a"], partitioning=DAILY),
        _node("by_day", ["d"]),
        _node("fct o'brien", ["d"], layer=Layer.MARTS),
    ]
    groups = _groups(nodes)
    assert groups == {
        "dbt_staging_daily": ["a"],
        "dbt_staging_daily_by_day": ["d"],
        "dbt_staging_daily_by_day_2": ["by_day"],
        "dbt_marts_daily": ["fct o'brien"],
    }
    _assert_acyclic(nodes, groups)


def test_a_later_group_of_several_models_is_a_numbered_part():
    nodes = [
        _node("a"),
        _node("d", ["a"], partitioning=DAILY),
        _node("b", ["d"]),
        _node("c", ["d"]),
    ]
    assert _groups(nodes)["dbt_staging_daily_part2"] == ["b", "c"]


def test_a_later_group_named_for_a_hostile_model_is_a_valid_dagster_name():
    import re

    nodes = [_node("a"), _node("d", ["a"], partitioning=DAILY), _node("o'brien é", ["d"])]
    names = list(_groups(nodes))
    assert names[2].startswith("dbt_staging_daily_o_brien_")
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", n) for n in names)
