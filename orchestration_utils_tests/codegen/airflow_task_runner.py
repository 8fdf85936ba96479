"""Run by the Airflow 3.3.2 venv: load DAG folders with a real DagBag, render every task's templated
fields with its DAG's Jinja environment as a worker does, and execute the BashOperator tasks (put
stub executables first on PATH). Usage: airflow_task_runner.py OUT DAG_FOLDER [DAG_FOLDER ...]"""

import json
import os
import sys
import tempfile

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow_home_"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

import pendulum

try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # older 3.x
    from airflow.models.dagbag import DagBag


def run(folder):
    bag = DagBag(dag_folder=folder, safe_mode=False)
    when = pendulum.datetime(2026, 1, 1, tz="UTC")
    out = {"import_errors": {k: v[-2000:] for k, v in bag.import_errors.items()}, "tasks": []}
    for dag_id, dag in sorted(bag.dags.items()):
        for task in dag.tasks:
            context = {
                "dag": dag,
                "task": task,
                "params": {},
                "run_id": "manual__2026-01-01",
                "ds": "2026-01-01",
                "ts": when.isoformat(),
                "logical_date": when,
                "data_interval_start": when,
                "data_interval_end": when.add(days=1),
            }
            rec = {"dag_id": dag_id, "task_id": task.task_id, "operator": type(task).__name__}
            try:
                task.render_template_fields(context)
                rec["rendered"] = {name: getattr(task, name, None) for name in task.template_fields}
                if type(task).__name__ == "BashOperator":
                    task.execute(context)
                rec["result"] = "ok"
            except BaseException as exc:  # noqa: BLE001 - a failing task is a result, not a crash
                rec["result"] = f"error: {type(exc).__name__}: {str(exc)[:500]}"
            out["tasks"].append(rec)
    return out


if __name__ == "__main__":
    with open(sys.argv[1], "w") as fh:
        json.dump({f: run(f) for f in sys.argv[2:]}, fh, default=repr)
