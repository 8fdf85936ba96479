"""The code location loads with every corpus manifest the project model accepts."""

import os

import dagster as dg
import pytest

from orchestration_utils.project.dbt_manifest import load_dbt_manifest
from orchestration_utils.project.model import ProjectError
from orchestration_utils_tests.conftest import CORPUS, corpus_manifests


def _loadable():
    out = []
    for path in corpus_manifests():
        try:
            load_dbt_manifest(path)
        except ProjectError:
            continue
        out.append(path)
    return out


@pytest.mark.parametrize("manifest", _loadable(), ids=lambda p: str(p.parent.relative_to(CORPUS)))
def test_code_location_loads(manifest, monkeypatch):
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(manifest))
    monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", "")
    from orchestration_utils.definitions import defs

    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    project = load_dbt_manifest(manifest)
    keys = {s.key for s in definitions.resolve_all_asset_specs()}
    runnable = [n for n in project.runnable() if n.materialization != "ephemeral"]
    assert len(keys) >= len(runnable)
