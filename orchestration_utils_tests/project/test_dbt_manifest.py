import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration_utils.errors import ProjectError
from orchestration_utils.project import manifest_shape
from orchestration_utils.project.dbt_manifest import load_dbt_manifest
from orchestration_utils.project.model import Layer, ResourceType
from orchestration_utils_tests.conftest import CORPUS, corpus_manifests

RUNNABLE = {"model", "seed", "snapshot"}


def _schema(manifest: dict) -> int:
    return int(manifest["metadata"]["dbt_schema_version"].rsplit("/v", 1)[1].split(".")[0])


def _enabled(props: dict) -> bool:
    return (props.get("config") or {}).get("enabled", True) is not False


def test_corpus_is_present():
    assert len(corpus_manifests()) >= 40, f"no dbt corpus at {CORPUS}"


@pytest.mark.parametrize(
    "path", corpus_manifests(), ids=lambda p: str(p.parent.relative_to(CORPUS))
)
def test_corpus_manifest_models_and_edges_match_what_dbt_recorded(path):
    raw = json.loads(path.read_text())
    if _schema(raw) < 4:
        with pytest.raises(ProjectError, match=r"unsupported manifest schema v[123] \(dbt 0\."):
            load_dbt_manifest(path)
        return
    project = load_dbt_manifest(path)
    nodes = raw["nodes"]
    expected_models = {u for u, n in nodes.items() if n["resource_type"] == "model" and _enabled(n)}
    expected_edges = {
        (dep, uid)
        for uid, n in nodes.items()
        if n["resource_type"] in RUNNABLE and _enabled(n)
        for dep in n.get("depends_on", {}).get("nodes", [])
    }
    assert {n.unique_id for n in project.models()} == expected_models
    assert project.edges() == expected_edges
    # Topological: every node comes after everything it depends on.
    position = {uid: i for i, uid in enumerate(project.nodes)}
    assert all(position[up] < position[down] for up, down in project.edges())


def test_unsupported_schema_names_file_version_and_fix():
    path = CORPUS / "jaffle-ladder" / "v2" / "manifest.json"
    with pytest.raises(ProjectError) as err:
        load_dbt_manifest(path)
    assert str(err.value).startswith(f"{path}: unsupported manifest schema v2 (dbt 0.20.2)")
    assert "dbt parse" in str(err.value)


def test_fusion_v20_manifest_loads():
    project = load_dbt_manifest(CORPUS / "dagster-dbt-snowflake-fusion-v20" / "manifest.json")
    assert len(project.models()) == 16
    assert any(n.resource_type == ResourceType.SNAPSHOT for n in project)


def test_demo_manifest_carries_the_metadata_the_tools_read(demo_manifest):
    project = load_dbt_manifest(demo_manifest)
    nodes = {n.name: n for n in project}
    assert len(project.models()) >= 12
    assert {n.layer for n in project.models()} == {Layer.STAGING, Layer.INTERMEDIATE, Layer.MARTS}
    orders = nodes["fct_orders"]
    assert (orders.schedule, orders.sla_hours, orders.freshness_hours, orders.critical) == (
        "@daily",
        6,
        24,
        True,
    )
    assert orders.owner == "orders-team@example.com"
    assert orders.materialization == "incremental"
    assert (orders.partitioning.field, orders.partitioning.granularity) == ("ordered_at", "day")
    assert orders.partitioning.start == "2026-01-01"
    assert {t.test_type for t in orders.tests} >= {"unique", "not_null", "relationships"}
    assert {c.name: c.data_type for c in orders.columns}["ordered_at"] == "timestamp"
    assert nodes["stg_events"].schedule == "@hourly"
    assert nodes["raw_orders"].resource_type == ResourceType.SEED
    assert nodes["customers_snapshot"].resource_type == ResourceType.SNAPSHOT
    assert nodes["fct_orders"].dbt_selector == "fqn:shop.marts.fct_orders"


def _manifest(tmp_path, nodes: dict, version: int = 12):
    path = tmp_path / "manifest.json"
    path.write_text(
        json.dumps(
            {
                "metadata": {
                    "dbt_schema_version": f"https://schemas.getdbt.com/dbt/manifest/v{version}.json"
                },
                "nodes": nodes,
                "sources": {},
            }
        )
    )
    return path


def _model(name: str, deps=(), meta=None):
    return {
        "unique_id": f"model.p.{name}",
        "name": name,
        "resource_type": "model",
        "package_name": "p",
        "original_file_path": f"models/{name}.sql",
        "depends_on": {"nodes": list(deps)},
        "config": {"materialized": "table", "meta": meta or {}},
        "schema": "s",
        "database": "d",
    }


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "file not found"),
        ("{not json", "invalid JSON"),
        ('{"metadata": {}, "nodes": {}}', "dbt_schema_version is missing"),
        ("[1, 2]", "not a dbt manifest"),
    ],
)
def test_bad_files_give_one_line_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ProjectError) as err:
        load_dbt_manifest(path)
    assert str(err.value).startswith(str(path)) and reason in str(err.value)
    assert "\n" not in str(err.value)


def test_cycle_is_named(tmp_path):
    path = _manifest(
        tmp_path,
        {
            "model.p.a": _model("a", ["model.p.c"]),
            "model.p.b": _model("b", ["model.p.a"]),
            "model.p.c": _model("c", ["model.p.b"]),
        },
    )
    with pytest.raises(
        ProjectError,
        match=r"dependency cycle among model\.p\.a, model\.p\.c, model\.p\.b, model\.p\.a",
    ):
        load_dbt_manifest(path)


def test_unknown_reference_is_named(tmp_path):
    path = _manifest(tmp_path, {"model.p.a": _model("a", ["model.p.ghost"])})
    with pytest.raises(
        ProjectError, match=r"model\.p\.a depends on unknown node 'model\.p\.ghost'"
    ):
        load_dbt_manifest(path)


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ({"schedule": "every tuesday"}, "meta.schedule"),
        ({"sla_hours": "soon"}, "meta.sla_hours"),
        ({"critical": "maybe"}, "meta.critical"),
        ({"critical": "no"}, "meta.critical"),  # quoted: a word, not YAML's boolean
        ({"critical": 1}, "meta.critical"),
        ({"freshness_hours": -1}, "meta.freshness_hours"),
    ],
)
def test_bad_meta_names_node_and_field(tmp_path, meta, field):
    path = _manifest(tmp_path, {"model.p.a": _model("a", meta=meta)})
    with pytest.raises(ProjectError, match=rf"model\.p\.a: {field}: "):
        load_dbt_manifest(path)


def test_config_meta_wins_over_top_level_meta(tmp_path):
    model = _model("a", meta={"schedule": "hourly"})
    model["meta"] = {"schedule": "daily", "owner": "x@example.com"}
    project = load_dbt_manifest(_manifest(tmp_path, {"model.p.a": model}))
    node = project.nodes["model.p.a"]
    assert (node.schedule, node.owner) == ("@hourly", "x@example.com")


def test_adapter_language_and_materialization_options_are_read(tmp_path):
    from orchestration_utils.project.dbt_manifest import project_from_manifest

    def model(name, **extra):
        return {
            "unique_id": f"model.p.{name}",
            "name": name,
            "resource_type": "model",
            "package_name": "p",
            "fqn": ["p", name],
            "depends_on": {"nodes": []},
            **extra,
        }

    manifest = {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "project_name": "p",
            "adapter_type": "bigquery",
        },
        "nodes": {
            "model.p.py": model("py", language="python", config={"materialized": "table"}),
            "model.p.part": model(
                "part",
                config={
                    "materialized": "table",
                    "cluster_by": ["a"],
                    "partition_by": {"field": "d"},
                    "contract": {"enforced": False},
                },
            ),
            "model.p.plain": model(
                "plain",
                config={
                    "materialized": "view",
                    "contract": {"enforced": False},
                    "persist_docs": {},
                    "labels": {},
                },
            ),
        },
    }
    project = project_from_manifest(manifest, tmp_path / "m.json")
    assert project.adapter == "bigquery"
    nodes = {n.name: n for n in project.models()}
    assert nodes["py"].language == "python" and nodes["plain"].language == "sql"
    assert nodes["part"].materialization_options == ("cluster_by", "partition_by")
    assert nodes["plain"].materialization_options == ()


def test_wrong_type_names_file_node_and_field(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(
        json.dumps(
            {
                "metadata": {
                    "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"
                },
                "nodes": {
                    "model.p.a": {
                        "unique_id": "model.p.a",
                        "name": "a",
                        "resource_type": "model",
                        "config": 1,
                    }
                },
            }
        )
    )
    with pytest.raises(ProjectError) as err:
        load_dbt_manifest(path)
    assert str(err.value) == f"{path}: model.p.a: config: expected an object, got 1"


def _with(props: dict, **changes) -> dict:
    out = {**props}
    for key, value in changes.items():
        if value is _DROP:
            out.pop(key)
        else:
            out[key] = value
    return out


_DROP = object()
# (node, "<field>: <reason start>") of values dbt writes or a hand-edited manifest holds.
_BAD_VALUES = [
    (_model("x", meta={"freshness_hours": 1e30}), "meta.freshness_hours: expected a positive number of hours up to 87600"),
    (_model("x", meta={"freshness_hours": "1e400"}), "meta.freshness_hours: expected a positive"),
    (_model("x", meta={"sla_hours": True}), "meta.sla_hours: expected a positive number of hours"),
    (_model("x", meta={"sla_hours": 1e308}), "meta.sla_hours: expected a positive number of hours"),
    (_model("x", meta={"sla_hours": 87600.5}), "meta.sla_hours: expected a positive number of hours"),
    (_with(_model("x"), name=_DROP), "name: missing"),
    (_with(_model("x"), unique_id="model.p.other"), "unique_id: differs from its key"),
    (_with(_model("x"), fqn=[]), "fqn: expected a non-empty list"),
    (_model("x", meta={"partition_by": "event_date"}), "meta.partition_by: expected an object"),
    (
        _with(_model("x"), config={"materialized": "table", "partition_by": "event_date"}),
        "config.partition_by: expected an object",
    ),
    (
        _model("x", meta={"partition_by": {"field": "d"}, "partition_start": "yesterday-ish"}),
        "meta.partition_start: expected a date",
    ),
    (  # a number, as an unquoted 20260101 in YAML: no date the generated partitions can parse
        _model("x", meta={"partition_by": {"field": "d"}, "partition_start": 20260101}),
        "meta.partition_start: expected a date",
    ),
    (
        _model("x", meta={"partition_by": {"field": "d"}, "partition_start": "2026-02-30"}),
        "meta.partition_start: expected a date",
    ),
    (  # a date, but none partitions can count from
        _model("x", meta={"partition_by": {"field": "d"}, "partition_start": "9999-12-31"}),
        "meta.partition_start: expected a date (YYYY-MM-DD) from 1970-01-01 to 2999-12-31",
    ),
    (
        _model("x", meta={"partition_by": {"field": "d"}, "partition_start": "0001-01-01"}),
        "meta.partition_start: expected a date",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("node", "reason"), _BAD_VALUES, ids=lambda v: str(v)[:40])
def test_bad_values_are_one_line(tmp_path, node, reason):
    path = _manifest(tmp_path, {"model.p.x": node})
    with pytest.raises(ProjectError) as err:
        load_dbt_manifest(path)
    assert str(err.value).startswith(f"{path}: model.p.x: {reason}")


@pytest.mark.parametrize("cli", ["airflow-dag-gen", "dagster-asset-gen"])
@pytest.mark.parametrize(("node", "reason"), _BAD_VALUES[::2], ids=lambda v: str(v)[:40])
def test_both_generators_exit_2_with_one_line(tmp_path, cli, node, reason):
    path = _manifest(tmp_path, {"model.p.x": node})
    out = tmp_path / "out"
    result = subprocess.run(
        [str(Path(sys.executable).parent / cli), "--project-type", "dbt", "--manifest-path",
         str(path), "--output-dir", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-1500:]
    assert "Traceback" not in result.stderr
    assert f"model.p.x: {reason}" in result.stderr
    assert not out.exists() or not any(out.rglob("*.py"))


@pytest.mark.parametrize("hours", [0.01, 1, 24.5, 87600])
def test_hours_within_bounds_are_read(tmp_path, hours):
    path = _manifest(tmp_path, {"model.p.x": _model("x", meta={"sla_hours": hours})})
    assert load_dbt_manifest(path).nodes["model.p.x"].sla_hours == hours


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("field", sorted(f for f, kind in manifest_shape._NODE.items() if kind))
@given(value=_JSON)
def test_a_node_field_is_refused_exactly_when_its_json_type_is_wrong(field, value):
    """The fast isinstance path and the per-value check with its message agree on every value."""
    expected = manifest_shape._NODE[field]
    outer, inner = expected if isinstance(expected, tuple) else (expected, None)
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    wrong = (
        value is not None
        and expected is not None
        and not (
            manifest_shape._is(value, outer)
            and (inner is None or all(manifest_shape._is(i, inner) for i in items))
        )
    )
    node = {"resource_type": "model", "name": "a", field: value}
    manifest = {"nodes": {"model.p.a": node}, "parent_map": {}, "child_map": {}}
    try:
        manifest_shape.check_manifest_shape(manifest, Path("manifest.json"))
    except ProjectError as exc:
        assert wrong and f"model.p.a: {field}" in str(exc), str(exc)
    else:
        assert not wrong
