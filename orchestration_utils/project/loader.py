"""One entry to read a project of either kind, with a hash of its source for generated headers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration_utils.errors import ProjectError
from orchestration_utils.project.dbt_manifest import (
    load_dbt_manifest,
    parse_manifest,
    project_from_manifest,
    read_manifest_bytes,
)
from orchestration_utils.project.model import Project, ProjectKind
from orchestration_utils.project.sqlmesh_project import load_sqlmesh_project

_SQLMESH_SOURCES = ("*.sql", "*.py", "*.yaml", "*.yml", "*.csv")


def load_project(
    project_type: ProjectKind | str, path: Path | str, gateway: str | None = None
) -> Project:
    if project_type == ProjectKind.DBT:
        return load_dbt_manifest(path)
    if project_type == ProjectKind.SQLMESH:
        return load_sqlmesh_project(path, gateway=gateway)
    raise ProjectError(
        path, f"unknown project type {project_type!r}; expected one of {', '.join(ProjectKind)}"
    )


@dataclass(frozen=True)
class LoadedSource:
    project: Project
    sha256: str  # `source_hash` of what was read
    manifest: dict[str, Any] | None = None  # dbt: the parsed manifest the project came from


def load_source(
    project_type: ProjectKind | str, path: Path | str, gateway: str | None = None
) -> LoadedSource:
    """`load_project` and `source_hash` of one read: a dbt manifest (62 MB at 5,000 models) is
    read and parsed once, and its parse is kept for what reads it beside the project (dagster-dbt)."""
    if project_type != ProjectKind.DBT:
        project = load_project(project_type, path, gateway=gateway)
        return LoadedSource(project, source_hash(project_type, path))
    path = Path(path)
    raw = read_manifest_bytes(path)
    manifest = parse_manifest(raw, path)
    project = project_from_manifest(manifest, path)
    return LoadedSource(project, hashlib.sha256(raw).hexdigest(), manifest)


def source_hash(project_type: ProjectKind | str, path: Path | str) -> str:
    """sha256 of the manifest, or of a SQLMesh project's files (sorted, with their paths)."""
    path = Path(path)
    digest = hashlib.sha256()
    if project_type == ProjectKind.DBT:
        digest.update(path.read_bytes())
        return digest.hexdigest()
    files = sorted(
        {
            f
            for pattern in _SQLMESH_SOURCES
            for f in path.rglob(pattern)
            if ".cache" not in f.parts and "logs" not in f.parts
        }
    )
    for f in files:
        digest.update(f.relative_to(path).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()
