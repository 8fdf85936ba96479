"""Airflow plan -> files: one DAG module per schedule, and the project's index of node -> dag/task."""

from __future__ import annotations

import json
from pathlib import Path

from orchestration_utils.codegen.airflow.plan import AirflowPlan, DagPlan, slug
from orchestration_utils.codegen.formatting import format_python
from orchestration_utils.codegen.templates import environment
from orchestration_utils.codegen.writer import GeneratedFile, ProjectId, json_stamp, python_header

INDEX_SUFFIX = "__airflow_dag_index.json"  # after the project's slug, as its DAG ids
TOOL = "airflow-dag-gen"
_ENV = environment(Path(__file__).parent / "templates")


def render_airflow(plan: AirflowPlan, source_hash: str, project: ProjectId) -> list[GeneratedFile]:
    files = [_render_dag(plan, dag, source_hash, project) for dag in plan.dags]
    index = {
        **json_stamp(TOOL, project),
        "source": project.describe(),
        "source_sha256": source_hash,
        "dags": {d.dag_id: d.file_name for d in plan.dags},
        "nodes": plan.index,
    }
    files.append(
        GeneratedFile(
            index_file(plan), json.dumps(index, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
    )
    return files


def index_file(plan: AirflowPlan) -> str:
    """One index per project, so projects sharing a DAG folder keep theirs."""
    return slug(plan.project) + INDEX_SUFFIX


def _render_dag(
    plan: AirflowPlan, dag: DagPlan, source_hash: str, project: ProjectId
) -> GeneratedFile:
    kinds = {t.kind for t in dag.tasks}
    uses = {
        "bash": bool(kinds & {"dbt", "dbt_test", "sqlmesh"}),
        "bigquery_sql": "bigquery_sql" in kinds,
        "health": "health" in kinds,
        "assets": bool(dag.trigger_assets) or any(t.outlets or t.inlets for t in dag.tasks),
    }
    sdk_imports = ["DAG", "TaskGroup"]
    if uses["assets"]:
        sdk_imports.append("Asset")
    if dag.trigger_assets:
        sdk_imports += ["AssetAll", "AssetOrTimeSchedule"]
    if dag.trigger_assets or dag.timezone != "UTC":
        sdk_imports.append("CronTriggerTimetable")
    if dag.deadline_hours:
        sdk_imports += ["AsyncCallback", "DeadlineAlert", "DeadlineReference"]
    body = _ENV.get_template("dag.py.j2").render(
        plan=plan, dag=dag, uses=uses, sdk_imports=sorted(sdk_imports)
    )
    body = format_python(body, dag.file_name)
    return GeneratedFile(dag.file_name, python_header(TOOL, project, source_hash, body) + body)
