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


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("bogus", "'bogus' is neither a URL (s3://bucket/prefix"),
        ("./reports", "'./reports' is neither a URL"),
        ("s3:bucket/x", "'s3:bucket/x' is neither a URL"),
        ("nosuch://bucket/x", "'nosuch://bucket/x': nosuch:// is not a writable store"),
        # A host is not a directory: fsspec would write under ./relative/x.
        ("file://relative/x", "'file://relative/x': a file URL is file:///absolute/path"),
        ("file://localhost/tmp/x", "a file URL is file:///absolute/path"),
        ("file://", "a file URL is file:///absolute/path"),
        # fsspec is installed; http(s) cannot be written to, whatever is installed.
        ("http://127.0.0.1:1/x", "'http://127.0.0.1:1/x': http(s) is read-only"),
        ("https://example.com/x", "http(s) is read-only, not a writable store"),
        # fsspec knows these, and they fail only at run time (ftp: AttributeError _fs_cached).
        ("ftp://127.0.0.1:1/x", "'ftp://127.0.0.1:1/x': ftp:// is not a writable store"),
        ("sftp://host/x", "sftp:// is not a writable store"),
        ("zip://x", "zip:// is not a writable store"),
        ("nosuch::s3://bucket/x", "'nosuch' is not an fsspec cache"),
        ("s3://", "'s3://': expected s3://bucket/prefix"),
        (
            "abfss://container/x",
            "the abfss:// scheme needs the package adlfs, which is not installed",
        ),
        (
            "s3://bucket/x",
            "'s3://bucket/x': the s3:// scheme needs the package s3fs, which is not installed: "
            + "pip install s3fs",
        ),
        (
            "simplecache::gs://bucket/x",
            "the gs:// scheme needs the package gcsfs, which is not installed: pip install gcsfs",
        ),
    ],
)
def test_an_unusable_artifacts_url_is_one_line_naming_the_variable(
    value, reason, monkeypatch, tmp_path
):
    import importlib.util

    # Real fsspec and universal-pathlib: neither s3fs, gcsfs nor adlfs is installed here.
    assert importlib.util.find_spec("fsspec") is not None
    assert not any(importlib.util.find_spec(p) for p in ("s3fs", "gcsfs", "adlfs"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORCHESTRATION_UTILS_ARTIFACTS_URL", value)
    with pytest.raises(ProjectError) as raised:
        load_settings()  # checked at load, not when a run first writes
    message = str(raised.value)
    assert message.startswith("ORCHESTRATION_UTILS_ARTIFACTS_URL: ") and reason in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []  # nothing written under the working directory


def test_the_code_location_refuses_a_bare_name_at_load(demo_manifest, tmp_path, monkeypatch):
    from orchestration_utils.dagster_defs.generators import build_codegen_defs

    monkeypatch.chdir(tmp_path)
    settings = dataclasses.replace(
        load_settings(), dbt_manifest_path=demo_manifest, artifacts_dir=tmp_path / "local"
    )
    # Set after load_settings (which refuses it too): the location's build reads it again.
    monkeypatch.setenv("ORCHESTRATION_UTILS_ARTIFACTS_URL", "bogus")
    with pytest.raises(ProjectError, match="^ORCHESTRATION_UTILS_ARTIFACTS_URL: 'bogus'"):
        build_codegen_defs(settings)
    assert not (tmp_path / "bogus").exists()


def test_an_absolute_path_is_a_local_artifacts_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATION_UTILS_ARTIFACTS_URL", str(tmp_path / "shared"))
    url = load_settings().artifacts_url
    assert url == str(tmp_path / "shared")
    ArtifactStore(url).write("sla/report.json", b"{}")
    assert (tmp_path / "shared" / "sla" / "report.json").read_bytes() == b"{}"


def test_a_store_made_from_run_config_is_checked_too():
    with pytest.raises(ProjectError, match="pip install s3fs"):
        ArtifactStore("s3://bucket/reports")


@pytest.mark.parametrize(
    "url", ["file://relative/x", "ftp://127.0.0.1:1/x", "http://127.0.0.1:1/x"]
)
def test_a_store_from_run_config_refuses_what_it_cannot_write(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectError, match=r"^artifacts: '"):
        ArtifactStore(url)
    assert list(tmp_path.iterdir()) == []
