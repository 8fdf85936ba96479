"""Health checks in the code location: asset checks on the dbt/SQLMesh assets and on observable
source assets for tables outside the projects, schedules per criticality, and a report job."""

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import dagster as dg

from orchestration_utils.dagster_assets.specs import DBT_FRESHNESS_METADATA_KEY, KIND_TAG_KEY
from orchestration_utils.dagster_defs.freshness_notes import FRESHNESS_NOTE_KEY
from orchestration_utils.dagster_defs.resources import ArtifactsResource, WarehouseResource
from orchestration_utils.errors import ProjectError, WarehouseError
from orchestration_utils.health.checks import CheckResult, Status, error_result
from orchestration_utils.health.config import (
    FreshnessConfig,
    HealthConfig,
    TableConfig,
    load_health_config,
)
from orchestration_utils.health.monitor import Expectation, run_health_checks, table_checks
from orchestration_utils.health.report import build_report, human_summary
from orchestration_utils.runs.dagster import failed_runs
from orchestration_utils.settings import Settings
from orchestration_utils.warehouse.base import Field, TableRef
from orchestration_utils.warehouse.types import canonical_type

JOBS_ASSET = dg.AssetKey(["warehouse", "jobs"])
HEALTH_TAGS = {KIND_TAG_KEY: "health"}  # the run queue bounds health runs (deploy/dagster.yaml)
CHECKS_PER_DEFINITION = 100  # Dagster's cost per check grows with its definition's size
_SEVERITY = {Status.WARN: dg.AssetCheckSeverity.WARN}
# Configured limits, not measurements: text in the metadata (no flat plot) and in the description.
_THRESHOLDS = frozenset(
    {
        "max_age_hours",
        "warn_age_hours",
        "min_rows",
        "max_rows",
        "lookback_days",
        "lookback_hours",
        "cost_threshold_usd",
        "usd_per_tib",
        "expected_from",
        "granularity",
    }
)


def check_result(result: CheckResult, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    """PASS passes; WARN fails with WARN severity; FAIL and ERROR fail with ERROR severity. The
    reason is the description (the check history's column); metadata holds what was measured."""
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=result.check,
        passed=result.status == Status.PASS,
        severity=_SEVERITY.get(result.status, dg.AssetCheckSeverity.ERROR),
        description=describe(result),
        metadata={
            "status": dg.MetadataValue.text(result.status.value),
            **check_metadata(result.figures),
        },
    )


def describe(result: CheckResult) -> str:
    limits = ", ".join(
        f"{k} {result.figures[k]}"
        for k in sorted(_THRESHOLDS & result.figures.keys())
        if result.figures[k] is not None
    )
    return f"{result.status.value}: {result.message}" + (f" (limits: {limits})" if limits else "")


def check_metadata(figures: Mapping[str, object]) -> dict[str, dg.MetadataValue]:
    """Measured numbers stay numbers, so the UI plots hours_stale, row_count and bytes_billed
    over time; configured limits are text."""
    metadata: dict[str, dg.MetadataValue] = {}
    for key, value in figures.items():
        if value is None:
            continue
        if key in _THRESHOLDS:
            metadata[key] = dg.MetadataValue.text(str(value))
        elif isinstance(value, bool):
            metadata[key] = dg.MetadataValue.bool(value)
        elif isinstance(value, int):
            metadata[key] = dg.MetadataValue.int(value)
        elif isinstance(value, float):
            metadata[key] = dg.MetadataValue.float(value)
        elif isinstance(value, str):
            metadata[key] = dg.MetadataValue.text(value)
        else:
            metadata[key] = dg.MetadataValue.json(cast(Any, value))  # a list or an object
    return metadata


def project_table_keys(
    project_defs: dg.Definitions,
) -> tuple[dict[str, dg.AssetKey], dict[str, Expectation]]:
    """Project assets by lower-cased warehouse table id, and the column types their projects declare."""
    keys, expectations = {}, {}
    for spec in asset_specs(project_defs):
        table_name = spec.metadata.get("dagster/table_name")
        if not isinstance(table_name, str):
            continue
        table_id = table_name.replace("`", "").replace('"', "").lower()
        keys[table_id] = spec.key
        schema = spec.metadata.get("dagster/column_schema")
        fields = tuple(
            Field(c.name, canonical_type(c.type), None)
            for c in (schema.columns if schema else ())
            if c.type and c.type.lower() != "unknown"
        )
        if fields:
            expectations[table_id] = Expectation(
                fields, f"declared columns of {spec.key.to_user_string()}"
            )
    return keys, expectations


def asset_specs(defs: dg.Definitions) -> list[dg.AssetSpec]:
    """Specs of the assets definitions and the bare (external) specs, such as dbt sources."""
    return [
        spec
        for a in defs.assets or ()
        for spec in ([a] if isinstance(a, dg.AssetSpec) else list(getattr(a, "specs", ())))
    ]


Adjust = Callable[[CheckResult], CheckResult]


def dbt_freshness_tables(
    project_defs: dg.Definitions,
) -> tuple[list[TableConfig], dict[str, Adjust]]:
    """dbt sources' own `freshness` config (dbt.py) as health freshness checks on the warehouse:
    `error_after` fails, `warn_after` warns; a source with `warn_after` alone only warns, and a
    `loaded_at_field` that is an expression (dbt puts it in SQL) is not sent to the warehouse: ERROR."""
    tables: list[TableConfig] = []
    adjust: dict[str, Adjust] = {}
    for spec in asset_specs(project_defs):
        value = spec.metadata.get(DBT_FRESHNESS_METADATA_KEY)
        if value is None:
            continue
        dbt: Any = value.value if isinstance(value, dg.JsonMetadataValue) else value
        table_id = str(spec.metadata["dagster/table_name"])
        error, warn, field = (
            dbt.get("error_after_hours"),
            dbt.get("warn_after_hours"),
            dbt.get("loaded_at_field"),
        )
        try:
            column = (
                FreshnessConfig(max_age_hours=1, timestamp_column=field).timestamp_column
                if field
                else None
            )
        except ValueError:
            column = None
            reason = f"dbt's loaded_at_field {str(field)[:60]!r} is not a column name; only a column is checked here"

            def as_error(r: CheckResult, reason: str = reason) -> CheckResult:
                return error_result(r.table, r.check, reason, r.critical)

            adjust[table_id] = as_error
        if error is None:
            adjust.setdefault(
                table_id, lambda r: replace(r, status=Status.WARN) if r.status == Status.FAIL else r
            )
        limit = error if error is not None else warn
        try:
            tables.append(
                TableConfig(
                    table_id=table_id,
                    freshness=FreshnessConfig(
                        max_age_hours=limit,
                        timestamp_column=column,
                        warn_age_hours=warn
                        if warn is not None and error is not None and warn < error
                        else None,
                    ),
                )
            )
        except ValueError as exc:
            raise ProjectError(
                spec.key.to_user_string(), f"dbt source freshness: {str(exc).splitlines()[-1]}"
            ) from None
    return tables, adjust


def external_key(ref: TableRef) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", ref.project, ref.dataset, ref.table])


def build_health_defs(settings: Settings, project_defs: dg.Definitions) -> dg.Definitions:
    dbt_tables, adjust = dbt_freshness_tables(project_defs)
    if settings.health_config_path is None and not dbt_tables:
        return dg.Definitions()
    # A bad file stops the load with one line.
    config = (
        load_health_config(settings.health_config_path)
        if settings.health_config_path
        else HealthConfig()
    )
    configured = {t.table_id.lower() for t in config.tables}  # the health config's own word wins
    config = config.model_copy(
        update={
            "tables": config.tables
            + tuple(t for t in dbt_tables if t.table_id.lower() not in configured)
        }
    )
    keys, project_expectations = project_table_keys(project_defs)
    expectations = {
        t.table_id: project_expectations[t.table_id.lower()]
        for t in config.tables
        if t.expected_schema is None and t.table_id.lower() in project_expectations
    }
    asset_keys = {
        t.table_id: keys.get(t.table_id.lower(), external_key(t.ref)) for t in config.tables
    }
    external = [t for t in config.tables if t.table_id.lower() not in keys]
    job_checks = [
        name
        for name, on in (("failed_jobs", config.check_failures), ("cost", config.check_costs))
        if on
    ]

    warehouse = WarehouseResource(
        url=config.warehouse or settings.warehouse_url,
        max_bytes_billed=config.max_bytes_billed,
        timeout_seconds=config.query_timeout_seconds,
        # Resolved at run time, so the key never lands in the run config or the UI.
        gcp_credentials=dg.EnvVar("GCP_CREDENTIALS_BASE64")
        if os.environ.get("GCP_CREDENTIALS_BASE64")
        else None,
    )
    critical = _checks_defs(
        "health_checks_critical",
        [t for t in config.tables if t.critical],
        [],
        config,
        asset_keys,
        expectations,
        adjust,
    )
    standard = _checks_defs(
        "health_checks",
        [t for t in config.tables if not t.critical],
        job_checks,
        config,
        asset_keys,
        expectations,
        adjust,
    )
    assets: list = (
        [
            dg.AssetSpec(
                JOBS_ASSET,
                group_name="warehouse",
                description="Warehouse jobs and Dagster runs: failed jobs and cost.",
            )
        ]
        if job_checks
        else []
    )
    if external:
        assets.append(_observe_external(external))

    jobs: list[dg.JobDefinition | dg.UnresolvedAssetJobDefinition] = []
    schedules = []
    for name, checks_defs, cron, observe in (
        ("health_checks_critical", critical, config.schedule.critical_cron, False),
        ("health_checks", standard, config.schedule.default_cron, True),
    ):
        if not checks_defs:
            continue
        selection: dg.AssetSelection = dg.AssetSelection.checks(*checks_defs)
        if observe and external:
            selection = selection | dg.AssetSelection.assets(
                *[external_key(t.ref) for t in external]
            )
        # In process: each step is a few metadata queries, far less than a process per step.
        job = dg.define_asset_job(
            f"{name}_job",
            selection=selection,
            tags=HEALTH_TAGS,
            executor_def=dg.in_process_executor,
            description="Health checks of the configured tables, on their schedule.",
        )
        jobs.append(job)
        schedules.append(
            dg.ScheduleDefinition(
                job=job,
                cron_schedule=cron,
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description=f"Runs {name}_job at `{cron}` (UTC).",
            )
        )
    jobs.append(_report_job(config, expectations))
    return dg.Definitions(
        assets=assets,
        asset_checks=[*critical, *standard],
        jobs=jobs,
        schedules=schedules,
        resources={"warehouse": warehouse},
    )


def _checks_defs(
    name: str,
    tables: Sequence[TableConfig],
    job_checks: Sequence[str],
    config: HealthConfig,
    asset_keys: dict[str, dg.AssetKey],
    expectations: dict[str, Expectation],
    adjust: dict[str, Adjust],
) -> list[dg.AssetChecksDefinition]:
    """One `multi_asset_check` per dataset, of at most CHECKS_PER_DEFINITION tables, plus one for
    the warehouse-wide job checks: a single definition of every check made a 10,000-table config
    load in minutes (bench/README.md). Names are `<name>_<dataset>[_<n>]`, distinct by construction."""
    by_dataset: dict[tuple[str, str], list[TableConfig]] = {}
    for t in tables:
        by_dataset.setdefault(t.ref.dataset_key, []).append(t)
    defs = []
    used: set[str] = set()
    for (project, dataset), members in sorted(by_dataset.items()):
        base = op_name(f"{name}_{dataset}", used)
        for i in range(0, len(members), CHECKS_PER_DEFINITION):
            part = base if i == 0 else op_name(f"{base}_{i // CHECKS_PER_DEFINITION + 1}", used)
            defs.append(
                _checks_def(
                    part,
                    members[i : i + CHECKS_PER_DEFINITION],
                    [],
                    config,
                    asset_keys,
                    expectations,
                    f"{project}.{dataset}",
                    adjust,
                )
            )
    if job_checks:
        defs.append(
            _checks_def(
                op_name(f"{name}_warehouse_jobs", used),
                [],
                job_checks,
                config,
                asset_keys,
                expectations,
                "the warehouse's jobs",
                {},
            )
        )
    return [d for d in defs if d is not None]


def check_description(check: str, table: TableConfig) -> str:
    """What the check measures, so its verdict is not read as Dagster's freshness policy (which
    judges the last materialization, not the data's newest time)."""
    if check == "freshness" and table.freshness is not None:
        f = table.freshness
        source = (
            f"the newest `{f.timestamp_column}` value"
            if f.timestamp_column
            else "the table's last modification time in the warehouse"
        )
        warn = f", warns beyond {f.warn_age_hours:g} h" if f.warn_age_hours else ""
        return (
            f"Data freshness of {table.table_id}: age of {source} (not of the last materialization); "
            f"fails beyond {f.max_age_hours:g} h{warn}."
        )
    if check == "row_count" and table.row_count is not None:
        r = table.row_count
        bounds = " and ".join(
            b
            for b in (
                f"at least {r.min_rows}" if r.min_rows is not None else "",
                f"at most {r.max_rows}" if r.max_rows is not None else "",
            )
            if b
        )
        scope = (
            f"rows per {r.partition_granularity or 'partition'} of `{r.partition_column}` over {r.lookback_days} day(s)"
            if r.partition_column
            else "rows"
        )
        return f"Row count of {table.table_id}: {scope}" + (f", {bounds}." if bounds else ".")
    if check == "partitions":
        return f"Partitions of {table.table_id}: every expected partition present and not empty."
    if check == "schema_drift":
        return (
            f"Schema of {table.table_id} against its expected columns: breaking changes (removed or retyped "
            "columns) fail, additive ones warn."
        )
    return f"{check} of {table.table_id}"


def freshness_note(table: TableConfig) -> dict[str, str]:
    """What the `freshness` check says, for the asset's description (freshness_notes.py)."""
    f = table.freshness
    if f is None:
        return {}
    source = f"`{f.timestamp_column}`" if f.timestamp_column else "table modification time"
    return {
        FRESHNESS_NOTE_KEY: f"health check, age of the newest {source} (newest data), fails beyond "
        f"{f.max_age_hours:g} h" + (" (a critical table)" if table.critical else "")
    }


def op_name(wanted: str, used: set[str]) -> str:
    """A valid op name, distinct from those already `used` (a short hash of the wanted name
    tells apart two datasets that read alike once cleaned)."""
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in wanted)[:200]
    if name in used:
        name = f"{name}_{hashlib.sha256(wanted.encode()).hexdigest()[:6]}"
    used.add(name)
    return name


def _checks_def(
    name: str,
    tables: Sequence[TableConfig],
    job_checks: Sequence[str],
    config: HealthConfig,
    asset_keys: dict[str, dg.AssetKey],
    expectations: dict[str, Expectation],
    scope: str,
    adjust: dict[str, Adjust],
) -> dg.AssetChecksDefinition | None:
    keys = {
        t.table_id: [
            dg.AssetCheckKey(asset_keys[t.table_id], check)
            for check in table_checks(t, expectations)
        ]
        for t in tables
    }
    specs = [
        dg.AssetCheckSpec(
            key.name,
            asset=key.asset_key,
            description=check_description(key.name, t),
            metadata=freshness_note(t) if key.name == "freshness" else None,
        )
        for t in tables
        for key in keys[t.table_id]
    ] + [dg.AssetCheckSpec(check, asset=JOBS_ASSET) for check in job_checks]
    if not specs:
        return None

    @dg.multi_asset_check(
        name=name,
        specs=specs,
        can_subset=True,
        compute_kind="health",
        description=f"Health checks of {scope}.",
    )
    def _checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
        selected = context.selected_asset_check_keys
        # This definition's share of the config, narrowed to the checks the run selected.
        scoped = config.model_copy(
            update={
                "tables": tuple(t for t in tables if selected.intersection(keys[t.table_id])),
                "check_failures": "failed_jobs" in job_checks
                and dg.AssetCheckKey(JOBS_ASSET, "failed_jobs") in selected,
                "check_costs": "cost" in job_checks
                and dg.AssetCheckKey(JOBS_ASSET, "cost") in selected,
            }
        )
        with warehouse.open() as wh:
            results = run_health_checks(
                scoped,
                wh,
                datetime.now(UTC),
                expectations,
                failed_runs=lambda since: failed_runs(context.instance, since),
            )
            context.log.info(
                f"{len(results)} checks; monitoring billed {wh.usage.bytes_billed} bytes "
                f"in {wh.usage.queries} queries"
            )
        for result in results:
            if result.check == "freshness" and result.table in adjust:
                result = adjust[result.table](result)
            key = JOBS_ASSET if result.table == "warehouse" else asset_keys[result.table]
            if dg.AssetCheckKey(key, result.check) in selected:
                if result.status != Status.PASS:  # the run log says why, not only "did not pass"
                    context.log.warning(
                        f"{result.check} of {key.to_user_string()}: {describe(result)}"
                    )
                yield check_result(result, key)

    return _checks


def _observe_external(tables: Sequence[TableConfig]) -> dg.AssetsDefinition:
    """Tables outside the projects: observed from metadata, with a new data version only when
    the row count or modification time moved (recording every poll would fake freshness)."""
    specs = [
        dg.AssetSpec(
            external_key(t.ref),
            group_name="warehouse",
            description=f"Warehouse table {t.table_id}",
            metadata={"dagster/table_name": t.table_id},
        )
        for t in tables
    ]

    @dg.multi_observable_source_asset(specs=specs, name="observe_warehouse_tables", can_subset=True)
    def _observe(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        selected = context.selected_asset_keys
        by_dataset: dict[tuple[str, str], list[TableConfig]] = {}
        for t in tables:
            if external_key(t.ref) in selected:
                by_dataset.setdefault(t.ref.dataset_key, []).append(t)
        with warehouse.open() as wh:
            for dataset, members in by_dataset.items():
                metas = wh.describe(dataset, [t.ref.table for t in members])
                for t in members:
                    meta = metas[t.ref.table]
                    if isinstance(meta, WarehouseError):
                        context.log.warning(f"{t.table_id}: {meta}")
                        # Still an observation (no data version: nothing moved), else every
                        # check in the run on this table would be skipped instead of saying ERROR.
                        yield dg.ObserveResult(
                            asset_key=external_key(t.ref),
                            metadata={"error": dg.MetadataValue.text(str(meta))},
                        )
                        continue
                    metadata: dict[str, dg.MetadataValue] = {
                        "row_count": dg.MetadataValue.int(meta.row_count or 0)
                    }
                    if meta.modified:
                        metadata["dagster/last_updated_timestamp"] = dg.MetadataValue.timestamp(
                            meta.modified
                        )
                    version = (
                        f"{meta.row_count}:{meta.modified.isoformat() if meta.modified else ''}"
                    )
                    yield dg.ObserveResult(
                        asset_key=external_key(t.ref),
                        metadata=metadata,
                        data_version=dg.DataVersion(version),
                    )

    return _observe


def summary_markdown(lines: Sequence[str], path: str) -> str:
    """The report's summary as Markdown, which the UI renders in the run's output metadata."""
    head, *rest = lines
    items = "\n".join(f"- `{line.strip()}`" for line in rest)
    return f"### Health report\n\n**{head}**\n\n{items}\n\nEvery check: `{path}`\n"


class HealthReportConfig(dg.Config):
    file_name: str = "health-report.json"


def _report_job(health: HealthConfig, expectations: dict[str, Expectation]) -> dg.JobDefinition:
    @dg.op(
        description="Run every configured health check and write the JSON report to the artifacts directory."
    )
    def write_health_report(
        context: dg.OpExecutionContext,
        config: HealthReportConfig,
        warehouse: WarehouseResource,
        artifacts: ArtifactsResource,
    ):
        from orchestration_utils.files import json_bytes

        now = datetime.now(UTC)
        with warehouse.open() as wh:
            results = run_health_checks(
                health,
                wh,
                now,
                expectations,
                failed_runs=lambda since: failed_runs(context.instance, since),
            )
            report = build_report(results, now, wh.url, wh.usage, health.usd_per_tib)
        path = artifacts.store().write(f"health/{config.file_name}", json_bytes(report))
        lines = human_summary(report)
        for line in lines:
            context.log.info(line)
        summary: Any = report["summary"]
        monitoring: Any = report["monitoring"]
        context.add_output_metadata(
            {
                "path": dg.MetadataValue.path(path),
                "report": dg.MetadataValue.md(summary_markdown(lines, path)),
                "health_score": dg.MetadataValue.float(summary["health_score"]),
                "failed": dg.MetadataValue.int(summary["failed"]),
                "errors": dg.MetadataValue.int(summary["errors"]),
                "bytes_billed": dg.MetadataValue.int(monitoring["bytes_billed"]),
            }
        )
        return path

    @dg.job(
        name="health_report_job",
        description="Write the health report (JSON) to <artifacts>/health/.",
        tags=HEALTH_TAGS,
        executor_def=dg.in_process_executor,
    )
    def health_report_job():
        write_health_report()

    return health_report_job
