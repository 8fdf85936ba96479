"""Run by the Airflow 3.3.2 venv (not the project's): load a folder with a real DagBag and print
what Airflow sees as JSON (Airflow logs to stdout, so to a file).
Usage: airflow_probe.py OUT DAG_FOLDER [DAG_FOLDER ...]; one process pays Airflow's import once."""

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow_home_"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "600")

try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # older 3.x
    from airflow.models.dagbag import DagBag


def _uris(items):
    return sorted(getattr(a, "uri", str(a)) for a in items or [])


def _schedule(dag):
    timetable = dag.timetable
    assets = []
    inner = getattr(timetable, "asset_condition", None)
    if inner is not None:
        stack = [inner]
        while stack:
            cond = stack.pop()
            if hasattr(cond, "uri"):
                assets.append(cond.uri)
            stack.extend(getattr(cond, "objects", []) or [])
    return {
        "timetable": type(timetable).__name__,
        "summary": getattr(timetable, "summary", ""),
        "assets": sorted(assets),
    }


def probe(folder):
    started = time.perf_counter()
    bag = DagBag(dag_folder=folder, safe_mode=False)
    parse_seconds = time.perf_counter() - started
    out = {
        "import_errors": {k: v[-2000:] for k, v in bag.import_errors.items()},
        "parse_seconds": parse_seconds,
        "dags": {},
    }
    for dag_id, dag in sorted(bag.dags.items()):
        out["dags"][dag_id] = {
            "schedule": _schedule(dag),
            "deadline": repr(getattr(dag, "deadline", None))
            if getattr(dag, "deadline", None)
            else None,
            "tags": sorted(dag.tags),
            "tasks": {
                t.task_id: {
                    "operator": type(t).__name__,
                    "upstream": sorted(t.upstream_task_ids),
                    "outlets": _uris(t.outlets),
                    "inlets": _uris(t.inlets),
                    "owner": t.owner,
                    "group": t.task_group.group_id if t.task_group else None,
                }
                for t in dag.tasks
            },
        }
    return out


def main(out_path, folders):
    with open(out_path, "w") as fh:
        json.dump({folder: probe(folder) for folder in folders}, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
