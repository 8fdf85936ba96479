import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The shared corpus sits beside the checkout (as in CI); override to run elsewhere.
CORPUS = Path(
    os.environ.get("ORCHESTRATION_UTILS_CORPUS", REPO.parent / "shared" / "corpus" / "dbt")
)
DBT = str(Path(sys.executable).parent / "dbt")


def dbt_parse(project: Path, target: Path, env: dict | None = None) -> Path:
    """`dbt parse` of a project by real dbt (no warehouse needed); returns its manifest."""
    subprocess.run(
        [
            DBT,
            "parse",
            "--quiet",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(target),
        ],
        check=True,
        cwd=project,
        env=env,
    )
    return target / "manifest.json"


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory):
    """Tests never touch the user's .orchestration_utils/: everything lives in a temp home."""
    home = tmp_path_factory.mktemp("home")
    saved = dict(os.environ)
    os.environ["ORCHESTRATION_UTILS_HOME"] = str(home)
    for var in (
        "ORCHESTRATION_UTILS_DBT_DUCKDB",
        "ORCHESTRATION_UTILS_SQLMESH_DUCKDB",
        "DBT_TARGET_PATH",
    ):
        os.environ.pop(var, None)
    yield home
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def demo_manifest(tmp_path_factory) -> Path:
    """The demo dbt project parsed by real dbt (no warehouse needed)."""
    target = tmp_path_factory.mktemp("dbt_target")
    project = REPO / "orchestration_utils" / "demo" / "dbt_project"
    dbt_parse(
        project,
        target,
        env={**os.environ, "ORCHESTRATION_UTILS_DBT_DUCKDB": str(target / "shop.duckdb")},
    )
    return target / "manifest.json"


@pytest.fixture(scope="session")
def demo_sqlmesh_project(tmp_path_factory) -> Path:
    """A copy of the demo SQLMesh project, so its cache never lands in the package."""
    copy = tmp_path_factory.mktemp("sqlmesh") / "sqlmesh_project"
    shutil.copytree(REPO / "orchestration_utils" / "demo" / "sqlmesh_project", copy)
    os.environ["ORCHESTRATION_UTILS_SQLMESH_DUCKDB"] = str(copy.parent / "shop_sqlmesh.duckdb")
    return copy


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """`orchestration-utils-demo` run once in a temp dir: (dir, env, CompletedProcess); its home is dir/home.
    Tests that add runs or data work on a copy (the browser test does)."""
    tmp_path = tmp_path_factory.mktemp("demo")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRATION_UTILS_", "DBT_"))
    }
    env.pop("DAGSTER_HOME", None)
    env["ORCHESTRATION_UTILS_HOME"] = str(tmp_path / "home")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "orchestration-utils-demo")],
        check=False,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return tmp_path, env, result


def corpus_manifests() -> list[Path]:
    return sorted(CORPUS.glob("**/manifest.json"))


SHARED_TOOLS = CORPUS.parent.parent / "tools"
AIRFLOW_PYTHON = Path(
    os.environ.get("ORCHESTRATION_UTILS_AIRFLOW_PYTHON", REPO / ".venv-airflow" / "bin" / "python")
)


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """Airflow 3.3.2 in its own venv (`make airflow-venv`); a missing one fails, never skips."""
    assert AIRFLOW_PYTHON.exists(), f"no Airflow venv at {AIRFLOW_PYTHON}: run `make airflow-venv`"
    return AIRFLOW_PYTHON


def synthetic_manifest(models: int) -> Path:
    """A realistic N-model dbt project from the shared generator, parsed by real dbt once and
    cached under .orchestration_utils/cache (a 5,000-model parse takes about a minute)."""
    cache = REPO / ".orchestration_utils" / "cache" / f"synthetic_{models}"
    manifest = cache / "target" / "manifest.json"
    if not manifest.exists():
        subprocess.run(
            [
                sys.executable,
                str(SHARED_TOOLS / "gen_dbt_project.py"),
                "--models",
                str(models),
                "--seed",
                "42",
                "--out",
                str(cache),
                "--force",
            ],
            check=True,
            capture_output=True,
        )
        # --target-path: a loaded code location exports DBT_TARGET_PATH, which must not apply here.
        subprocess.run(
            [
                DBT,
                "parse",
                "--quiet",
                "--no-partial-parse",
                "--profiles-dir",
                ".",
                "--target-path",
                "target",
            ],
            cwd=cache,
            check=True,
            capture_output=True,
        )
    return manifest
