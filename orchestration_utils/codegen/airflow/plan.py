"""Project -> Airflow plan: DAGs per schedule, tasks, layer groups, edges, assets, deadlines.

The plan is plain data; `render.py` only prints it. Tests assert on the plan without
parsing Python, and on the rendered files with real Airflow.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

from orchestration_utils.codegen.templates import jinja_text
from orchestration_utils.errors import ProjectError
from orchestration_utils.project.model import Layer, Node, Project, ProjectKind, ResourceType
from orchestration_utils.project.schedule import (
    normalize_schedule,
    schedule_cron,
    schedule_interval,
    schedule_slug,
    schedule_timezone,
)

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
_LABEL_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_LAYER_ORDER = [
    Layer.RAW,
    Layer.STAGING,
    Layer.INTERMEDIATE,
    Layer.MARTS,
    Layer.SNAPSHOTS,
    Layer.OTHER,
]
# BigQuery can only run these materializations as one statement; the rest keep dbt's logic.
_PLAIN_SQL = {"table": "TABLE", "view": "VIEW"}
# `__TABLES__` counts rows of stored tables only (a view shows 0 rows, an ephemeral model no entry).
_STORED = frozenset({"table", "incremental"})
# What Airflow loads as a template file when a templated string ends with it (BashOperator,
# BigQuery operators): a project value must never end a templated field.
_BASH_EXT, _SQL_EXT = (".sh", ".bash"), (".sql", ".json")


class ExecutionMode(StrEnum):
    DBT = "dbt"  # `dbt build --select <node>`: any warehouse (the demo runs it on DuckDB)
    BIGQUERY = "bigquery"  # compiled SQL through a deferrable BigQueryInsertJobOperator


# SQLMesh renders and runs its models itself (`sqlmesh run`); there is no compiled SQL to hand
# to BigQuery operators.
BIGQUERY_MODE_DBT_ONLY = (
    "only for dbt projects (SQLMesh models run through `sqlmesh run`): use mode dbt"
)


@dataclass(frozen=True)
class GeneratorOptions:
    default_schedule: str = "@daily"
    mode: ExecutionMode = ExecutionMode.DBT
    health_checks: bool = True
    project_dir: str = "."  # where the dbt/SQLMesh project lives on the Airflow workers
    start_date: str = "2024-01-01"
    gcp_conn_id: str = "google_cloud_default"
    location: str = "US"
    deadline_callback: str = (
        "airflow.providers.slack.notifications.slack_webhook.SlackWebhookNotifier"
    )
    deadline_callback_conn_id: str = "slack_default"


@dataclass(frozen=True)
class TaskPlan:
    task_id: str  # within its group
    group: str | None
    kind: str  # dbt | dbt_test | sqlmesh | bigquery_sql | health
    node_id: str | None
    command: str = ""  # bash command (dbt, sqlmesh)
    sql: str = ""  # bigquery_sql / health
    labels: tuple[tuple[str, str], ...] = ()
    owner: str | None = None
    doc: str = ""
    upstream: tuple[str, ...] = ()  # full task ids in the same DAG
    outlets: tuple[str, ...] = ()  # asset URIs
    inlets: tuple[str, ...] = ()

    @property
    def full_id(self) -> str:
        return f"{self.group}.{self.task_id}" if self.group else self.task_id


@dataclass(frozen=True)
class DagPlan:
    dag_id: str
    file_name: str
    schedule: str
    cron: str
    trigger_assets: tuple[str, ...]  # upstream assets from other DAGs that also trigger a run
    tags: tuple[str, ...]
    owner: str
    doc: str
    deadline_hours: float | None
    sla_models: tuple[tuple[str, float], ...]
    groups: tuple[str, ...]
    tasks: tuple[TaskPlan, ...]
    timezone: str = "UTC"  # the zone `cron` is read in (SQLMesh `cron_tz`)


@dataclass(frozen=True)
class AirflowPlan:
    project: str
    kind: str
    options: GeneratorOptions
    dags: tuple[DagPlan, ...]
    index: dict[str, dict[str, str]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # for the user, beside the files (the CLI's stderr, the run log)


def slug(text: str) -> str:
    return _ID_UNSAFE.sub("_", text).strip("_").lower() or "x"


def asset_uri(node: Node, adapter: str | None) -> str:
    """`<adapter>://database/schema/table`: Airflow 3's BigQuery form (`bigquery://project/dataset/table`)
    for BigQuery, the adapter's own scheme for other warehouses (`warehouse` when unknown)."""
    scheme = re.sub(r"[^a-z0-9+.-]+", "", (adapter or "warehouse").lower()) or "warehouse"
    parts = [node.database or "default", node.schema or "default", node.identifier]
    return f"{scheme}://" + "/".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", p) for p in parts)


def bigquery_checks(project: Project, options: GeneratorOptions) -> bool:
    """Health tasks are BigQuery metadata queries: only for a project that targets BigQuery."""
    return options.health_checks and project.adapter == "bigquery"


def plan_airflow(project: Project, options: GeneratorOptions) -> AirflowPlan:
    """The DAGs, tasks and index to write. Raises ProjectError for a node bigquery mode cannot
    run (no compiled SQL)."""
    warnings: tuple[str, ...] = ()
    if options.mode == ExecutionMode.BIGQUERY and project.adapter != "bigquery":
        # Its compiled SQL is that warehouse's dialect (dbt has written the field since 0.19).
        # Written anyway: a project compiled against a stand-in warehouse is a common test setup.
        adapter = project.adapter or "missing"
        warning = (
            f"{project.source}: metadata.adapter_type is {adapter!r}: bigquery mode hands its "
            "compiled SQL to BigQuery as written; compile against BigQuery for production DAGs"
        )
        warnings = (warning,)
    default = normalize_schedule(options.default_schedule)
    runnable = project.runnable()
    schedule_of = {n.unique_id: n.schedule or default for n in runnable}
    task_id_of = _task_ids(runnable)
    dag_id_of = {s: f"{slug(project.name)}__{schedule_slug(s)}" for s in set(schedule_of.values())}

    by_schedule: dict[str, list[Node]] = defaultdict(list)
    for node in runnable:  # topological order is kept inside each DAG
        by_schedule[schedule_of[node.unique_id]].append(node)
    # Upstream nodes read by another DAG publish an asset; sources are outside every DAG.
    # A test spanning several models counts as reading from each of them.
    exported = {
        up
        for n in runnable
        for up in (*n.depends_on, *(p for t in n.tests for p in t.other_parents))
        if up in schedule_of and schedule_of[up] != schedule_of[n.unique_id]
    }

    dags, index = [], {}
    for schedule in sorted(by_schedule, key=lambda s: (schedule_interval(s), s)):
        dag = _plan_dag(
            project,
            options,
            schedule,
            by_schedule[schedule],
            schedule_of,
            task_id_of,
            dag_id_of,
            exported,
        )
        dags.append(dag)
        for task in dag.tasks:
            if task.node_id and task.kind not in ("health", "dbt_test"):
                index[task.node_id] = {"dag_id": dag.dag_id, "task_id": task.full_id}
    return AirflowPlan(
        project.name, project.kind, options, tuple(dags), dict(sorted(index.items())), warnings
    )


def _task_ids(nodes: list[Node]) -> dict[str, str]:
    """Unique, readable ids: the node name, qualified by package or version when names clash."""
    base = {n.unique_id: slug(_display_name(n)) for n in nodes}
    counts: dict[str, int] = defaultdict(int)
    for tid in base.values():
        counts[tid] += 1
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for node in sorted(nodes, key=lambda n: n.unique_id):
        tid = base[node.unique_id]
        if counts[tid] > 1:
            tid = slug(f"{node.package}__{_display_name(node)}") if node.package else tid
        candidate, i = tid[:200], 2
        while candidate in taken:
            candidate, i = f"{tid[:196]}_{i}", i + 1
        taken.add(candidate)
        ids[node.unique_id] = candidate
    return ids


def _display_name(node: Node) -> str:
    # Versioned dbt models share a name: model.pkg.dim_customers.v2 -> dim_customers_v2
    tail = node.unique_id.split(".")[-1]
    if node.resource_type == ResourceType.MODEL and re.fullmatch(r"v\d+", tail):
        return f"{node.name}_{tail}"
    return node.name.split(".")[-1] if node.resource_type == ResourceType.SOURCE else node.name


def _plan_dag(
    project, options, schedule, nodes, schedule_of, task_id_of, dag_id_of, exported
) -> DagPlan:
    dag_id = dag_id_of[schedule]
    in_dag = {n.unique_id for n in nodes}
    group_of = {n.unique_id: n.layer.value for n in nodes}
    full_id = {uid: f"{group_of[uid]}.{task_id_of[uid]}" for uid in in_dag}
    interval = schedule_interval(schedule)
    tasks: list[TaskPlan] = []
    trigger_assets: set[str] = set()
    nodes_by_id = project.nodes
    for node in nodes:
        upstream, inlets = [], []
        for up in node.depends_on:
            if up in in_dag:
                upstream.append(full_id[up])
            elif nodes_by_id[up].resource_type == ResourceType.SOURCE:
                inlets.append(
                    asset_uri(nodes_by_id[up], project.adapter)
                )  # read, never run: lineage only
            elif up in schedule_of:
                uri = asset_uri(nodes_by_id[up], project.adapter)
                inlets.append(uri)
                # An upstream that runs no more often than this DAG triggers it; one that runs
                # more often would make this DAG run at its pace, so it only informs lineage.
                if schedule_interval(schedule_of[up]) >= interval:
                    trigger_assets.add(uri)
        tasks.append(
            _node_task(
                project,
                options,
                dag_id,
                node,
                task_id_of[node.unique_id],
                group_of[node.unique_id],
                tuple(sorted(upstream)),
                tuple(sorted(inlets)),
                (asset_uri(node, project.adapter),) if node.unique_id in exported else (),
            )
        )
        if project.kind == ProjectKind.DBT:
            tasks += _multi_parent_test_tasks(
                node, group_of, full_id, in_dag, nodes_by_id, project.adapter
            )
        if bigquery_checks(project, options) and node.critical and _stored(node):
            tasks.append(
                _health_task(
                    node,
                    f"health__{task_id_of[node.unique_id]}",
                    group_of[node.unique_id],
                    (full_id[node.unique_id],),
                    options,
                )
            )
    if bigquery_checks(project, options):
        marts = [n for n in nodes if n.layer == Layer.MARTS and _stored(n)]
        if marts:
            tasks.append(
                _marts_health_task(
                    marts, tuple(sorted(full_id[n.unique_id] for n in marts)), options
                )
            )
    slas = tuple(sorted((n.name, n.sla_hours) for n in nodes if n.sla_hours))
    groups = tuple(
        l.value for l in _LAYER_ORDER if any(group_of[n.unique_id] == l.value for n in nodes)
    )
    owners = sorted({n.owner for n in nodes if n.owner})
    return DagPlan(
        dag_id=dag_id,
        file_name=f"{dag_id}.py",
        schedule=schedule,
        cron=schedule_cron(schedule),
        timezone=schedule_timezone(schedule) or "UTC",
        trigger_assets=tuple(sorted(trigger_assets)),
        tags=tuple(sorted({project.kind, slug(project.name), schedule_slug(schedule)})),
        owner=owners[0] if len(owners) == 1 else "data-platform",
        doc=_dag_doc(project, schedule, nodes, slas, trigger_assets),
        deadline_hours=min((h for _, h in slas), default=None),
        sla_models=slas,
        groups=groups,
        tasks=tuple(tasks),
    )


def _node_task(
    project, options, dag_id, node, task_id, group, upstream, inlets, outlets
) -> TaskPlan:
    common = {
        "task_id": task_id,
        "group": group,
        "node_id": node.unique_id,
        "owner": node.owner,
        "doc": _task_doc(node),
        "upstream": upstream,
        "inlets": inlets,
        "outlets": outlets,
    }
    if project.kind == ProjectKind.SQLMESH:
        return TaskPlan(
            kind="sqlmesh",
            command=f"sqlmesh run --select-model {_bash_word(node.name)} --no-auto-upstream",
            **common,
        )
    if options.mode == ExecutionMode.BIGQUERY and _plain_sql(node):
        compiled = node.compiled_sql
        if not compiled:
            raise ProjectError(
                project.source,
                f"{node.unique_id}: bigquery mode needs compiled SQL: run `dbt compile` and pass its manifest",
            )
        target = ".".join(
            f"`{_bq_ident(p)}`" for p in (node.database, node.schema, node.identifier) if p
        )
        sql = jinja_text(
            f"CREATE OR REPLACE {_PLAIN_SQL[node.materialization]} {target} AS\n{compiled}",
            _SQL_EXT,
        )
        labels = (
            ("airflow_dag", _label(dag_id)),
            ("airflow_task", _label(f"{group}.{task_id}")),
            ("dbt_model", _label(node.name)),
        )
        return TaskPlan(kind="bigquery_sql", sql=sql, labels=labels, **common)
    # `cautious`: only the node's own tests run with it; a test that also reads another model
    # gets its own task after all of them (dbt's default would run it before they exist).
    command = f"dbt build --select {_bash_word(node.dbt_selector)} --indirect-selection cautious"
    return TaskPlan(kind="dbt", command=command, **common)


def _multi_parent_test_tasks(
    node, group_of, full_id, in_dag, nodes_by_id, adapter
) -> list[TaskPlan]:
    tasks = []
    for test in node.tests:
        if not test.other_parents:
            continue
        upstream = [full_id[node.unique_id]] + [
            full_id[p] for p in test.other_parents if p in in_dag
        ]
        inlets = [asset_uri(nodes_by_id[p], adapter) for p in test.other_parents if p not in in_dag]
        tasks.append(
            TaskPlan(
                task_id=f"test__{slug(test.name)}"[:200],
                group=group_of[node.unique_id],
                kind="dbt_test",
                node_id=node.unique_id,
                command=f"dbt test --select {_bash_word(test.name)} --indirect-selection cautious",
                owner=node.owner,
                doc=f"dbt test `{test.name}` ({test.test_type}), which reads several models.",
                upstream=tuple(sorted(set(upstream))),
                inlets=tuple(sorted(set(inlets))),
            )
        )
    return tasks


def _health_task(
    node: Node, task_id: str, group: str, upstream: tuple[str, ...], options
) -> TaskPlan:
    max_age = node.freshness_hours or (node.sla_hours and node.sla_hours + 24) or 24
    # Table metadata only (`__TABLES__`): no bytes scanned, whatever the table's size.
    sql = (
        "SELECT row_count > 0 AS has_rows,\n"
        f"  TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), TIMESTAMP_MILLIS(last_modified_time), MINUTE) <= {int(max_age * 60)} AS is_fresh\n"
        f"FROM `{_bq_ident(node.database or '')}.{_bq_ident(node.schema or '')}.__TABLES__`\n"
        f"WHERE table_id = {_sql_string(node.identifier)}"
    )
    return TaskPlan(
        task_id=task_id,
        group=group,
        kind="health",
        node_id=node.unique_id,
        sql=jinja_text(sql, _SQL_EXT),
        owner=node.owner,
        doc=f"Health check of {node.table_id}: has rows, modified within {max_age:g} h.",
        upstream=upstream,
    )


def _marts_health_task(marts: list[Node], upstream: tuple[str, ...], options) -> TaskPlan:
    by_dataset: dict[tuple[str, str], list[str]] = defaultdict(list)
    for n in marts:
        by_dataset[(n.database or "", n.schema or "")].append(n.identifier)
    selects = [
        f"SELECT table_id, row_count FROM `{_bq_ident(db)}.{_bq_ident(ds)}.__TABLES__`\n"
        f"  WHERE table_id IN ({', '.join(_sql_string(t) for t in sorted(tables))})"
        for (db, ds), tables in sorted(by_dataset.items())
    ]
    sql = (
        f"SELECT COUNT(*) = {len(marts)} AS all_exist, COUNTIF(row_count = 0) = 0 AS none_empty\nFROM (\n  "
        + "\n  UNION ALL\n  ".join(selects)
        + "\n)"
    )
    return TaskPlan(
        task_id="marts_health",
        group=None,
        kind="health",
        node_id=None,
        sql=jinja_text(sql, _SQL_EXT),
        doc=f"All {len(marts)} marts tables of this DAG exist and have rows.",
        upstream=upstream,
    )


def _task_doc(node: Node) -> str:
    lines = [f"**{node.name}** ({node.resource_type.value}, {node.layer.value})", ""]
    if node.description:
        lines += [node.description, ""]
    facts = [
        ("table", node.table_id),
        ("materialization", node.materialization),
        ("owner", node.owner),
        ("schedule", node.schedule),
        ("sla_hours", node.sla_hours),
        ("freshness_hours", node.freshness_hours),
        ("critical", node.critical or None),
        ("tags", ", ".join(node.tags) or None),
    ]
    lines += [f"- {k}: {v}" for k, v in facts if v is not None]
    return "\n".join(lines)


def _dag_doc(project, schedule, nodes, slas, trigger_assets) -> str:
    lines = [
        f"# {project.name}: {schedule}",
        "",
        # The source by name (its hash is in the file header), never by path: the file is the same
        # from any checkout.
        f"{len(nodes)} {project.kind} nodes of project `{project.name}` that run on `{schedule}`.",
    ]
    if slas:
        lines += [
            "",
            "## SLA (deadline alert)",
            "The DAG's deadline is the strictest `sla_hours` of its models, counted from the run's logical date:",
            "",
        ]
        lines += [f"- {name}: {hours:g} h" for name, hours in slas]
    if trigger_assets:
        lines += ["", "## Also triggered by upstream DAGs' assets", ""] + [
            f"- {a}" for a in sorted(trigger_assets)
        ]
    # Ends with a newline: Airflow reads a DAG doc ending in `.md` as a file path.
    return "\n".join(lines) + "\n"


def _bash_word(text: str) -> str:
    """One shell word for bash, after Airflow's Jinja rendering of `bash_command`."""
    return jinja_text(shlex.quote(text), _BASH_EXT)


def _stored(node: Node) -> bool:
    return node.resource_type == ResourceType.MODEL and node.materialization in _STORED


def _plain_sql(node: Node) -> bool:
    """A model BigQuery runs faithfully as one `CREATE OR REPLACE ... AS` of its compiled SQL: a SQL
    table or view whose config adds nothing dbt-bigquery's materialization would (partitioning,
    clustering, labels, hooks, ...). Python models and the rest run through `dbt build`."""
    return (
        node.resource_type == ResourceType.MODEL
        and node.materialization in _PLAIN_SQL
        and node.language == "sql"
        and not node.materialization_options
    )


def _bq_ident(text: str) -> str:
    return text.replace("\\", "\\\\").replace("`", "\\`")


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def _label(text: str) -> str:
    return _LABEL_UNSAFE.sub("_", text.lower())[:63]
