"""Hostile node names carried through airflow-dag-gen into real Airflow 3.3.2: every templated field
is rendered with the DAG's Jinja environment and the bash tasks run with stub `dbt`/`sqlmesh`
executables. Nothing a name says executes, and the stubs receive each selector exactly."""

import json
import os
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration_utils.codegen.airflow.plan import (
    ExecutionMode,
    GeneratorOptions,
    _sql_string,
    plan_airflow,
)
from orchestration_utils.codegen.airflow.render import TOOL, render_airflow
from orchestration_utils.codegen.writer import Owner, ProjectId, write_files
from orchestration_utils.project.dbt_manifest import project_from_manifest
from orchestration_utils.project.model import Layer, Node, ResourceType, build_project

CANARY = "pwned_canary"
SEEDS = [
    f'x{{{{"%c"|format(39)}}}};touch${{IFS}}{CANARY};{{{{"%c"|format(39)}}}}',
    f"a'; touch {CANARY}; echo '",
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    "{{ conn.secret.password }}",
    "{% raw %}{% endraw %}{{ 7*7 }}",
    '{# c #}"q\\',
    "new\nline\ttab",
    "naïve ☃ ✓",
    "x.sh",
    "y.sql",
    "{% for i in range(3) %}{{ i }}{% endfor %}",
    "a b;c|d&e>f<g",
    "\\{{ '\\'' }}",
]
# Any printable text without NUL (which no process argument can carry), plus the seeds.
NAMES = st.lists(
    st.one_of(
        st.sampled_from(SEEDS),
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=24),
    ),
    min_size=4,
    max_size=10,
    unique=True,
)


def _manifest(names):
    nodes = {}
    for i, name in enumerate(names):
        uid = f"model.p.m{i}"
        nodes[uid] = {
            "unique_id": uid,
            "name": name,
            "resource_type": "model",
            "package_name": "p",
            "fqn": ["p", "marts", name],
            "database": "proj",
            "schema": "ds",
            "alias": name,
            "original_file_path": f"models/marts/m{i}.sql",
            "config": {"materialized": "table"},
            "meta": {"critical": True},
            "depends_on": {"nodes": [f"model.p.m{i - 1}"] if i else []},
            "compiled_code": f"SELECT {_sql_string(name)} AS name",
        }
    # A test over two models gets its own `dbt test` task.
    nodes["test.p.t"] = {
        "unique_id": "test.p.t",
        "name": names[0] + "_test",
        "resource_type": "test",
        "package_name": "p",
        "attached_node": "model.p.m1",
        "depends_on": {"nodes": ["model.p.m0", "model.p.m1"]},
        "config": {},
    }
    return {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "project_name": "p",
            "adapter_type": "bigquery",
        },
        "nodes": nodes,
        "sources": {},
        "parent_map": {"test.p.t": ["model.p.m0", "model.p.m1"]},
    }


def _sqlmesh_project(names):
    nodes = [
        Node(
            unique_id=f"m{i}",
            name=name,
            resource_type=ResourceType.MODEL,
            layer=Layer.MARTS,
            database=None,
            schema="ds",
            identifier=name,
            relation_name=None,
            depends_on=(),
        )
        for i, name in enumerate(names)
    ]
    return build_project("sm", "sqlmesh", "sm", nodes)


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(names=NAMES)
def test_hostile_names_never_execute_and_reach_dbt_exactly(names, tmp_path_factory, airflow_python):
    root = tmp_path_factory.mktemp("hostile")
    project = project_from_manifest(_manifest(names), root / "manifest.json")
    folders = {
        "dbt": (project, GeneratorOptions()),
        "bigquery": (project, GeneratorOptions(mode=ExecutionMode.BIGQUERY)),
        "sqlmesh": (_sqlmesh_project(names), GeneratorOptions()),
    }
    for folder, (proj, options) in folders.items():
        plan = plan_airflow(proj, options)
        project = ProjectId(str(plan.kind), plan.project, "..")
        write_files(root / folder, render_airflow(plan, "0" * 64, project), Owner(TOOL, project))
    stubs, cwd = root / "stubs", root / "cwd"
    stubs.mkdir()
    cwd.mkdir()
    for tool in ("dbt", "sqlmesh"):
        stub = stubs / tool
        stub.write_text(
            f"#!{sys.executable}\nimport json, sys\n"
            f"open({str(root / 'calls.jsonl')!r}, 'a').write(json.dumps([{tool!r}, *sys.argv[1:]]) + '\\n')\n"
        )
        stub.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(root / "home"),
        "ORCHESTRATION_UTILS_PROJECT_DIR": str(cwd),
    }
    runner = os.path.join(os.path.dirname(__file__), "airflow_task_runner.py")
    subprocess.run(
        [str(airflow_python), runner, str(root / "out.json"), *(str(root / f) for f in folders)],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=600,
    )
    out = json.loads((root / "out.json").read_text())

    assert not [p for p in root.rglob(f"*{CANARY}*")], "a name ran a command"
    for folder, result in out.items():
        assert result["import_errors"] == {}, (folder, result["import_errors"])
        failed = [(t["task_id"], t["result"]) for t in result["tasks"] if t["result"] != "ok"]
        assert failed == [], (folder, failed)
    calls = sorted(json.loads(line) for line in (root / "calls.jsonl").read_text().splitlines())
    expected = sorted(
        [
            ["dbt", "build", "--select", f"fqn:p.marts.{n}", "--indirect-selection", "cautious"]
            for n in names
        ]
        + [["dbt", "test", "--select", names[0] + "_test", "--indirect-selection", "cautious"]] * 2
        + [["sqlmesh", "run", "--select-model", n, "--no-auto-upstream"] for n in names]
    )
    assert calls == expected
    rendered = [t["rendered"] for r in out.values() for t in r["tasks"]]
    queries = " ".join(str(r.get("configuration")) + str(r.get("sql")) for r in rendered)
    for name in names:  # BigQuery jobs and checks receive the SQL exactly, with the name as data
        assert repr(f"SELECT {_sql_string(name)} AS name")[1:-1] in queries
        assert repr(_sql_string(name))[1:-1] in queries
