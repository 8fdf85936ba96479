"""Both generator CLIs at their input boundary: wrong JSON types in a manifest, an unusable output
directory and retyped values found by fuzzing are one line and exit 2 with nothing written; the
generated files do not depend on where the input sits; a hostile alias stays an identifier in the
generated Dagster checks, run against a real DuckDB."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration_utils.cli import airflow_dag_gen, dagster_asset_gen
from orchestration_utils.codegen.templates import py

V12 = "https://schemas.getdbt.com/dbt/manifest/v12.json"
# Examples per fuzz test of airflow-dag-gen (dagster-asset-gen, which builds dagster-dbt assets, runs a
# fifth); raise it for a longer hunt: ORCHESTRATION_UTILS_FUZZ_EXAMPLES=1000.
FUZZ_EXAMPLES = int(os.environ.get("ORCHESTRATION_UTILS_FUZZ_EXAMPLES", "60"))


def small_manifest(alias_b="fct_b"):
    def model(name, folder, deps, alias=None):
        return {
            "unique_id": f"model.shop.{name}",
            "name": name,
            "resource_type": "model",
            "package_name": "shop",
            "fqn": ["shop", folder, name],
            "database": "shop",
            "schema": folder,
            "alias": alias or name,
            "original_file_path": f"models/{folder}/{name}.sql",
            "path": f"{folder}/{name}.sql",
            "config": {"materialized": "table", "tags": ["t"], "meta": {"owner": "team:data"}},
            "tags": ["t"],
            "description": "d",
            "columns": {"id": {"name": "id", "data_type": "integer"}},
            "depends_on": {"nodes": deps, "macros": []},
            "relation_name": f'"shop"."{folder}"."{alias or name}"',
        }

    return {
        "metadata": {
            "dbt_schema_version": V12,
            "dbt_version": "1.11.0",
            "project_name": "shop",
            "adapter_type": "duckdb",
        },
        "nodes": {
            "model.shop.stg_a": model("stg_a", "staging", []),
            "model.shop.fct_b": model("fct_b", "marts", ["model.shop.stg_a"], alias_b),
        },
        "sources": {},
        "exposures": {},
        "metrics": {},
        "groups": {},
        "selectors": {},
        "disabled": {},
        "parent_map": {},
        "child_map": {},
        "group_map": {},
        "saved_queries": {},
        "semantic_models": {},
        "unit_tests": {},
        "macros": {},
        "docs": {},
    }


def _run(tool, manifest_path, out, capsys, *extra):
    rc = tool.main(
        [
            "--project-type",
            "dbt",
            "--manifest-path",
            str(manifest_path),
            "--output-dir",
            str(out),
            *extra,
        ]
    )
    err = capsys.readouterr().err
    return rc, err if "Traceback" in err else err.rstrip("\n").rsplit("\n", 1)[-1]


TOOLS = [airflow_dag_gen, dagster_asset_gen]


@pytest.mark.parametrize("tool", TOOLS, ids=["airflow", "dagster"])
@pytest.mark.parametrize(
    "path, value, reason",
    [
        (
            ("nodes", "model.shop.fct_b", "tags"),
            7,
            "model.shop.fct_b: tags: expected a list, got 7",
        ),
        (
            ("nodes", "model.shop.fct_b", "columns", "id"),
            [],
            "model.shop.fct_b: columns['id']: expected an object, got []",
        ),
        (
            ("nodes", "model.shop.stg_a", "config", "materialized"),
            ["table"],
            "config.materialized: expected a string",
        ),
        (
            ("metadata", "project_name"),
            {"x": 1},
            'metadata: project_name: expected a string, got {"x": 1}',
        ),
        (("child_map",), "x", 'child_map: expected an object, got "x"'),
        (
            ("nodes", "model.shop.fct_b", "schema"),
            False,
            "model.shop.fct_b: schema: expected a string, got false",
        ),
        # found by the fuzz test below: dagster-dbt indexes these sections without a null check
        (("disabled",), [[]], "disabled: expected an object, got [[]]"),
        (("parent_map",), None, "parent_map: expected an object, got null"),
        (
            ("metadata", "dbt_version"),
            {"\x85": None},
            'dbt_version: expected a string, got {"\\x85": null}',
        ),
        # a node id holding a line break: the line names it escaped
        (("nodes",), {"model.a\nb": None}, "model.a\\nb: expected an object, got null"),
    ],
)
def test_wrong_json_type_is_one_line_naming_manifest_node_and_field(
    tmp_path, capsys, tool, path, value, reason
):
    manifest = small_manifest()
    target = manifest
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    rc, err = _run(tool, tmp_path / "m.json", tmp_path / "out", capsys)
    assert (
        rc == 2 and err.startswith(f"{tool.PROG}: error: {tmp_path / 'm.json'}: ") and reason in err
    )
    assert "Traceback" not in err and not (tmp_path / "out").exists()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _snapshot(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def _fuzz(tool, data, tmp_path, capsys, previous):
    manifest = small_manifest()
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from([p for p in _paths(manifest) if p]))
        target = manifest
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = data.draw(_JSON)
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    out = tmp_path / "out"
    before = _snapshot(out)
    try:
        rc, err = _run(tool, tmp_path / "m.json", out, capsys)
    except SystemExit as exc:  # argparse; not expected here
        rc, err = exc.code, ""
    assert rc in (0, 2), err
    assert "Traceback" not in err
    if rc == 2:
        assert err.startswith(f"{tool.PROG}: error: ")
        assert _snapshot(out) == before  # previous output untouched


@pytest.fixture
def generated(tmp_path_factory):
    def make(tool):
        root = tmp_path_factory.mktemp("prev")
        (root / "m.json").write_text(json.dumps(small_manifest()))
        assert (
            tool.main(
                [
                    "--project-type",
                    "dbt",
                    "--manifest-path",
                    str(root / "m.json"),
                    "--output-dir",
                    str(root / "out"),
                ]
            )
            == 0
        )
        return root

    return make


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_manifest_airflow_exit_0_or_2_never_traceback(data, generated, capsys):
    root = generated(airflow_dag_gen)
    _fuzz(airflow_dag_gen, data, root, capsys, None)


@settings(
    max_examples=max(FUZZ_EXAMPLES // 5, 1), deadline=None, suppress_health_check=list(HealthCheck)
)
@given(data=st.data())
def test_fuzzed_manifest_dagster_exit_0_or_2_never_traceback(data, generated, capsys):
    root = generated(dagster_asset_gen)
    _fuzz(dagster_asset_gen, data, root, capsys, None)


@pytest.mark.parametrize("tool", TOOLS, ids=["airflow", "dagster"])
def test_output_dir_that_is_a_file_is_one_line(tmp_path, tool):
    (tmp_path / "m.json").write_text(json.dumps(small_manifest()))
    (tmp_path / "out").write_text("x")
    # The console script itself (in process, loggers of earlier tests may hold closed capture streams).
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / tool.PROG),
            "--project-type",
            "dbt",
            "--manifest-path",
            str(tmp_path / "m.json"),
            "--output-dir",
            str(tmp_path / "out"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.splitlines()[-1]
        == f"{tool.PROG}: error: --output-dir {tmp_path / 'out'}: not a directory"
    )
    assert (tmp_path / "out").read_text() == "x"


@pytest.mark.parametrize("tool", TOOLS, ids=["airflow", "dagster"])
def test_same_bytes_from_any_checkout(tmp_path, monkeypatch, capsys, tool):
    """The same project at two paths (a laptop and a CI checkout), each run from its root."""
    outputs = []
    for checkout in ("laptop/src/repo", "ci/builds/123/repo"):
        root = tmp_path / checkout
        (root / "shop" / "target").mkdir(parents=True)
        (root / "shop" / "dbt_project.yml").write_text("name: shop\n")
        (root / "shop" / "target" / "manifest.json").write_text(json.dumps(small_manifest()))
        monkeypatch.chdir(root)
        rc, err = _run(tool, "shop/target/manifest.json", "out", capsys)
        assert rc == 0, err
        files = {
            p.relative_to(root / "out").as_posix(): p.read_bytes()
            for p in (root / "out").rglob("*")
            if p.is_file()
        }
        assert not [f for f, data in files.items() if str(tmp_path).encode() in data]
        outputs.append(files)
        rc, _ = _run(
            tool,
            root / "shop/target/manifest.json",
            root / "out",
            capsys,
            "--check",
            "--project-dir",
            "shop",
        )
        assert rc == 0
    assert outputs[0] == outputs[1]


def test_py_refuses_non_finite_numbers():
    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="not a finite number"):
            py({"hours": [value]})


RUN_CHECKS = """
import json, sys
sys.path.insert(0, sys.argv[1])
import dagster as dg
from definitions import defs
keys = set()
for checks_def in defs.asset_checks or []:
    keys |= set(checks_def.check_keys)
job = defs.resolve_implicit_global_asset_job_def()
result = job.get_subset(asset_selection=set(), asset_check_selection=keys).execute_in_process(
    instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
out = [(list(e.event_specific_data.asset_key.path), e.event_specific_data.check_name, e.event_specific_data.passed,
        {k: str(getattr(v, "value", v)) for k, v in e.event_specific_data.metadata.items()})
       for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
print(json.dumps(out))
"""


def test_hostile_alias_is_an_identifier_in_generated_checks_on_duckdb(
    tmp_path, capsys, demo_manifest
):
    """The demo project with one alias carrying SQL; the warehouse holds a table of exactly that name."""
    alias = "fct_x\"; COPY (SELECT 42 AS pwned) TO 'pwned.csv'; --"
    manifest = json.loads(demo_manifest.read_text())
    node = manifest["nodes"]["model.shop.fct_orders"]
    node["alias"] = alias
    node["relation_name"] = f'"{node["database"]}"."{node["schema"]}"."{alias}"'  # as dbt writes it
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    rc, err = _run(dagster_asset_gen, tmp_path / "m.json", tmp_path / "pkg", capsys)
    assert rc == 0, err
    with duckdb.connect(str(tmp_path / f"{node['database']}.duckdb")) as con:
        con.execute(f"CREATE SCHEMA {node['schema']}")
        quoted = '"' + alias.replace('"', '""') + '"'
        con.execute(f"CREATE TABLE {node['schema']}.{quoted} AS SELECT * FROM range(3) t(id)")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", RUN_CHECKS, str(tmp_path / "pkg")],
        cwd=run_dir,
        text=True,
        check=False,
        capture_output=True,
        timeout=300,
        env={
            **os.environ,
            "ORCHESTRATION_UTILS_WAREHOUSE": f"duckdb:///{tmp_path / (node['database'] + '.duckdb')}",
        },
    )
    evaluations = json.loads(result.stdout.strip().splitlines()[-1])
    assert evaluations, result.stderr[-3000:]
    row_counts = {
        key[-1]: (passed, meta.get("row_count"))
        for key, name, passed, meta in evaluations
        if name == "row_count"
    }
    assert row_counts["fct_orders"] == (True, "3")  # the table's count, not the COPY's
    assert not list(tmp_path.rglob("pwned*"))


def test_quoted_table_names_per_dialect():
    from orchestration_utils.codegen.dagster.plan import quoted_table
    from orchestration_utils.project.model import Layer, Node, ResourceType

    def node(identifier, relation=None):
        return Node(
            unique_id="m",
            name="m",
            resource_type=ResourceType.MODEL,
            layer=Layer.MARTS,
            database="db",
            schema="s",
            identifier=identifier,
            relation_name=relation,
            depends_on=(),
        )

    evil = 'x"; DROP TABLE t; -- `y` \\'
    assert quoted_table(node(evil)) == {
        "duckdb": '"db"."s"."x""; DROP TABLE t; -- `y` \\"',
        "bigquery": '`db`.`s`.`x"; DROP TABLE t; -- \\`y\\` \\\\`',
    }
    # dbt's relation_name is never used; SQLMesh's (quoted by sqlglot) is parsed back into parts
    assert quoted_table(node("t", '"db"."s"."t"; --'))["duckdb"] == '"db"."s"."t"'
    assert (
        quoted_table(node("ignored", '"db"."s"."a""b"'), "sqlmesh")["duckdb"] == '"db"."s"."a""b"'
    )


@settings(max_examples=40, deadline=None)
@given(
    name=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=30,
    )
)
def test_any_table_name_is_one_identifier_on_duckdb(name, tmp_path_factory):
    """Whatever a name holds, the generated checks' quoting names exactly that table in DuckDB."""
    from orchestration_utils.codegen.dagster.plan import quoted_table
    from orchestration_utils.project.model import Layer, Node, ResourceType

    node = Node(
        unique_id="m",
        name="m",
        resource_type=ResourceType.MODEL,
        layer=Layer.MARTS,
        database="wh",
        schema="s",
        identifier=name,
        relation_name=None,
        depends_on=(),
    )
    relation = quoted_table(node)["duckdb"]
    root = tmp_path_factory.mktemp("q")
    with duckdb.connect(str(root / "wh.duckdb")) as con:
        con.execute("CREATE SCHEMA s")
        con.execute("CREATE TABLE s.decoy_longer_than_any_generated_name AS SELECT 1 AS id")
        con.execute(f"CREATE TABLE {relation} AS SELECT * FROM range(5) t(id)")
        assert con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 's' "
            "AND table_name <> 'decoy_longer_than_any_generated_name'"
        ).fetchall() == [(name,)]
        assert con.execute(f"SELECT COUNT(*) FROM {relation}").fetchone() == (5,)
    assert sorted(p.name for p in root.iterdir()) == ["wh.duckdb"]  # nothing else written
