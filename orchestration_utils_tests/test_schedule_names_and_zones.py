"""Schedules that name alike and schedules in a time zone, through both generators and the live
location: every model keeps a DAG and a schedule of its own, and runs at its zone's hour (real
Airflow 3.3.2 for the DAGs)."""

import json
import subprocess
import textwrap
from pathlib import Path

import dagster as dg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration_utils.codegen.airflow.plan import GeneratorOptions, plan_airflow
from orchestration_utils.project.model import Layer, Node, ResourceType, build_project
from orchestration_utils.project.schedule import normalize_schedule

_PROBE = textwrap.dedent("""
    import json, os, sys, tempfile
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp())
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    from datetime import datetime
    import pendulum
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction
    bag = DagBag(dag_folder=sys.argv[1])
    out = {"errors": {k: str(v)[-300:] for k, v in bag.import_errors.items()}, "dags": {}}
    for dag_id, dag in bag.dags.items():
        tt = coerce_to_core_timetable(dag.timetable)
        due = []
        for iso in sys.argv[2:]:
            info = tt.next_dagrun_info(last_automated_data_interval=None, restriction=TimeRestriction(
                earliest=pendulum.instance(datetime.fromisoformat(iso)), latest=None, catchup=True))
            due.append(info.run_after.in_timezone("UTC").isoformat())
        out["dags"][dag_id] = {"tasks": sorted(t.task_id for t in dag.tasks), "due": due}
    print(json.dumps(out))
""")


def _airflow(airflow_python: Path, folder: Path, *after: str) -> dict:
    proc = subprocess.run(
        [str(airflow_python), "-c", _PROBE, str(folder), *after],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _node(name: str, schedule: str) -> Node:
    return Node(
        unique_id=f"model.p.{name}",
        name=name,
        resource_type=ResourceType.MODEL,
        layer=Layer.MARTS,
        database="db",
        schema="s",
        identifier=name,
        relation_name=None,
        depends_on=(),
        schedule=normalize_schedule(schedule),
        fqn=("p", name),
    )


_CRONS = st.sampled_from(
    [
        "0 9-17 * * *",
        "0 9,17 * * *",
        "0 9 * * *",
        "0 17 * * *",
        "*/15 * * * *",
        "0 0 * * MON-FRI",
        "0 0 * * mon-fri",
        "0 6 * * * America/Los_Angeles",
        "0 6 * * * Europe/Paris",
        "0 6 * * *",
        "@daily",
        "0 0 * * *",
        "@weekly Asia/Tokyo",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_CRONS, min_size=1, max_size=8))
def test_every_schedule_gets_its_own_dag_and_every_model_a_task(crons):
    project = build_project("p", "dbt", "m.json", [_node(f"m{i}", c) for i, c in enumerate(crons)])
    plan = plan_airflow(project, GeneratorOptions(health_checks=False))
    schedules = {normalize_schedule(c) for c in crons}
    assert (
        len(plan.dags)
        == len(schedules)
        == len({d.dag_id for d in plan.dags})
        == len({d.file_name for d in plan.dags})
    )
    assert set(plan.index) == {n.unique_id for n in project}
    task_ids = [(d.dag_id, t.full_id) for d in plan.dags for t in d.tasks]
    assert len(task_ids) == len(set(task_ids))


def test_slug_alike_crons_in_airflow_and_the_location(tmp_path, airflow_python, monkeypatch):
    """The handed case with our own project: `0 8-18` and `0 8,18` (both once `cron_0_8_18_x_x_x`)."""
    root = tmp_path / "biz"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: biz\nversion: '1.0'\nconfig-version: 2\nprofile: biz\n"
    )
    (root / "profiles.yml").write_text(
        f"biz:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {root / 'biz.duckdb'}\n"
    )
    (root / "models" / "office_hours.sql").write_text(
        "{{ config(meta={'schedule': '0 8-18 * * *'}) }} select 1 as x"
    )
    (root / "models" / "two_shifts.sql").write_text(
        "{{ config(meta={'schedule': '0 8,18 * * *'}) }} select 2 as x"
    )
    from orchestration_utils_tests.conftest import dbt_parse

    dbt_parse(root, root / "target")
    manifest = root / "target" / "manifest.json"
    from orchestration_utils.codegen.airflow.generate import generate_airflow_dags

    plan, result = generate_airflow_dags(
        "dbt", manifest, tmp_path / "dags", GeneratorOptions(health_checks=False)
    )
    assert len([f for f in result.written if f.endswith(".py")]) == len(plan.dags) == 2
    seen = _airflow(airflow_python, tmp_path / "dags", "2026-07-01T09:30:00+00:00")
    assert not seen["errors"]
    assert sorted(seen["dags"]) == ["biz__cron_0_8and18_x_x_x", "biz__cron_0_8to18_x_x_x"]
    assert seen["dags"]["biz__cron_0_8to18_x_x_x"]["due"] == ["2026-07-01T10:00:00+00:00"]
    assert seen["dags"]["biz__cron_0_8and18_x_x_x"]["due"] == ["2026-07-01T18:00:00+00:00"]

    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(manifest))
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", str(root))
    monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", "")
    from orchestration_utils.definitions import defs

    location = defs()
    dg.Definitions.validate_loadable(location)
    assert {s.cron_schedule for s in location.schedules} == {"0 8-18 * * *", "0 8,18 * * *"}
    assert len({s.name for s in location.schedules}) == 2


def test_cron_tz_in_the_generated_dag(tmp_path, airflow_python):
    """SQLMesh `cron_tz`: 07:30 in Berlin is 05:30Z in July and 06:30Z in January."""
    from orchestration_utils.codegen.airflow.generate import generate_airflow_dags

    sm = tmp_path / "sm"
    (sm / "models").mkdir(parents=True)
    (sm / "config.yaml").write_text(
        "gateways:\n  local:\n    connection:\n      type: duckdb\n"
        "default_gateway: local\nmodel_defaults:\n  dialect: duckdb\n"
    )
    (sm / "models" / "up.sql").write_text(
        "MODEL (name raw.up, kind FULL, cron '@hourly'); SELECT 1 AS x"
    )
    (sm / "models" / "r.sql").write_text(
        "MODEL (name marts.r, kind FULL, cron '30 7 * * *', cron_tz 'Europe/Berlin');"
        " SELECT x FROM raw.up"
    )
    generate_airflow_dags("sqlmesh", sm, tmp_path / "dags", GeneratorOptions(health_checks=False))
    seen = _airflow(
        airflow_python, tmp_path / "dags", "2026-07-01T00:00:00+00:00", "2026-01-10T00:00:00+00:00"
    )
    assert not seen["errors"]
    (berlin,) = [d for dag_id, d in seen["dags"].items() if "europe_berlin" in dag_id]
    assert berlin["due"] == ["2026-07-01T05:30:00+00:00", "2026-01-10T06:30:00+00:00"]
