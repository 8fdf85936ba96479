"""The artifact store: a local directory by default, object storage by fsspec URL; the report
jobs write through it and attach their report as Markdown the UI renders."""

import dataclasses
import json
import uuid

import dagster as dg
import duckdb
import pytest
from upath import UPath

from orchestration_utils.dagster_defs.artifact_store import ArtifactStore
from orchestration_utils.dagster_defs.health import build_health_defs
from orchestration_utils.dagster_defs.resources import artifacts_resource
from orchestration_utils.dagster_defs.sla import build_sla_defs
from orchestration_utils.errors import ProjectError
from orchestration_utils.settings import load_settings


@pytest.fixture(params=["local", "file", "memory"])
def store(request, tmp_path) -> ArtifactStore:
    return ArtifactStore(
        {
            "local": str(tmp_path / "artifacts"),
            "file": f"file://{tmp_path}/artifacts",
            "memory": f"memory://{uuid.uuid4().hex}/artifacts",
        }[request.param]
    )


def test_store_writes_reads_and_mirrors(store, tmp_path):
    where = store.write("health/report.json", b"{}")
    assert (
        where.endswith("artifacts/health/report.json") and store.read("health/report.json") == b"{}"
    )
    local = tmp_path / "generated"
    (local / "pkg").mkdir(parents=True)
    (local / "pkg" / "a.py").write_text("a")
    (local / "b.py").write_text("b")
    store.write("dags/removed_by_the_generator.py", b"old")
    assert store.mirror(local, "dags") == ["b.py", "pkg/a.py"]
    kept = sorted(
        p.relative_to(store.target("dags")).as_posix()
        for p in store.target("dags").rglob("*")
        if p.is_file()
    )
    assert kept == ["b.py", "pkg/a.py"]


@pytest.mark.parametrize("name", ["../outside.json", "/etc/x.json", ""])
def test_store_keeps_names_inside(store, name):
    with pytest.raises(ProjectError, match="expected a relative name inside the store"):
        store.write(name, b"x")


@pytest.fixture
def warehouse(tmp_path) -> str:
    path = tmp_path / "lake.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA landing")
    con.execute("CREATE TABLE landing.orders AS SELECT now()::TIMESTAMP AS ts, 1 AS id")
    con.close()
    return f"duckdb://{path}"


def _output_metadata(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    return event.event_specific_data.metadata


def test_health_report_goes_to_object_storage_with_markdown(tmp_path, warehouse):
    config = tmp_path / "health-config.json"
    config.write_text(
        json.dumps(
            {
                "warehouse": warehouse,
                "tables": [{"table_id": "lake.landing.orders", "row_count": {"min_rows": 5}}],
            }
        )
    )
    url = f"memory://{uuid.uuid4().hex}/runs"
    settings = dataclasses.replace(load_settings(), health_config_path=config)
    defs = dg.Definitions.merge(
        build_health_defs(settings, dg.Definitions()),
        dg.Definitions(resources={"artifacts": artifacts_resource(str(tmp_path / "local"), url)}),
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("health_report_job").execute_in_process(instance=instance)
    assert result.success
    report = json.loads((UPath(url) / "health" / "health-report.json").read_bytes())
    assert report["summary"]["failed"] == 1
    assert not (tmp_path / "local").exists()  # nothing left on the pod's disk
    metadata = _output_metadata(result)
    assert metadata["path"].value == f"{url}/health/health-report.json"
    markdown = metadata["report"]
    assert isinstance(markdown, dg.MarkdownMetadataValue)
    assert "### Health report" in markdown.value
    assert "FAIL  lake.landing.orders row_count" in markdown.value


def test_sla_report_goes_to_a_file_url_with_markdown(tmp_path, warehouse):
    config = tmp_path / "sla-config.json"
    config.write_text(
        json.dumps(
            {
                "warehouse": warehouse,
                "tables": [
                    {
                        "table_id": "lake.landing.orders",
                        "freshness_sla": {
                            "name": "orders_fresh",
                            "timestamp_column": "ts",
                            "max_age_hours": 24,
                        },
                    }
                ],
            }
        )
    )
    url = f"file://{tmp_path}/bucket"
    settings = dataclasses.replace(load_settings(), sla_config_path=config)
    defs = dg.Definitions.merge(
        build_sla_defs(settings, dg.Definitions(), dg.Definitions()),
        dg.Definitions(resources={"artifacts": artifacts_resource(str(tmp_path / "local"), url)}),
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("sla_report_job").execute_in_process(instance=instance)
    assert result.success
    written = (tmp_path / "bucket" / "sla" / "sla-report.md").read_text()
    assert written.startswith("# SLA report") and "orders_fresh" in written
    assert json.loads((tmp_path / "bucket" / "sla" / "sla-report.json").read_text())
    metadata = _output_metadata(result)
    assert isinstance(metadata["report"], dg.MarkdownMetadataValue)
    assert metadata["report"].value == written


def test_generated_dags_are_mirrored_into_the_store(demo_manifest, tmp_path, monkeypatch):
    from orchestration_utils.dagster_defs.generators import build_codegen_defs

    url = f"file://{tmp_path}/bucket"
    monkeypatch.setenv("ORCHESTRATION_UTILS_ARTIFACTS_URL", url)
    settings = dataclasses.replace(
        load_settings(), dbt_manifest_path=demo_manifest, artifacts_dir=tmp_path / "local"
    )
    stale = tmp_path / "bucket" / "airflow_dags" / "dbt" / "dropped_dag.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("# a DAG the project no longer has")
    job = build_codegen_defs(settings).resolve_job_def("generate_airflow_dags_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success
    local = tmp_path / "local" / "airflow_dags" / "dbt"
    stored = tmp_path / "bucket" / "airflow_dags" / "dbt"
    files = {p.relative_to(local): p.read_bytes() for p in local.rglob("*") if p.is_file()}
    assert files and files == {
        p.relative_to(stored): p.read_bytes() for p in stored.rglob("*") if p.is_file()
    }
    assert _output_metadata(result)["files_stored"].value == len(files)
