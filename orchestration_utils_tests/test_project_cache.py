"""The SQLMesh project model is read through SQLMesh once per content: later loads (a run's worker)
build the location without SQLMesh, and any change to what defines the models reads it again."""

import os
import shutil
import subprocess
import sys

import pytest

from orchestration_utils.dagster_defs.project_cache import cached_project
from orchestration_utils.project.sqlmesh_project import load_sqlmesh_project
from orchestration_utils_tests.conftest import REPO


@pytest.fixture
def project(demo_sqlmesh_project, tmp_path):
    copy = tmp_path / "proj"
    shutil.copytree(demo_sqlmesh_project, copy)
    return copy


@pytest.fixture
def reads():
    calls = []

    def read(path):
        calls.append(path)
        return load_sqlmesh_project(path)

    return calls, read


def test_unchanged_project_is_read_once_and_any_edit_reads_it_again(
    project, reads, tmp_path, monkeypatch
):
    calls, read = reads
    cache = tmp_path / "cache"
    first = cached_project(project, cache, read)
    assert cached_project(project, cache, read) == first and len(calls) == 1

    model = project / "models" / "fct_orders_daily.sql"
    model.write_text(model.read_text().replace("Orders and completed", "Orders, completed"))
    edited = cached_project(project, cache, read)
    assert len(calls) == 2
    assert edited.nodes['"shop_sqlmesh"."shop_marts"."fct_orders_daily"'].description.startswith(
        "Orders, completed"
    )

    # config.py reads this variable: another value is another project (another warehouse path).
    monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_DUCKDB", str(tmp_path / "other.duckdb"))
    cached_project(project, cache, read)
    assert len(calls) == 3
    # A variable no project file names changes nothing.
    monkeypatch.setenv("SOME_UNRELATED_VARIABLE", "1")
    cached_project(project, cache, read)
    assert len(calls) == 3

    # A new day: a relative `start` ('1 week ago') may resolve to another first partition.
    from orchestration_utils.dagster_defs import project_cache

    monkeypatch.setattr(project_cache, "_today", lambda: "2099-01-01")
    cached_project(project, cache, read)
    assert len(calls) == 4

    # What SQLMesh writes inside the project (its own cache) is no edit.
    (project / ".cache" / "x").parent.mkdir(exist_ok=True)
    (project / ".cache" / "x").write_text("y")
    cached_project(project, cache, read)
    assert len(calls) == 4


def test_a_broken_or_unwritable_cache_only_costs_a_read(project, reads, tmp_path):
    calls, read = reads
    cache = tmp_path / "cache"
    expected = cached_project(project, cache, read)
    for stored in cache.iterdir():
        stored.write_bytes(b"\x80\x04truncated")
    assert cached_project(project, cache, read) == expected and len(calls) == 2
    assert cached_project(project, cache, read) == expected and len(calls) == 2  # rewritten

    blocked = tmp_path / "file"
    blocked.write_text("")  # a cache "directory" that is a file: nothing can be stored
    assert cached_project(project, blocked / "cache", read) == expected
    assert cached_project(project, blocked / "cache", read) == expected and len(calls) == 4


def test_a_project_that_does_not_load_is_not_cached(project, reads, tmp_path):
    from orchestration_utils.project.model import ProjectError

    calls, read = reads
    (project / "models" / "broken.sql").write_text(
        "MODEL (name shop_marts.broken, kind FULL);\nSELECT"
    )
    for _ in range(2):
        with pytest.raises(ProjectError):
            cached_project(project, tmp_path / "cache", read)
    assert len(calls) == 2
    assert not any((tmp_path / "cache").glob("*.pickle"))


LOAD = """
import sys
from orchestration_utils.definitions import defs
d = defs()
keys = sorted(s.key.to_user_string() for s in d.resolve_all_asset_specs() if "dagster/kind/sqlmesh" in s.tags)
print("sqlmesh" in sys.modules, len(keys))
"""


def test_a_second_process_builds_the_location_without_sqlmesh(demo_sqlmesh_project, tmp_path):
    """As a run worker does after the code server's first load: same assets, no SQLMesh import."""
    env = {
        **os.environ,
        "ORCHESTRATION_UTILS_HOME": str(tmp_path / "home"),
        "ORCHESTRATION_UTILS_DBT_PROJECT_DIR": "",
        "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": str(demo_sqlmesh_project),
    }
    outputs = []
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-c", LOAD],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        outputs.append(run.stdout.strip().splitlines()[-1])
    assert outputs == ["True 7", "False 7"]
