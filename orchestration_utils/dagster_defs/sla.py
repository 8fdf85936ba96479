"""SLAs in the code location: a check per SLA (on the table's asset, or on a `pipelines/<job>`
asset); `sla_sensor`, which only requests an `sla_evaluation_job` run per interval; that run, which
evaluates, records each evaluation in the instance and sends the alerts (the one routine the CLI
runs too, `sla.cycle.track_once`), keeping the open incidents and the outbox in the instance; a
run-failure sensor; and a scheduled job that writes the compliance report."""

import hashlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import cast

import dagster as dg
import orjson

from orchestration_utils.alerts.delivery import deliver
from orchestration_utils.alerts.notify import (
    AlertState,
    Channels,
    NotifyReport,
    run_failure_alerts,
    senders,
)
from orchestration_utils.dagster_defs.freshness_notes import FRESHNESS_NOTE_KEY, PAGES_KEY
from orchestration_utils.dagster_defs.health import check_metadata, external_key, project_table_keys
from orchestration_utils.dagster_defs.resources import (
    AirflowApiResource,
    ArtifactsResource,
    PagerDutyAlertsResource,
    SlackAlertsResource,
    WarehouseResource,
    alert_channels,
    sla_resources,
)
from orchestration_utils.runs.dagster import runs_of
from orchestration_utils.settings import Settings
from orchestration_utils.sla.budget import Sample, budget_text
from orchestration_utils.sla.config import (
    AvailabilitySla,
    CompletionSla,
    FreshnessSla,
    SlaConfig,
    load_sla_config,
)
from orchestration_utils.sla.cycle import ALERT_STATE_KEY, run_source, track_once
from orchestration_utils.sla.evaluate import (
    FreshnessObservation,
    SlaResult,
    SlaStatus,
    evaluate_slas,
    recorded_ok,
)
from orchestration_utils.sla.history import AlertStateBusy
from orchestration_utils.sla.report import json_report, markdown_report, summarize
from orchestration_utils.warehouse.base import parse_table_id

EVALUATION_JOB = "sla_evaluation_job"
# The deploy's QueuedRunCoordinator runs one `orchestration_utils/kind: sla` run at a time.
SLA_TAGS = {"orchestration_utils/kind": "sla"}
# Where the SLA run keeps its alert state and its account for the sensor (the instance's key-value
# store: the same database as the runs, so it survives run pods and restarts).
_KV_PREFIX = "orchestration_utils/sla/"
LAST_EVALUATION_KEY = "last_evaluation"
_IN_PROGRESS = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
_NOT_DONE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, *_IN_PROGRESS]
_STATE_WORDS = {
    dg.DagsterRunStatus.QUEUED: "queued",
    dg.DagsterRunStatus.NOT_STARTED: "waiting to start",
    dg.DagsterRunStatus.STARTING: "starting",
    dg.DagsterRunStatus.STARTED: "running",
    dg.DagsterRunStatus.CANCELING: "being canceled",
}
# An SLA run in progress this long is taken for dead (a lost worker that run monitoring has not
# failed yet): it no longer holds the alert state, nor keeps the sensor from requesting runs.
STALE_RUN_SECONDS = 3600.0
# The run-failure sensor sends inside its tick (Dagster allows 60 s): short requests, few tries.
_FAILURE_ALERT_TIMEOUT_SECONDS, _FAILURE_ALERT_ATTEMPTS = 10.0, 2


def check_names(sla_names: Iterable[str]) -> dict[str, str]:
    """`sla_<name>` with every character Dagster refuses made `_`; names that would meet after
    that (`a.b` and `a-b`) each get a short hash of their own name, so the result is unique and
    the same for the same config."""
    names = list(sla_names)
    base = {n: "sla_" + re.sub(r"[^A-Za-z0-9_]", "_", n) for n in names}
    taken = Counter(base.values())
    return {
        n: base[n]
        if taken[base[n]] == 1
        else f"{base[n]}_{hashlib.sha1(n.encode()).hexdigest()[:8]}"
        for n in names
    }


class InstanceStore:
    """The SLA run's store (`sla.cycle.SlaStore`) in the Dagster instance: the history is the
    checks' evaluations, recorded through `emit` (into the run's event log); the alert state is a
    value in the instance's key-value store, read and written under `alert_lock`."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        keys: dict[str, dg.AssetCheckKey],
        emit: Callable[[SlaResult], None] = lambda result: None,
        run_id: str | None = None,
    ):
        self.instance = instance
        self.keys = keys
        self.emit = emit
        self.run_id = run_id

    def samples(self, sla_name: str, since: datetime) -> list[Sample]:
        samples: list[Sample] = []
        cursor = None
        while True:
            page = self.instance.event_log_storage.get_asset_check_execution_history(
                self.keys[sla_name], limit=500, cursor=cursor
            )
            for record in page:
                # When the evaluation happened (its event's time); the row's own time is when the
                # database stored it.
                at = record.event.timestamp if record.event else record.create_timestamp
                if at < since.timestamp():
                    return samples
                evaluation = record.evaluation  # a planned (still running) check has no result yet
                if not isinstance(evaluation, dg.AssetCheckEvaluation):
                    continue
                status = evaluation.metadata.get("sla_status")
                ok = None if status is None else recorded_ok(str(status.value))
                samples.append(Sample(datetime.fromtimestamp(at, UTC), ok))
            if len(page) < 500:
                return samples
            cursor = page[-1].id

    def record(self, results: Sequence[SlaResult], at: datetime, retention: timedelta) -> None:
        for result in results:  # the instance's own retention applies to the event log
            self.emit(result)

    def load(self, key: str) -> object | None:
        value = self.instance.run_storage.get_cursor_values({_KV_PREFIX + key}).get(
            _KV_PREFIX + key
        )
        return orjson.loads(value) if value else None

    def save(self, key: str, value: object) -> None:
        self.instance.run_storage.set_cursor_values(
            {_KV_PREFIX + key: orjson.dumps(value).decode()}
        )

    @contextmanager
    def alert_lock(self, timeout_seconds: float) -> Iterator[None]:
        """Of the SLA evaluation runs in progress, the one that started first holds the alert state;
        the others wait for it to end, then raise `AlertStateBusy`. In a deployment the run queue
        (one `orchestration_utils/kind: sla` run at a time) already serializes them; this covers
        what bypasses the queue (`dagster dev`, a launch without the tags, a re-execution)."""
        deadline = time.monotonic() + timeout_seconds
        while (ahead := self._runs_ahead()) and time.monotonic() < deadline:
            time.sleep(1.0)
        if ahead:
            raise AlertStateBusy(f"SLA evaluation run {ahead[0]} holds the alert state")
        yield

    def _runs_ahead(self) -> list[str]:
        if self.run_id is None:
            return []
        records = runs_of(self.instance, EVALUATION_JOB, _IN_PROGRESS)

        def order(record) -> tuple[float, float, str]:
            started = record.start_time if record.start_time is not None else float("inf")
            return started, record.create_timestamp.timestamp(), record.dagster_run.run_id

        mine = next((order(r) for r in records if r.dagster_run.run_id == self.run_id), None)
        if mine is None:
            return []
        return [
            r.dagster_run.run_id
            for r in records
            if r.dagster_run.run_id != self.run_id and order(r) < mine and not _stale(r)
        ]


def _stale(record) -> bool:
    since = record.start_time or record.create_timestamp.timestamp()
    return time.time() - since > STALE_RUN_SECONDS


def _evaluation(result: SlaResult, key: dg.AssetCheckKey) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=key.asset_key,
        check_name=key.name,
        # Only a met SLA is green. Severity ERROR for what fails the CLI's run as critical (a
        # critical violation, a critical SLA that cannot be evaluated); a warning otherwise, and
        # for NO_DATA (nothing measured yet), whose description says so.
        passed=result.status == SlaStatus.PASS,
        severity=dg.AssetCheckSeverity.ERROR
        if result.critical and result.status in (SlaStatus.FAIL, SlaStatus.ERROR)
        else dg.AssetCheckSeverity.WARN,
        description={
            SlaStatus.ERROR: f"not evaluated: {result.message}",
            SlaStatus.NO_DATA: f"no data yet: {result.message}",
        }.get(result.status, result.message),
        metadata={
            "sla_status": dg.MetadataValue.text(result.status.value),
            "message": result.message,
            **check_metadata(
                {
                    k: v
                    for k, v in result.to_json().items()
                    if k
                    not in (
                        "name",
                        "sla_type",
                        "subject",
                        "table",
                        "pipeline",
                        "critical",
                        "status",
                        "message",
                        "budget_remaining_percent",  # as text below: "-9900" reads as nothing
                    )
                }
            ),
            **(
                {
                    "error_budget": dg.MetadataValue.text(
                        budget_text(result.compliance.budget_remaining_percent)
                    )
                }
                if result.compliance
                else {}
            ),
        },
    )


def freshness_observations(
    instance: dg.DagsterInstance, checks: dict[str, dg.AssetCheckKey]
) -> dict[str, FreshnessObservation]:
    """By SLA name, the latest evaluation of its table's health `freshness` check that saw a
    newest data time (`latest_update`, `source` in its metadata)."""
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        list(checks.values())
    )
    observed = {}
    for name, key in checks.items():
        record = latest.get(key)
        evaluation = record.evaluation if record else None
        if record is None or not isinstance(evaluation, dg.AssetCheckEvaluation):
            continue
        newest, source = evaluation.metadata.get("latest_update"), evaluation.metadata.get("source")
        if newest is None or source is None:
            continue
        observed[name] = FreshnessObservation(
            datetime.fromisoformat(str(newest.value)),
            str(source.value),
            datetime.fromtimestamp(record.create_timestamp, UTC),
        )
    return observed


def sla_description(sla, judged_from_health: bool) -> str:
    """What the SLA check measures and whether it pages (a critical SLA pages through PagerDuty)."""
    pages = (
        "critical: a violation pages" if sla.critical else "not critical: a violation goes to Slack"
    )
    if isinstance(sla, FreshnessSla):
        what = (
            f"newest `{sla.timestamp_column}` value"
            if sla.timestamp_column
            else "table's last modification"
        )
        basis = (
            "judged from this asset's health `freshness` check (newest data, not the last materialization)"
            if judged_from_health
            else "newest data, not the last materialization"
        )
        return (
            f"SLA {sla.name}: age of the {what} at most {sla.max_age_hours:g} h, {basis}; {pages}."
        )
    return f"SLA {sla.name} ({sla.type.replace('_', ' ')}); {pages}."


def sla_freshness_note(sla, judged_from_health: bool) -> dict[str, object]:
    """What a freshness (or availability) SLA says, for the asset's description (freshness_notes.py)."""
    if isinstance(sla, FreshnessSla):
        basis = ", judged from the health `freshness` check" if judged_from_health else ""
        what = f"SLA {sla.name}, newest data at most {sla.max_age_hours:g} h old{basis}"
    elif isinstance(sla, AvailabilitySla):
        what = f"SLA {sla.name}, fresh at least {sla.target_availability:g}% of {sla.lookback_hours:g} h"
    else:
        return {}
    return {FRESHNESS_NOTE_KEY: what, **({PAGES_KEY: True} if sla.critical else {})}


def build_sla_defs(
    settings: Settings, project_defs: dg.Definitions, health_defs: dg.Definitions
) -> dg.Definitions:
    """`health_defs` may already observe a table an SLA names: its asset is reused, not redefined."""
    if settings.sla_config_path is None:
        return dg.Definitions()
    config = load_sla_config(settings.sla_config_path)
    table_keys, _ = project_table_keys(project_defs)
    defined = {
        key
        for a in health_defs.assets or ()
        for key in (a.keys if isinstance(a, dg.AssetsDefinition) else {cast(dg.AssetSpec, a).key})
    }
    keys: dict[str, dg.AssetCheckKey] = {}
    extra_assets: dict[dg.AssetKey, dg.AssetSpec] = {}
    names = check_names(s.name for s in config.slas)
    for sla in config.slas:
        if isinstance(sla, CompletionSla):
            asset = dg.AssetKey(["pipelines", sla.pipeline])
            extra_assets[asset] = dg.AssetSpec(
                asset,
                group_name="pipelines",
                description=f"Runs of the {sla.source} pipeline {sla.pipeline}",
            )
        else:
            asset = table_keys.get(sla.table_id.lower()) or external_key(
                parse_table_id(sla.table_id)
            )
            if sla.table_id.lower() not in table_keys and asset not in defined:
                extra_assets[asset] = dg.AssetSpec(
                    asset, group_name="warehouse", description=f"Warehouse table {sla.table_id}"
                )
        keys[sla.name] = dg.AssetCheckKey(asset, names[sla.name])
    warehouse = WarehouseResource(
        url=config.warehouse or settings.warehouse_url,
        max_bytes_billed=config.max_bytes_billed,
        timeout_seconds=config.query_timeout_seconds,
    )
    health_checks = {key for checks in health_defs.asset_checks or () for key in checks.check_keys}
    # A freshness SLA judges what its table's health `freshness` check saw (one truth per asset).
    health_freshness = {
        sla.name: check
        for sla in config.slas
        if isinstance(sla, FreshnessSla)
        and (check := dg.AssetCheckKey(keys[sla.name].asset_key, "freshness")) in health_checks
    }

    def track(
        store: InstanceStore, airflow_api: AirflowApiResource, channels: Channels | None
    ) -> tuple[list[SlaResult], NotifyReport | None]:
        with warehouse.open() as wh:
            return track_once(
                config,
                datetime.now(UTC),
                wh,
                run_source(config, store.instance, airflow_api.credentials()),
                store,
                channels,
                freshness_observations(store.instance, health_freshness),
            )

    @dg.multi_asset_check(
        name="sla_checks",
        specs=[
            dg.AssetCheckSpec(
                key.name,
                asset=key.asset_key,
                description=sla_description(sla, sla.name in health_freshness),
                metadata=sla_freshness_note(sla, sla.name in health_freshness),
            )
            for sla in config.slas
            for key in (keys[sla.name],)
        ],
        can_subset=True,
        compute_kind="sla",
    )
    def sla_checks(context: dg.AssetCheckExecutionContext, airflow_api: AirflowApiResource):
        """Evaluate and record the SLAs now (no alerts: `sla_evaluation_job` sends those)."""
        recorded: list[SlaResult] = []
        track(InstanceStore(context.instance, keys, recorded.append), airflow_api, None)
        for result in recorded:
            key = keys[result.name]
            if key in context.selected_asset_check_keys:
                evaluation = _evaluation(result, key)
                yield dg.AssetCheckResult(
                    asset_key=key.asset_key,
                    check_name=key.name,
                    passed=evaluation.passed,
                    severity=evaluation.severity,
                    metadata=evaluation.metadata,
                    description=evaluation.description,
                )

    @dg.op(
        description="Evaluate every SLA, record each evaluation as its check's result, and send the alerts "
        "(Slack, PagerDuty for critical SLAs) through the outbox kept in the instance."
    )
    def evaluate_slas_and_alert(
        context: dg.OpExecutionContext,
        slack: SlackAlertsResource,
        pagerduty: PagerDutyAlertsResource,
        airflow_api: AirflowApiResource,
    ) -> None:
        channels = alert_channels(slack, pagerduty)
        for line in channels.missing(config.alerts):
            context.log.warning(line)
        store = InstanceStore(
            context.instance,
            keys,
            # Dagster records an AssetCheckEvaluation logged from an op (its stubs name fewer types).
            lambda r: context.log_event(_evaluation(r, keys[r.name])),  # type: ignore[arg-type]
            context.run_id,
        )
        results, report = track(store, airflow_api, channels)
        for result in results:
            context.log.info(_result_line(result))
        for line in report.lines() if report else ():
            context.log.info(f"alert: {line}")
        store.save(LAST_EVALUATION_KEY, _account(context.run_id, results, report))

    @dg.job(
        name=EVALUATION_JOB,
        tags=SLA_TAGS,
        executor_def=dg.in_process_executor,
        description="Evaluate every SLA, record the evaluations, send the alerts (what sla_sensor requests).",
    )
    def sla_evaluation_job():
        evaluate_slas_and_alert()

    @dg.sensor(
        name="sla_sensor",
        job=sla_evaluation_job,
        minimum_interval_seconds=config.evaluation_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Request an sla_evaluation_job run every evaluation interval (one at a time); "
        "its log says what the last run evaluated, sent and left pending.",
    )
    def sla_sensor(
        context: dg.SensorEvaluationContext,
        slack: SlackAlertsResource,
        pagerduty: PagerDutyAlertsResource,
    ):
        store = InstanceStore(context.instance, keys)
        cursor = _read_cursor(context.cursor, store)
        if last := store.load(LAST_EVALUATION_KEY):
            context.log.info(_account_line(cast(dict, last)))
        missing = alert_channels(slack, pagerduty).missing(config.alerts)
        for line in missing:
            if line not in cursor["told"]:  # once, not on every tick
                context.log.warning(line)
        context.update_cursor(orjson.dumps({"told": missing}).decode())
        active = [
            r
            for r in runs_of(context.instance, EVALUATION_JOB, _NOT_DONE, limit=10)
            if not _stale(r)
        ]
        if active:
            run = active[0].dagster_run
            return dg.SkipReason(
                f"SLA evaluation run {run.run_id} is still {_STATE_WORDS[run.status]}; "
                f"the next is requested once it ends"
            )
        interval = config.evaluation_interval_seconds
        start = datetime.fromtimestamp(time.time() // interval * interval, UTC)
        # One run per interval: a tick that runs twice in an interval requests the same run_key,
        # which Dagster drops.
        return dg.RunRequest(run_key=f"sla_evaluation:{start.isoformat()}", tags=SLA_TAGS)

    critical_pipelines = {
        s.pipeline for s in config.slas if isinstance(s, CompletionSla) and s.critical
    }

    @dg.run_failure_sensor(
        name="run_failure_alert_sensor",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Tell Slack (and PagerDuty for critical pipelines) when a run of this code location fails.",
    )
    def run_failure_alert_sensor(
        context: dg.RunFailureSensorContext,
        slack: SlackAlertsResource,
        pagerduty: PagerDutyAlertsResource,
    ):
        _alert_run_failure(
            context,
            config,
            alert_channels(slack, pagerduty),
            context.dagster_run.job_name in critical_pipelines,
        )

    @dg.op(
        description="Evaluate the SLAs against their recorded history and write the compliance report."
    )
    def write_sla_report(
        context: dg.OpExecutionContext,
        artifacts: ArtifactsResource,
        airflow_api: AirflowApiResource,
    ):
        now = datetime.now(UTC)
        with warehouse.open() as wh:
            results = evaluate_slas(
                config,
                now,
                wh,
                run_source(config, context.instance, airflow_api.credentials()),
                InstanceStore(context.instance, keys),
                freshness_observations(context.instance, health_freshness),
            )
        from orchestration_utils.files import json_bytes

        store = artifacts.store()
        markdown = markdown_report(results, now)
        path = store.write("sla/sla-report.md", markdown.encode())
        store.write("sla/sla-report.json", json_bytes(json_report(results, now)))
        summary = summarize(results)
        context.add_output_metadata(
            {
                "path": dg.MetadataValue.path(path),
                "report": dg.MetadataValue.md(markdown),
                **{
                    k: dg.MetadataValue.float(v)
                    if isinstance(v, float)
                    else dg.MetadataValue.int(cast(int, v))
                    for k, v in summary.items()
                },
            }
        )

    @dg.job(
        name="sla_report_job",
        tags=SLA_TAGS,
        executor_def=dg.in_process_executor,
        description="Write the SLA compliance report (Markdown, JSON) to <artifacts>/sla/.",
    )
    def sla_report_job():
        write_sla_report()

    sla_checks_job = dg.define_asset_job(
        "sla_checks_job",
        selection=dg.AssetSelection.checks(sla_checks),
        tags=SLA_TAGS,
        executor_def=dg.in_process_executor,
        description="Evaluate and record every SLA now (no alerts).",
    )
    return dg.Definitions(
        assets=list(extra_assets.values()),
        asset_checks=[sla_checks],
        jobs=[sla_report_job, sla_checks_job, sla_evaluation_job],
        schedules=[
            dg.ScheduleDefinition(
                job=sla_report_job,
                cron_schedule=config.report_cron,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        ],
        sensors=[sla_sensor, run_failure_alert_sensor],
        resources=sla_resources(),
    )


def _result_line(result: SlaResult) -> str:
    figures = ", ".join(f"{k} {v}" for k, v in result.figures.items() if v is not None)
    return f"{result.status} {result.name} ({result.subject}): {result.message}" + (
        f" [{figures}]" if figures else ""
    )


def _account(run_id: str, results: Sequence[SlaResult], report: NotifyReport | None) -> dict:
    """What the last SLA run did, for the sensor's log: no message bodies, no secrets."""
    delivery = report.delivery if report else None
    return {
        "run_id": run_id,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "statuses": dict(Counter(str(r.status) for r in results)),
        "violated": [r.name for r in results if r.status == SlaStatus.FAIL],
        "notices": [f"{n.kind} {n.result.name}" for n in report.notices] if report else [],
        "sent": [i.channel for i in delivery.sent] if delivery else [],
        "pending": [f"{i.channel} ({i.last_error}, attempt {i.attempts})" for i in delivery.pending]
        if delivery
        else [],
        "note": report.note if report else "",
    }


def _account_line(account: dict) -> str:
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(account.get("statuses", {}).items()))
    parts = [
        f"last SLA evaluation (run {account.get('run_id', '?')[:8]}, {account.get('at', '?')}): {statuses or 'no SLAs'}"
    ]
    if account.get("violated"):
        parts.append("violated: " + ", ".join(account["violated"]))
    parts.append(
        "sent: "
        + (
            ", ".join(account.get("notices", [])) + f" to {', '.join(sorted(set(account['sent'])))}"
            if account.get("sent")
            else "nothing"
        )
    )
    parts.append(
        "pending delivery: "
        + ("; ".join(account["pending"]) if account.get("pending") else "nothing")
    )
    if account.get("note"):
        parts.append(account["note"])
    return "; ".join(parts)


def _read_cursor(cursor: str | None, store: InstanceStore) -> dict:
    """The sensor's cursor holds which missing settings it has told. Before the SLA run existed it
    held the open incidents and the outbox: those move into the instance once, unless a run
    already keeps state there."""
    data = orjson.loads(cursor) if cursor else {}
    if "incidents" in data or "outbox" in data:
        if store.load(ALERT_STATE_KEY) is None:
            store.save(ALERT_STATE_KEY, AlertState.from_json(data).to_json())
        data = {}
    return {"told": data.get("told", [])}


def _alert_run_failure(
    context: dg.RunFailureSensorContext, config: SlaConfig, channels: Channels, critical: bool
) -> None:
    """Sent inside the tick, so bounded well under Dagster's 60 s: each channel in its own thread,
    at most two requests of at most 10 s each."""
    run = context.dagster_run
    error = (context.failure_event.message or "")[:500]
    outbox, missing = run_failure_alerts(
        run.job_name, run.run_id, error, critical, config.alerts, channels
    )
    for line in missing:
        context.log.warning(line)
    timeout = min(config.alerts.timeout_seconds, _FAILURE_ALERT_TIMEOUT_SECONDS)
    report = deliver(
        outbox,
        senders(channels, timeout),
        save=lambda _: None,
        attempts=_FAILURE_ALERT_ATTEMPTS,
        max_inline_wait=2.0,
    )
    for item in report.sent:
        context.log.info(f"run-failure alert sent to {item.channel}")
    for item in report.rejected:
        context.log.warning(f"{item.channel} rejected the run-failure alert: {item.last_error}")
    if report.pending:
        # Raising fails the tick, so Dagster offers this run to the sensor again on the next tick.
        raise RuntimeError(
            f"run-failure alert not delivered: {', '.join(i.last_error for i in report.pending)}"
        )
