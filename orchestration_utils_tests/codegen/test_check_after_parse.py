"""`--check` in CI runs after a fresh `dbt parse`: dbt then writes new timestamps and a new run id
into an unchanged project's manifest, and the generated files must still count as up to date;
a real change must not."""

import json
import os
import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration_utils.cli import airflow_dag_gen, dagster_asset_gen
from orchestration_utils.project.loader import manifest_hash
from orchestration_utils_tests.conftest import REPO, dbt_parse

TOOLS = [airflow_dag_gen, dagster_asset_gen]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the demo dbt project, parsed by real dbt into its own target/."""
    root = tmp_path_factory.mktemp("reparse") / "shop"
    shutil.copytree(
        REPO / "orchestration_utils" / "demo" / "dbt_project",
        root,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
    )
    os.environ["ORCHESTRATION_UTILS_DBT_DUCKDB"] = str(root / "shop.duckdb")
    try:
        yield root
    finally:
        os.environ.pop("ORCHESTRATION_UTILS_DBT_DUCKDB", None)


def _generate(tool, project, out, *extra):
    return tool.main(
        [
            "--project-type",
            "dbt",
            "--manifest-path",
            str(project / "target" / "manifest.json"),
            "--output-dir",
            str(out),
            *extra,
        ]
    )


def test_check_after_a_fresh_parse_is_unchanged_and_a_real_change_is_stale(
    project, tmp_path, capsys
):
    manifest = dbt_parse(project, project / "target")
    for tool in TOOLS:
        assert _generate(tool, project, tmp_path / tool.PROG) == 0
    first = manifest.read_bytes()

    dbt_parse(project, project / "target")  # CI: a fresh parse of the same project
    assert manifest.read_bytes() != first  # dbt's timestamps and run id moved
    capsys.readouterr()
    for tool in TOOLS:
        assert _generate(tool, project, tmp_path / tool.PROG, "--check") == 0, tool.PROG
        assert json.loads(capsys.readouterr().out)["stale"] == []

    schema = project / "models" / "marts" / "schema.yml"
    schema.write_text(schema.read_text().replace("description: ", "description: Changed. ", 1))
    dbt_parse(project, project / "target")
    for tool in TOOLS:
        assert _generate(tool, project, tmp_path / tool.PROG, "--check") == 1, tool.PROG
        assert json.loads(capsys.readouterr().out)["stale"]


# What dbt writes there: `created_at` a Unix time; the run's id and times strings (or null).
_CREATED = st.floats(min_value=0, max_value=4e9, allow_nan=False)
_RUN = st.one_of(st.uuids().map(str), st.datetimes().map(lambda t: t.isoformat() + "Z"), st.none())
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@given(
    created=st.lists(_CREATED, min_size=2, max_size=2),
    run=st.lists(_RUN, min_size=2, max_size=2),
    code=_TEXT,
    updated_at=_TEXT,
)
def test_the_hash_ignores_what_a_parse_changes_and_nothing_else(created, run, code, updated_at):
    def manifest(created_at, run_value, raw_code, updated):
        return json.dumps(
            {
                "metadata": {
                    "generated_at": run_value,
                    "invocation_id": run_value,
                    "invocation_started_at": run_value,
                    "run_started_at": run_value,
                },
                "nodes": {
                    "model.p.a": {
                        "raw_code": raw_code,
                        "created_at": created_at,
                        "meta": {"updated_at": updated},
                    }
                },
                "macros": {"macro.p.m": {"created_at": created_at}},
            }
        ).encode()

    base = manifest(created[0], run[0], code, updated_at)
    assert manifest_hash(base) == manifest_hash(manifest(created[1], run[1], code, updated_at))
    # Text that looks like a volatile key inside a string, or a key of the user's, still counts.
    for other in (
        manifest(created[0], run[0], code + '"created_at": 1', updated_at),
        manifest(created[0], run[0], code, updated_at + "x"),
    ):
        assert manifest_hash(other) != manifest_hash(base)
