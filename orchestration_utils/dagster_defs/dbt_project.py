"""The dbt project the code location loads, read once per process: which manifest and project
directory (the manifest parsed only when none exists yet, the demo; refused when they do not
belong together) and the dbt resource. Imported only where a dbt project is configured: dagster-dbt
and dbt-core cost 1.5 s of CPU on every load (bench/README.md, SQLMesh at scale)."""

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

from orchestration_utils.dagster_assets.dbt import build_dbt_assets, source_freshness_specs
from orchestration_utils.errors import ProjectError
from orchestration_utils.project.dbt_manifest import read_manifest
from orchestration_utils.settings import DEMO_DBT_PROJECT, PROFILES_DIR_VAR, Settings

DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")


@functools.cache
def load_dbt_defs(settings: Settings) -> dg.Definitions:
    """Read once per process: the manifest is parsed only when none exists yet (the demo).
    Refuses (one line, `ProjectError`) a manifest whose dbt project is not configured, so runs
    never go to another project (the demo's) and build nothing."""
    project_dir = dbt_project_dir(settings)
    manifest_path = ensure_manifest(settings)
    manifest = read_manifest(manifest_path)
    check_manifest_project(manifest, manifest_path, project_dir)
    return dg.Definitions(
        assets=[
            *build_dbt_assets(manifest_path, settings.default_schedule, manifest),
            *source_freshness_specs(manifest, manifest_path),
        ],
        resources={
            "dbt": DbtCliResource(
                project_dir=str(project_dir),
                profiles_dir=str(settings.dbt_profiles_dir),
                dbt_executable=DBT_EXECUTABLE,
            )
        },
    )


_SET_PROJECT = "set ORCHESTRATION_UTILS_DBT_PROJECT_DIR to the manifest's dbt project directory"


def dbt_project_dir(settings: Settings) -> Path:
    """The configured dbt project directory, holding `dbt_project.yml` and (unless
    `DBT_PROFILES_DIR` is set) `profiles.yml`."""
    if settings.dbt_project_dir is None:
        raise ProjectError(
            "ORCHESTRATION_UTILS_DBT_MANIFEST",
            f"{settings.dbt_manifest_path} is set but "
            f"ORCHESTRATION_UTILS_DBT_PROJECT_DIR is empty (dbt disabled): {_SET_PROJECT}, or unset the manifest",
        )
    project_dir = settings.dbt_project_dir
    if not (project_dir / "dbt_project.yml").is_file():
        raise ProjectError(
            f"ORCHESTRATION_UTILS_DBT_PROJECT_DIR={project_dir}",
            f"no dbt_project.yml there: {_SET_PROJECT}",
        )
    if not (settings.dbt_profiles_dir / "profiles.yml").is_file():
        raise ProjectError(
            settings.dbt_profiles_setting,
            f"no profiles.yml in {settings.dbt_profiles_dir}"
            + ("" if os.environ.get(PROFILES_DIR_VAR) else " or ~/.dbt")
            + ": add one, or set DBT_PROFILES_DIR to the directory that holds it",
        )
    return project_dir


def check_manifest_project(
    manifest: Mapping[str, Any], manifest_path: Path, project_dir: Path
) -> None:
    """The manifest must come from the project runs go to: its `project_name` (or `project_id`,
    dbt's md5 of the name) against the project's `dbt_project.yml`."""
    import hashlib

    import yaml

    try:
        name = str(
            (yaml.safe_load((project_dir / "dbt_project.yml").read_text()) or {}).get("name") or ""
        )
    except (OSError, yaml.YAMLError) as exc:
        raise ProjectError(project_dir / "dbt_project.yml", f"cannot read: {exc}") from None
    metadata = manifest.get("metadata") or {}
    if metadata.get("project_name"):
        same = metadata["project_name"] == name
    elif metadata.get("project_id"):
        same = metadata["project_id"] == hashlib.md5(name.encode()).hexdigest()
    else:
        return  # an old manifest that does not say: runs will tell (a dbt run building nothing fails)
    if not same:
        which = "the embedded demo's" if project_dir == DEMO_DBT_PROJECT else f"{project_dir}'s"
        raise ProjectError(
            f"ORCHESTRATION_UTILS_DBT_MANIFEST={manifest_path}",
            f"built from another dbt project than {which} ({name!r}): {_SET_PROJECT}",
        )


def ensure_manifest(settings: Settings) -> Path:
    """`ORCHESTRATION_UTILS_DBT_MANIFEST` when set. Else `<home>/dbt_target/manifest.json`: under
    `dagster dev` dagster-dbt's `DbtProject.prepare_if_dev` re-prepares it on every load (dbt deps
    and parse, so edits show on reload); the embedded demo is parsed when it has none or a file of
    the demo project is newer (a checkout updated under an old home); any other
    project without one stops the load with one line, so production never parses at import."""
    if settings.dbt_manifest_path:
        return settings.dbt_manifest_path
    if settings.dbt_project_dir is None:
        raise ProjectError(
            "ORCHESTRATION_UTILS_DBT_PROJECT_DIR", "is empty (dbt disabled): no dbt project to read"
        )
    project = DbtProject(
        project_dir=settings.dbt_project_dir,
        target_path=settings.dbt_target_dir,
        profiles_dir=settings.dbt_profiles_dir,
    )
    if (
        shutil.which("dbt") is None
    ):  # dagster-dbt's preparer runs `dbt` from PATH: the one beside us
        os.environ["PATH"] = (
            f"{Path(DBT_EXECUTABLE).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        )
    project.prepare_if_dev()
    demo = settings.dbt_project_dir == DEMO_DBT_PROJECT
    if project.manifest_path.exists() and not (demo and _edited_since(project.manifest_path)):
        return project.manifest_path
    if settings.dbt_project_dir != DEMO_DBT_PROJECT:
        raise ProjectError(
            "ORCHESTRATION_UTILS_DBT_MANIFEST",
            f"not set, and no manifest at {project.manifest_path}: "
            "build one at image build (`dbt parse --target-path <dir>`, as deploy/Dockerfile does) "
            "and set ORCHESTRATION_UTILS_DBT_MANIFEST=<dir>/manifest.json",
        )
    subprocess.run(
        [
            DBT_EXECUTABLE,
            "parse",
            "--quiet",
            "--project-dir",
            str(settings.dbt_project_dir),
            "--profiles-dir",
            str(settings.dbt_profiles_dir),
            "--target-path",
            str(settings.dbt_target_dir),
        ],
        check=True,
    )
    return project.manifest_path


def _edited_since(manifest: Path) -> bool:
    """A file of the embedded demo project changed after its manifest was parsed: dbt would build
    nodes the location does not know."""
    built = manifest.stat().st_mtime
    return any(
        f.stat().st_mtime > built
        for f in DEMO_DBT_PROJECT.rglob("*")
        if f.suffix in {".sql", ".yml", ".csv", ".md"}
        and f.name != ".user.yml"  # dbt's own, not the project's
        and not {"target", "logs", "dbt_packages"} & set(f.parts)
    )
