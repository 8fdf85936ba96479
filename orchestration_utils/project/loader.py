"""One entry to read a project of either kind, with a hash of its source for generated headers."""

from __future__ import annotations

import hashlib
import re
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
# What `dbt parse` writes anew for an unchanged project: each node's and macro's `created_at`, the
# run's id and times. Left out of the hash, so `--check` after a fresh parse (CI) says unchanged.
# Found by their `_at"`/`_id"` suffix (literals the regex engine scans for fast: 0.1 s over a
# 62 MB manifest), then by name. A key inside a JSON string is escaped (`_at\"`) and never matches.
_VOLATILE_KEYS = frozenset(
    {b"created_at", b"generated_at", b"run_started_at", b"invocation_started_at", b"invocation_id"}
)
_SUFFIXED_VALUES = tuple(
    re.compile(suffix + rb'"\s*:\s*(?:"[^"\\]*"|[-+0-9.eE]+|null)') for suffix in (b"_at", b"_id")
)


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
    sha256: str  # `manifest_hash` or `sqlmesh_hash` of what was read
    manifest: dict[str, Any] | None = None  # dbt: the parsed manifest the project came from


def load_source(
    project_type: ProjectKind | str, path: Path | str, gateway: str | None = None
) -> LoadedSource:
    """`load_project` and the hash of its source, of one read: a dbt manifest (62 MB at 5,000 models) is
    read and parsed once, and its parse is kept for what reads it beside the project (dagster-dbt)."""
    if project_type != ProjectKind.DBT:
        project = load_project(project_type, path, gateway=gateway)
        return LoadedSource(project, sqlmesh_hash(Path(path)))
    path = Path(path)
    raw = read_manifest_bytes(path)
    manifest = parse_manifest(raw, path)
    project = project_from_manifest(manifest, path)
    return LoadedSource(project, manifest_hash(raw), manifest)


def manifest_hash(raw: bytes) -> str:
    """sha256 of a dbt manifest's bytes without the values every `dbt parse` changes."""
    cuts = []
    for pattern in _SUFFIXED_VALUES:
        for match in pattern.finditer(raw):
            key_start = raw.rfind(b'"', 0, match.start())
            if raw[key_start + 1 : match.start() + 3] in _VOLATILE_KEYS:
                cuts.append((key_start, match.end()))
    digest = hashlib.sha256()
    kept = 0
    for start, end in sorted(cuts):
        digest.update(raw[kept:start])
        kept = end
    digest.update(raw[kept:])
    return digest.hexdigest()


def sqlmesh_hash(path: Path) -> str:
    """sha256 of a SQLMesh project's files (sorted, with their paths)."""
    digest = hashlib.sha256()
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
