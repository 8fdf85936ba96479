"""The one generation routine behind `dagster-asset-gen` and its Dagster job."""

from __future__ import annotations

import json
import os
from pathlib import Path

from orchestration_utils.codegen.dagster.plan import DagsterPlan, plan_dagster
from orchestration_utils.codegen.dagster.render import (
    ASSET_KEYS_FILE,
    TOOL,
    asset_keys,
    render_dagster,
)
from orchestration_utils.codegen.writer import Owner, ProjectId, WriteResult, write_files
from orchestration_utils.errors import OutputDirError
from orchestration_utils.project.loader import load_source
from orchestration_utils.project.model import ProjectKind


def generate_dagster_package(
    project_type: ProjectKind | str,
    source: Path | str,
    output_dir: Path | str,
    *,
    project_dir: str,
    warehouse_url: str,
    default_schedule: str = "@daily",
    check: bool = False,
    gateway: str | None = None,
) -> tuple[DagsterPlan, WriteResult]:
    loaded = load_source(project_type, source, gateway=gateway)  # a manifest is read once
    output = Path(output_dir)
    plan = plan_dagster(
        loaded.project,
        default_schedule=default_schedule,
        project_dir=_from_output(project_dir, output),
        warehouse_url=warehouse_url,
        manifest=_from_output(source, output, absolute=False)
        if loaded.project.kind == ProjectKind.DBT
        else None,
        dbt_manifest=loaded.manifest,
    )
    project = ProjectId.read_from(plan.kind, plan.project, source, output)
    _refuse_shared_keys(output, plan, project)
    files = render_dagster(plan, loaded.sha256, project)
    return plan, write_files(output, files, Owner(TOOL, project), check=check)


def _refuse_shared_keys(output: Path, plan: DagsterPlan, project: ProjectId) -> None:
    """Raises OutputDirError when another project's package in the folder has one of this plan's
    asset keys: the folder's `definitions.py` merges every package, and Dagster holds one asset
    per key, so both would stop loading."""
    ours = set(asset_keys(plan))
    try:
        indexes = sorted(output.glob(f"*/{ASSET_KEYS_FILE}"))
    except OSError:
        return  # an unusable output dir: the writer names why
    for index in indexes:
        if index.parent.name == plan.package or not index.is_file():
            continue
        try:
            data = json.loads(index.read_bytes())
        except (OSError, ValueError):
            continue  # not an index of ours: the writer judges the files it replaces
        if not isinstance(data, dict) or data.get("generated_by") != TOOL:
            continue
        shared = sorted(ours & {k for k in data.get("asset_keys") or () if isinstance(k, str)})
        if shared:
            theirs = data.get("project")
            name = theirs.get("name") if isinstance(theirs, dict) else None
            more = f" (and {len(shared) - 1} more)" if len(shared) > 1 else ""
            raise OutputDirError(
                output,
                f"asset key {shared[0]}{more} is also in {index.parent.name}/ "
                f"(project {name!r}): Dagster holds one asset per key, so "
                "the folder's definitions.py could not load both; give each project its own "
                "--output-dir",
            )


def _from_output(path: Path | str, output_dir: Path, *, absolute: bool = True) -> str:
    """A path as the package reads it: relative to the output directory, where `definitions.py`
    sits, so the package finds its project from any checkout and any working directory. An
    absolute project directory (where the code runs in a deployment) is kept as given."""
    if absolute and Path(path).is_absolute():
        return Path(path).as_posix()
    return Path(os.path.relpath(Path(path).resolve(), output_dir.resolve())).as_posix()
