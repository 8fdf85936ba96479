"""airflow-dag-gen as a user runs it, and the Dagster job writing the same files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration_utils_tests.conftest import REPO

BIN = Path(sys.executable).parent
DEMO_DBT = REPO / "orchestration_utils" / "demo" / "dbt_project"


def _gen(*args, cwd=None):
    return subprocess.run(
        [str(BIN / "airflow-dag-gen"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        check=False,
    )


def test_generate_then_check_is_clean_and_a_change_is_named(demo_manifest, tmp_path):
    out = tmp_path / "dags"
    first = _gen(
        "--project-type",
        "dbt",
        "--manifest-path",
        demo_manifest,
        "--output-dir",
        out,
        "--schedule",
        "daily",
    )
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert sorted(summary["written"]) == [
        "shop__airflow_dag_index.json",
        "shop__daily.py",
        "shop__hourly.py",
    ]
    assert "2 DAGs" in first.stderr
    check = _gen(
        "--project-type", "dbt", "--manifest-path", demo_manifest, "--output-dir", out, "--check"
    )
    assert check.returncode == 0 and json.loads(check.stdout)["stale"] == []
    (out / "shop__daily.py").write_text((out / "shop__daily.py").read_text() + "# edited by hand\n")
    stale = _gen(
        "--project-type", "dbt", "--manifest-path", demo_manifest, "--output-dir", out, "--check"
    )
    assert stale.returncode == 1 and "shop__daily.py" in stale.stderr
    assert json.loads(stale.stdout)["stale"] == ["shop__daily.py"]
    index = json.loads((out / "shop__airflow_dag_index.json").read_text())
    assert index["nodes"]["model.shop.fct_orders"] == {
        "dag_id": "shop__daily",
        "task_id": "marts.fct_orders",
    }


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "manifest.json"
    bad.write_text("{oops")
    for args in (["--manifest-path", bad], ["--manifest-path", tmp_path / "missing.json"], []):
        result = _gen("--project-type", "dbt", *args, "--output-dir", tmp_path / "out")
        assert result.returncode == 2
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2
    assert not (tmp_path / "out").exists()
    result = _gen(
        "--project-type",
        "dbt",
        "--manifest-path",
        bad,
        "--output-dir",
        tmp_path / "out",
        "--schedule",
        "often",
    )
    assert result.returncode == 2 and "--schedule" in result.stderr


def test_sqlmesh_project_generates_a_dag_per_cron(demo_sqlmesh_project, tmp_path):
    result = _gen(
        "--project-type",
        "sqlmesh",
        "--project-path",
        demo_sqlmesh_project,
        "--output-dir",
        tmp_path / "out",
        "--schedule",
        "hourly",
    )
    assert result.returncode == 0, result.stderr
    dags = json.loads(result.stdout)["dags"]
    assert set(dags) == {"sqlmesh_project__hourly", "sqlmesh_project__daily"}
    code = (tmp_path / "out" / "sqlmesh_project__daily.py").read_text()
    assert "sqlmesh run --select-model shop_marts.fct_orders_daily --no-auto-upstream" in code


def test_dagster_job_writes_the_same_files_as_the_cli(demo_manifest, tmp_path):
    os.environ["ORCHESTRATION_UTILS_DBT_MANIFEST"] = str(demo_manifest)
    os.environ["ORCHESTRATION_UTILS_ARTIFACTS_DIR"] = str(tmp_path / "artifacts")
    try:
        from orchestration_utils.definitions import defs

        definitions = defs()
        with dg.instance_for_test() as instance:
            result = definitions.resolve_job_def("generate_airflow_dags_job").execute_in_process(
                instance=instance
            )
            assert result.success
            written = result.output_for_node("write_airflow_dags")
            meta = instance.get_records_for_run(result.run_id).records
            assert any("files_written" in str(r.event_log_entry) for r in meta)
    finally:
        os.environ.pop("ORCHESTRATION_UTILS_DBT_MANIFEST")
        os.environ.pop("ORCHESTRATION_UTILS_ARTIFACTS_DIR")
    # The header places the project relative to the output dir: the job's layout, elsewhere.
    cli_out = tmp_path / "cli" / "airflow_dags" / "dbt"
    cli = _gen(
        "--project-type",
        "dbt",
        "--manifest-path",
        demo_manifest,
        "--output-dir",
        cli_out,
        "--project-dir",
        DEMO_DBT,
    )
    assert cli.returncode == 0, cli.stderr
    job_files = {p.name: p.read_bytes() for p in Path(written).iterdir()}
    cli_files = {p.name: p.read_bytes() for p in cli_out.iterdir()}
    assert job_files == cli_files and len(job_files) == 3


def _codegen_job(job_name, tmp_path, **settings_fields):
    import dataclasses

    from orchestration_utils.dagster_defs.generators import build_codegen_defs
    from orchestration_utils.settings import load_settings

    settings = dataclasses.replace(
        load_settings(), artifacts_dir=tmp_path / "artifacts", **settings_fields
    )
    return build_codegen_defs(settings).resolve_job_def(job_name)


@pytest.mark.parametrize(
    ("job_name", "op"),
    [
        ("generate_airflow_dags_job", "write_airflow_dags"),
        ("generate_dagster_package_job", "write_dagster_package"),
    ],
)
def test_generator_jobs_default_to_the_configured_project(
    demo_sqlmesh_project, tmp_path, job_name, op
):
    """A SQLMesh-only location: the launchpad's default config generates from SQLMesh."""
    job = _codegen_job(
        job_name,
        tmp_path,
        dbt_project_dir=None,
        dbt_manifest_path=None,
        sqlmesh_project_dir=demo_sqlmesh_project,
    )
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success
    written = Path(result.output_for_node(op))
    assert written.parent.name in ("airflow_dags", "dagster_package") and written.name == "sqlmesh"
    assert any(written.iterdir())


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"mode": "bogus"}, "config mode: 'bogus': expected one of dbt, bigquery"),
        ({"schedule": "every tuesday"}, "config schedule: "),
        ({"project_type": "airflow"}, "config project_type: 'airflow': expected dbt or sqlmesh"),
        (
            {"project_type": "sqlmesh"},
            (
                "config project_type: sqlmesh: no sqlmesh project configured "
                "(ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR is empty)"
            ),
        ),
    ],
)
def test_bad_generator_config_fails_the_run_naming_the_field(
    demo_manifest, tmp_path, config, message
):
    job = _codegen_job(
        "generate_airflow_dags_job",
        tmp_path,
        dbt_manifest_path=demo_manifest,
        sqlmesh_project_dir=None,
    )
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            run_config={"ops": {"write_airflow_dags": {"config": config}}},
            raise_on_error=False,
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error = failure.step_failure_data.error
    assert error.cls_name == "Failure" and message in error.message, error.message
    assert not (tmp_path / "artifacts" / "airflow_dags").exists()


def test_bigquery_mode_on_a_sqlmesh_project_is_refused_not_ignored(demo_sqlmesh_project, tmp_path):
    """SQLMesh runs its own models: asked for BigQuery operators, the generator says so rather
    than writing `sqlmesh run` tasks the user did not ask for."""
    result = _gen(
        "--project-type",
        "sqlmesh",
        "--project-path",
        demo_sqlmesh_project,
        "--output-dir",
        tmp_path / "out",
        "--mode",
        "bigquery",
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        (
            "airflow-dag-gen: error: --mode bigquery: only for dbt projects "
            "(SQLMesh models run through `sqlmesh run`): use mode dbt"
        )
    ]
    assert not (tmp_path / "out").exists()
    job = _codegen_job(
        "generate_airflow_dags_job",
        tmp_path,
        dbt_project_dir=None,
        dbt_manifest_path=None,
        sqlmesh_project_dir=demo_sqlmesh_project,
    )
    with dg.instance_for_test() as instance:
        run = job.execute_in_process(
            instance=instance,
            run_config={"ops": {"write_airflow_dags": {"config": {"mode": "bigquery"}}}},
            raise_on_error=False,
        )
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    assert (
        "config mode: 'bigquery': only for dbt projects" in failure.step_failure_data.error.message
    )
    assert not (tmp_path / "artifacts" / "airflow_dags").exists()


def test_generator_config_reads_as_a_user_types_it(demo_manifest, tmp_path):
    """Any case and surrounding blanks in `project_type` and `mode`; a blank `schedule` is the
    default."""
    job = _codegen_job(
        "generate_airflow_dags_job",
        tmp_path,
        dbt_manifest_path=demo_manifest,
        sqlmesh_project_dir=None,
    )
    config = {"project_type": " DBT ", "schedule": "   ", "mode": " Dbt "}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, run_config={"ops": {"write_airflow_dags": {"config": config}}}
        )
    assert result.success
    assert {p.name for p in Path(result.output_for_node("write_airflow_dags")).iterdir()} == {
        "shop__airflow_dag_index.json",
        "shop__daily.py",
        "shop__hourly.py",
    }


def test_what_the_system_refuses_to_look_at_is_one_line_not_a_traceback(demo_manifest, tmp_path):
    """A path over 255 bytes, a line break in a path, a start date Airflow cannot read."""
    long = tmp_path / ("L" * 300)
    result = _gen(
        "--project-type", "sqlmesh", "--project-path", long, "--output-dir", tmp_path / "x"
    )
    assert result.returncode == 2
    error = f"airflow-dag-gen: error: {str(long)[:77]}...: File name too long"
    assert result.stderr.splitlines()[1:] == [error]  # after the "reading ..." progress line
    monitor = subprocess.run(
        [str(BIN / "pipeline-health-monitor"), "--table", "a.b.c", "--check-freshness"]
        + ["--warehouse", f"duckdb://{long}.duckdb"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert monitor.returncode == 2 and "Traceback" not in monitor.stderr
    assert monitor.stderr.splitlines()[-1].endswith("...: File name too long")
    broken = _gen(
        "--project-type",
        "dbt",
        "--manifest-path",
        tmp_path / "m\nb.json",
        "--output-dir",
        tmp_path / "x",
    )
    assert broken.returncode == 2 and len(broken.stderr.splitlines()) == 2  # progress, error
    assert all("m\\nb.json" in line for line in broken.stderr.splitlines())
    dated = _gen(
        "--project-type",
        "dbt",
        "--manifest-path",
        demo_manifest,
        "--output-dir",
        tmp_path / "x",
        "--start-date",
        "banana",
    )
    assert dated.returncode == 2
    assert dated.stderr.splitlines() == [
        "airflow-dag-gen: error: --start-date: not an ISO date: 'banana'"
    ]
    assert not (tmp_path / "x").exists()
