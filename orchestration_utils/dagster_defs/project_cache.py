"""The SQLMesh project model kept between processes, keyed by what it is read from.

Reading a SQLMesh project opens a `sqlmesh.Context` (its import, every model parsed and
rendered): seconds on every load of the code location, and every run's worker loads it again
before it runs anything. The model it yields (`Project`, plain dataclasses) depends only on the
project's files, the SQLMesh version and the environment variables those files name, so the first
load stores it under the home and later loads with the same key read it back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from orchestration_utils.project.model import Project

FORMAT = 1
# What SQLMesh and tools write inside a project; none of it defines a model.
_SKIPPED_DIRS = frozenset({".cache", "logs", "__pycache__", ".git", ".venv", "target"})
_ENV_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{2,}")


def project_key(project_dir: Path) -> str:
    """A digest of every file of the project (path and content), the SQLMesh version, the values
    of the environment variables the files mention (`config.py` reading a path, a model reading
    `@VAR`) and today's date (UTC): a model's `start` may be relative (`'1 week ago'`), and the
    partitions start on the day it resolves to."""
    digest = hashlib.sha256(f"{FORMAT}\0{metadata.version('sqlmesh')}\0{_today()}\0".encode())
    names: set[bytes] = set()
    for path in sorted(_project_files(project_dir)):
        content = path.read_bytes()
        digest.update(f"{path.relative_to(project_dir).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
        names.update(_ENV_NAME.findall(content))
    for name in sorted(n for n in (b.decode() for b in names) if n in os.environ):
        digest.update(f"{name}={os.environ[name]}\0".encode())
    return digest.hexdigest()


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _project_files(project_dir: Path) -> list[Path]:
    files: list[Path] = []
    for root, dirs, names in os.walk(project_dir):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        files.extend(Path(root, n) for n in names if not n.endswith((".duckdb", ".wal", ".db")))
    return files


def cached_project(project_dir: Path, cache_dir: Path, read: Callable[[Path], Project]) -> Project:
    """`read(project_dir)`, or the model stored by an earlier read of the same key. A cache that
    cannot be read or written is only slower: the project is read again."""
    resolved = project_dir.resolve()
    key = project_key(resolved)
    path = cache_dir / f"{hashlib.sha256(str(resolved).encode()).hexdigest()[:16]}.pickle"
    try:
        with path.open("rb") as file:
            stored_key, project = pickle.load(file)
        if stored_key == key and isinstance(project, Project):
            return project
    except Exception:  # noqa: BLE001, S110 - absent, truncated or from another version: read again
        pass
    project = read(project_dir)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as file:
            pickle.dump((key, project), file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, path)  # a concurrent reader sees the old file or the new, never half
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
    return project
