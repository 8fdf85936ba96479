"""The code location loads with every corpus manifest the project model accepts."""

import dagster as dg
import pytest

from orchestration_utils.errors import ProjectError
from orchestration_utils.project.dbt_manifest import load_dbt_manifest
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


def _project_dir_for(manifest, root):
    """A project directory the manifest belongs to (its name, as dbt hashes it into `project_id`):
    the location runs dbt only in the manifest's own project."""
    import hashlib
    import json

    metadata = json.loads(manifest.read_text()).get("metadata") or {}
    names = {metadata.get("project_name")} | {
        n.get("package_name") for n in json.loads(manifest.read_text()).get("nodes", {}).values()
    }
    name = next(
        (
            n
            for n in names
            if n
            and (
                n == metadata.get("project_name")
                or hashlib.md5(n.encode()).hexdigest() == metadata.get("project_id")
            )
        ),
        "x",
    )
    root.mkdir()
    (root / "dbt_project.yml").write_text(f"name: {name}\n")
    (root / "profiles.yml").write_text("{}\n")
    return root


def _case(path):
    return pytest.param(path, id=str(path.parent.relative_to(CORPUS)))


def test_plain_dagster_dbt_fails_where_the_location_patches_its_manifest():
    """cosmos-altered-jaffle: models read a seed and a source naming the same relation; plain
    dagster-dbt gives them that dependency twice and no subset job resolves. The code location
    drops the source edge in dagster-dbt's view (`_drop_sources_of_produced_relations`), so it
    loads below; this test shows when dagster-dbt fixes it upstream."""
    from dagster_dbt import dbt_assets

    @dbt_assets(manifest=CORPUS / "cosmos-altered-jaffle-v12" / "manifest.json")
    def plain(context): ...

    defs = dg.Definitions(
        assets=[plain], jobs=[dg.define_asset_job("j", selection=[dg.AssetKey("customers")])]
    )
    with pytest.raises(Exception, match="Failed to resolve asset job"):
        dg.Definitions.validate_loadable(defs)


@pytest.mark.parametrize("manifest", [_case(p) for p in _loadable()])
def test_code_location_loads(manifest, monkeypatch, tmp_path):
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(manifest))
    monkeypatch.setenv(
        "ORCHESTRATION_UTILS_DBT_PROJECT_DIR", str(_project_dir_for(manifest, tmp_path / "project"))
    )
    monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", "")
    from orchestration_utils.definitions import defs

    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    project = load_dbt_manifest(manifest)
    keys = {s.key for s in definitions.resolve_all_asset_specs()}
    runnable = [n for n in project.runnable() if n.materialization != "ephemeral"]
    assert len(keys) >= len(runnable)

    # One @dbt_assets over the whole manifest: the op groups, each reading a slice of the
    # manifest, lose no asset, dependency or dbt test.
    # Keyed as the location keys them: snapshots configured with `target_schema` under it.
    from dagster_dbt import DagsterDbtTranslator, dbt_assets

    from orchestration_utils.dagster_assets.dbt import patch_for_dagster_dbt, snapshot_with_schema
    from orchestration_utils.project.dbt_manifest import read_manifest

    class SnapshotsUnderSchema(DagsterDbtTranslator):
        def get_asset_key(self, dbt_resource_props):
            return super().get_asset_key(snapshot_with_schema(dbt_resource_props))

    @dbt_assets(
        manifest=patch_for_dagster_dbt(read_manifest(manifest)),
        dagster_dbt_translator=SnapshotsUnderSchema(),
    )
    def whole(context): ...

    plain = {s.key: s for s in dg.Definitions(assets=[whole]).resolve_all_asset_specs()}
    ours = {s.key: s for s in definitions.resolve_all_asset_specs()}
    assert {k: {d.asset_key for d in plain[k].deps} for k in whole.keys} == {
        k: {d.asset_key for d in ours[k].deps} for k in whole.keys
    }
    assert set(whole.check_keys) <= set(definitions.resolve_asset_graph().asset_check_keys)
