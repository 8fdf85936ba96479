"""Generated DAG folders loaded by real Airflow 3.3.2 (DagBag, own venv): no import errors, one task
per node, every edge of the project graph present in-DAG or across DAGs through an Asset."""

import json
import subprocess
from pathlib import Path

import pytest

from orchestration_utils.codegen.airflow.generate import generate_airflow_dags
from orchestration_utils.codegen.airflow.plan import GeneratorOptions, plan_airflow
from orchestration_utils.codegen.airflow.render import TOOL, render_airflow
from orchestration_utils.codegen.writer import Owner, ProjectId, write_files
from orchestration_utils.errors import ProjectError
from orchestration_utils.project.loader import load_project
from orchestration_utils.project.model import ResourceType
from orchestration_utils_tests.codegen.test_airflow_plan import hostile_project
from orchestration_utils_tests.conftest import CORPUS, corpus_manifests, synthetic_manifest

PROBE = Path(__file__).with_name("airflow_probe.py")


def _loadable_corpus():
    cases = []
    for path in corpus_manifests():
        try:
            load_project("dbt", path)
        except ProjectError:
            continue  # v1-v3: refused with a message (tested in the project tests)
        cases.append(path)
    return cases


@pytest.fixture(scope="module")
def generated(tmp_path_factory, demo_manifest, demo_sqlmesh_project, airflow_python):
    """Every case generated into its own folder, then one Airflow process probes them all."""
    root = tmp_path_factory.mktemp("airflow_cases")
    cases = {}

    def add(name, project_type, source):
        out = root / name
        plan, _ = generate_airflow_dags(project_type, source, out, GeneratorOptions())
        cases[name] = (load_project(project_type, source), plan, out)

    add("demo_dbt", "dbt", demo_manifest)
    add("demo_sqlmesh", "sqlmesh", demo_sqlmesh_project)
    for path in _loadable_corpus():
        add("corpus__" + str(path.parent.relative_to(CORPUS)).replace("/", "__"), "dbt", path)
    add("synthetic_5000", "dbt", synthetic_manifest(5000))
    hostile = hostile_project()
    hostile_plan = plan_airflow(hostile, GeneratorOptions())
    project = ProjectId(str(hostile_plan.kind), hostile_plan.project, "..")
    write_files(
        root / "hostile", render_airflow(hostile_plan, "0" * 64, project), Owner(TOOL, project)
    )
    cases["hostile"] = (hostile, hostile_plan, root / "hostile")

    out = root / "probe.json"
    result = subprocess.run(
        [str(airflow_python), str(PROBE), str(out), *[str(c[2]) for c in cases.values()]],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(out.read_text())
    return {
        name: (project, plan, seen[str(folder)]) for name, (project, plan, folder) in cases.items()
    }


def _case_names():
    return ["demo_dbt", "demo_sqlmesh", "hostile", "synthetic_5000"] + [
        "corpus__" + str(p.parent.relative_to(CORPUS)).replace("/", "__")
        for p in _loadable_corpus()
    ]


@pytest.mark.parametrize("case", _case_names())
def test_airflow_sees_the_whole_project_graph(generated, case):
    project, plan, seen = generated[case]
    assert seen["import_errors"] == {}
    assert set(seen["dags"]) == {d.dag_id for d in plan.dags}
    for dag in plan.dags:
        assert len(seen["dags"][dag.dag_id]["tasks"]) == len(dag.tasks)
    task_of = {}
    for uid, where in plan.index.items():
        task_of[uid] = seen["dags"][where["dag_id"]]["tasks"][where["task_id"]]  # exists
    assert set(task_of) == {n.unique_id for n in project.runnable()}  # one task per node
    for up, down in project.edges():
        down_task = task_of[down]
        if project.nodes[up].resource_type == ResourceType.SOURCE:
            assert down_task["inlets"], (up, down)
        elif plan.index[up]["dag_id"] == plan.index[down]["dag_id"]:
            assert plan.index[up]["task_id"] in down_task["upstream"], (up, down)
        else:
            shared = set(task_of[up]["outlets"]) & set(down_task["inlets"])
            assert shared, f"cross-DAG edge {up} -> {down} lost"


def test_cross_dag_dependency_schedules_the_downstream_dag_on_the_asset(generated):
    _, _, seen = generated["demo_dbt"]
    hourly = seen["dags"]["shop__hourly"]
    assert hourly["schedule"]["timetable"] == "AssetOrTimeSchedule"
    assert hourly["schedule"]["assets"] == ["duckdb://shop/raw/raw_events"]  # the adapter's scheme
    assert seen["dags"]["shop__daily"]["deadline"]  # sla_hours -> Deadline Alert
    assert (
        "marts_health" not in seen["dags"]["shop__daily"]["tasks"]
    )  # no BigQuery checks on DuckDB
    _, _, hostile = generated["hostile"]  # a BigQuery project: its checks load
    operators = {t["operator"] for d in hostile["dags"].values() for t in d["tasks"].values()}
    assert "BigQueryCheckOperator" in operators


def test_task_groups_per_layer(generated):
    _, _, seen = generated["demo_dbt"]
    tasks = seen["dags"]["shop__daily"]["tasks"]
    assert tasks["staging.stg_orders"]["group"] == "staging"
    assert tasks["marts.fct_orders"]["group"] == "marts"
    assert tasks["marts.fct_orders"]["owner"] == "orders-team@example.com"
