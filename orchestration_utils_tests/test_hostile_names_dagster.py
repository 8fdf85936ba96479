"""dbt model names and owners dbt accepts but Dagster's names and owners do not: the generated
package validates and the code location loads, with stable, distinct, name-safe keys."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.utils import is_valid_owner
from hypothesis import given
from hypothesis import strategies as st

from orchestration_utils.dagster_assets import attributes
from orchestration_utils.dagster_assets.specs import name_part, name_safe_key
from orchestration_utils.project.model import Layer, Node, ResourceType
from orchestration_utils_tests.conftest import dbt_parse

BIN = Path(sys.executable).parent
HOSTILE = ["fct_s'\"q", "fct_b`x", "fct_d$(x)", "fct_j{{x}}"]
OWNERS = ["o'brien@x.com", "o'{{ 7*7 }}@x.com", "ü@x.com", 'x@y.c"om']


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    (root / "models").mkdir()
    (root / "dbt_project.yml").write_text("name: shop\nversion: '1.0'\nprofile: shop\n")
    (root / "profiles.yml").write_text(
        f"shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {root / 'w.duckdb'}\n"
    )
    (root / "models" / "stg_a.sql").write_text("select 1 as id\n")
    for name in HOSTILE:
        (root / "models" / f"{name}.sql").write_text("select * from {{ ref('stg_a') }}\n")
    models = "".join(
        f"  - name: '{name.replace(chr(39), chr(39) * 2)}'\n    config:\n      meta:\n"
        f"        owner: '{owner.replace(chr(39), chr(39) * 2)}'\n"
        "    columns:\n      - name: id\n        data_tests: [not_null]\n"
        # dbt renders Jinja in YAML names, so `fct_j{{x}}` has no entry; stg_a takes its owner
        for name, owner in zip([*HOSTILE[:3], "stg_a"], OWNERS, strict=True)
    )
    (root / "models" / "schema.yml").write_text(f"version: 2\nmodels:\n{models}")
    dbt_parse(root, root / "target")
    return root, root / "target" / "manifest.json"


def _assert_hostile_graph(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    model_keys = [k for k in keys if k.path[-1].startswith("fct_")]
    assert len(model_keys) == len(HOSTILE)
    assert all(name_safe_key(key) == key for key in model_keys)
    owned = [k for k in keys if graph.get(k).owners]
    assert len(owned) == len(OWNERS)
    assert all(is_valid_owner(o) for k in owned for o in graph.get(k).owners)
    assert len(graph.asset_check_keys) == len(OWNERS)


def test_generated_package_validates(hostile_project, tmp_path):
    _, manifest = hostile_project
    _generate_and_validate(tmp_path, "--project-type", "dbt", "--manifest-path", str(manifest))


def test_code_location_loads(hostile_project, monkeypatch, tmp_path):
    root, manifest = hostile_project
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", "")
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", str(root))
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(manifest))
    monkeypatch.setenv("DBT_PROFILES_DIR", str(root))
    for var in ("ORCHESTRATION_UTILS_HEALTH_CONFIG", "ORCHESTRATION_UTILS_SLA_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    from orchestration_utils.definitions import defs

    _assert_hostile_graph(defs())


def _node(owner: str) -> Node:
    return Node(
        unique_id="model.shop.a", name="a", resource_type=ResourceType.MODEL, layer=Layer.MARTS,
        database=None, schema="marts", identifier="a", relation_name=None, depends_on=(),
        owner=owner,
    )  # fmt: skip


@given(st.text(min_size=1, max_size=60))
def test_any_owner_is_one_dagster_accepts(owner):
    node = _node(owner)
    assert all(is_valid_owner(o) for o in attributes.owners(node))
    assert attributes.owners(node) == attributes.owners(node)


@pytest.mark.parametrize("owner", OWNERS)
def test_owners_dagster_rejects_become_teams(owner):
    (result,) = attributes.owners(_node(owner))
    assert result.startswith("team:") and is_valid_owner(result)


@given(st.text(min_size=1, max_size=40))
def test_name_part_is_a_stable_dagster_name(text):
    part = name_part(text)
    assert part == name_part(text)
    key = name_safe_key(dg.AssetKey(["marts", text]))
    dg.AssetSpec(key)  # and Dagster accepts its output name
    assert key.to_python_identifier().replace("_", "").isalnum() or not key.path[-1]


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_distinct_inputs_give_distinct_parts(a, b):
    if a != b:
        assert name_part(a) != name_part(b)


def test_safe_names_are_unchanged():
    assert name_safe_key(dg.AssetKey(["marts", "fct-orders.v2"])) == dg.AssetKey(
        ["marts", "fct-orders.v2"]
    )


SQLMESH_MODEL = """MODEL (
  name shop_marts."fct_h'$(x){{x}}",
  kind FULL,
  cron '@daily',
  owner 'o''brien@x.com',
  audits (not_null(columns := ("ü")))
);
SELECT 1 AS "ü"
"""


@pytest.fixture
def sqlmesh_project(tmp_path) -> Path:
    root = tmp_path / "sm"
    (root / "models").mkdir(parents=True)
    (root / "config.yaml").write_text(
        "gateways:\n  local:\n    connection:\n      type: duckdb\n"
        f"      database: {root / 'wh.duckdb'}\n"
        "default_gateway: local\nmodel_defaults:\n  dialect: duckdb\n  start: '2026-01-01'\n"
    )
    (root / "models" / "h.sql").write_text(SQLMESH_MODEL)
    return root


def test_sqlmesh_hostile_name_loads_and_generates(sqlmesh_project, tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATION_UTILS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", "")
    monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", str(sqlmesh_project))
    monkeypatch.chdir(tmp_path)
    from orchestration_utils.definitions import defs

    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    graph = definitions.resolve_asset_graph()
    (key,) = [k for k in graph.get_all_asset_keys() if k.path[0] == "shop_marts"]
    assert key == name_safe_key(key) and key.path[-1].startswith("fct_h_x_x_")
    assert all(is_valid_owner(o) for o in graph.get(key).owners)
    assert len(graph.asset_check_keys) == 1
    _generate_and_validate(
        tmp_path, "--project-type", "sqlmesh", "--project-path", str(sqlmesh_project)
    )


def _generate_and_validate(tmp_path, *source_args: str) -> None:
    """`dagster-asset-gen` writes a package that `dagster definitions validate` accepts."""
    out = tmp_path / "gen"
    result = subprocess.run(
        [str(BIN / "dagster-asset-gen"), *source_args, "--output-dir", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-f", str(out / "definitions.py")],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
