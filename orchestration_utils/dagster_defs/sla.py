"""SLAs in the code location: a check per SLA (on the table's asset, or on a `pipelines/<job>`
asset), a sensor that evaluates them on its interval, records each evaluation in the instance and
sends the alerts (its cursor holds the open incidents and the outbox), a run-failure sensor, and a
scheduled job that writes the compliance report."""

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import orjson

from orchestration_utils.alerts import slack
from orchestration_utils.alerts.delivery import OutboxItem, deliver
from orchestration_utils.alerts.notify import AlertState, notify, senders
from orchestration_utils.dagster_defs.codegen import ArtifactsResource
from orchestration_utils.dagster_defs.health import check_metadata, external_key, project_table_keys
from orchestration_utils.dagster_defs.resources import WarehouseResource
from orchestration_utils.settings import Settings
from orchestration_utils.sla.budget import Sample
from orchestration_utils.sla.config import CompletionSla, SlaConfig, load_sla_config
from orchestration_utils.sla.evaluate import SlaResult, SlaStatus, evaluate_slas, recorded_ok
from orchestration_utils.sla.report import json_report, markdown_report, summarize
from orchestration_utils.sla.tracker import run_source
from orchestration_utils.warehouse.base import parse_table_id


def check_names(sla_names: Iterable[str]) -> dict[str, str]:
    """`sla_<name>` with every character Dagster refuses made `_`; names that would meet after
    that (`a.b` and `a-b`) each get a short hash of their own name, so the result is unique and
    the same for the same config."""
    names = list(sla_names)
    base = {n: "sla_" + re.sub(r"[^A-Za-z0-9_]", "_", n) for n in names}
    taken = Counter(base.values())
    return {n: base[n] if taken[base[n]] == 1 else f"{base[n]}_{hashlib.sha1(n.encode()).hexdigest()[:8]}"
            for n in names}


class InstanceHistory:
    """Evaluations recorded as asset check evaluations in the Dagster instance."""

    def __init__(self, instance: dg.DagsterInstance, keys: dict[str, dg.AssetCheckKey]):
        self.instance = instance
        self.keys = keys

    def samples(self, sla_name: str, since: datetime) -> list[Sample]:
        samples, cursor = [], None
        while True:
            page = self.instance.event_log_storage.get_asset_check_execution_history(
                self.keys[sla_name], limit=500, cursor=cursor)
            for record in page:
                if record.create_timestamp < since.timestamp():
                    return samples
                evaluation = record.evaluation  # a planned (still running) check has no result yet
                if not isinstance(evaluation, dg.AssetCheckEvaluation):
                    continue
                status = evaluation.metadata.get("sla_status")
                ok = None if status is None else recorded_ok(status.value)
                samples.append(Sample(datetime.fromtimestamp(record.create_timestamp, UTC), ok))
            if len(page) < 500:
                return samples
            cursor = page[-1].id


def _evaluation(result: SlaResult, key: dg.AssetCheckKey) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=result.status != SlaStatus.FAIL,
        severity=dg.AssetCheckSeverity.ERROR if result.critical else dg.AssetCheckSeverity.WARN,
        description=result.message,
        metadata={"sla_status": dg.MetadataValue.text(result.status.value), "message": result.message,
                  **check_metadata({k: v for k, v in result.to_json().items()
                                    if k not in ("name", "sla_type", "subject", "table", "pipeline", "critical",
                                               "status", "message")})},
    )


def build_sla_defs(settings: Settings, project_defs: dg.Definitions, health_defs: dg.Definitions) -> dg.Definitions:
    """`health_defs` may already observe a table an SLA names: its asset is reused, not redefined."""
    if settings.sla_config_path is None:
        return dg.Definitions()
    config = load_sla_config(settings.sla_config_path)
    table_keys, _ = project_table_keys(project_defs)
    defined = {key for a in health_defs.assets or ()
               for key in (a.keys if isinstance(a, dg.AssetsDefinition) else {a.key})}
    keys: dict[str, dg.AssetCheckKey] = {}
    extra_assets: dict[dg.AssetKey, dg.AssetSpec] = {}
    names = check_names(s.name for s in config.slas)
    for sla in config.slas:
        if isinstance(sla, CompletionSla):
            asset = dg.AssetKey(["pipelines", sla.pipeline])
            extra_assets[asset] = dg.AssetSpec(asset, group_name="pipelines",
                                               description=f"Runs of the {sla.source} pipeline {sla.pipeline}")
        else:
            asset = table_keys.get(sla.table_id.lower()) or external_key(parse_table_id(sla.table_id))
            if sla.table_id.lower() not in table_keys and asset not in defined:
                extra_assets[asset] = dg.AssetSpec(asset, group_name="warehouse",
                                                   description=f"Warehouse table {sla.table_id}")
        keys[sla.name] = dg.AssetCheckKey(asset, names[sla.name])
    warehouse = WarehouseResource(url=config.warehouse or settings.warehouse_url,
                                  max_bytes_billed=config.max_bytes_billed, timeout_seconds=config.query_timeout_seconds)

    def evaluate(instance: dg.DagsterInstance) -> list[SlaResult]:
        with warehouse.open() as wh:
            return evaluate_slas(config, datetime.now(UTC), wh, run_source(config, instance),
                                 InstanceHistory(instance, keys))

    @dg.multi_asset_check(
        name="sla_checks",
        specs=[dg.AssetCheckSpec(key.name, asset=key.asset_key, description=f"SLA {name}") for name, key in keys.items()],
        can_subset=True, compute_kind="sla",
    )
    def sla_checks(context: dg.AssetCheckExecutionContext):
        """Evaluate and record the SLAs now (no alerts: the sensor sends those)."""
        for result in evaluate(context.instance):
            key = keys[result.name]
            if key in context.selected_asset_check_keys:
                evaluation = _evaluation(result, key)
                yield dg.AssetCheckResult(asset_key=key.asset_key, check_name=key.name, passed=evaluation.passed,
                                          severity=evaluation.severity, metadata=evaluation.metadata,
                                          description=evaluation.description)

    @dg.sensor(name="sla_sensor", minimum_interval_seconds=config.evaluation_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Evaluate the SLAs, record each evaluation, alert Slack/PagerDuty on violations.")
    def sla_sensor(context: dg.SensorEvaluationContext):
        state = AlertState.from_json(orjson.loads(context.cursor) if context.cursor else None)
        results = evaluate(context.instance)
        # The cursor is saved when the tick ends: a crash mid-tick may send a message twice
        # (PagerDuty's dedup_key absorbs it), never lose one.
        report = notify(results, state, config.alerts, datetime.now(UTC), save=lambda _: None)
        for line in report.lines():
            context.log.info(line)
        return dg.SensorResult(asset_events=[_evaluation(r, keys[r.name]) for r in results],
                               cursor=orjson.dumps(state.to_json()).decode())

    critical_pipelines = {s.pipeline for s in config.slas if isinstance(s, CompletionSla) and s.critical}

    @dg.run_failure_sensor(name="run_failure_alert_sensor", default_status=dg.DefaultSensorStatus.RUNNING,
                           description="Tell Slack (and PagerDuty for critical pipelines) when a run of this code location fails.")
    def run_failure_alert_sensor(context: dg.RunFailureSensorContext):
        _alert_run_failure(context, config, context.dagster_run.job_name in critical_pipelines)

    @dg.op(description="Evaluate the SLAs against their recorded history and write the compliance report.")
    def write_sla_report(context: dg.OpExecutionContext, artifacts: ArtifactsResource):
        now = datetime.now(UTC)
        results = evaluate(context.instance)
        folder = Path(artifacts.subdir("sla"))
        from orchestration_utils.cli.shell import emit_json, write_atomic

        write_atomic(folder / "sla-report.md", markdown_report(results, now).encode())
        emit_json(json_report(results, now), folder / "sla-report.json")
        summary = summarize(results)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(folder / "sla-report.md")),
                                     **{k: dg.MetadataValue.float(v) if isinstance(v, float) else dg.MetadataValue.int(v)
                                        for k, v in summary.items()}})

    @dg.job(name="sla_report_job", description="Write the SLA compliance report (Markdown, JSON) to <artifacts>/sla/.")
    def sla_report_job():
        write_sla_report()

    sla_checks_job = dg.define_asset_job("sla_checks_job", selection=dg.AssetSelection.checks(sla_checks),
                                         description="Evaluate and record every SLA now.")
    return dg.Definitions(
        assets=list(extra_assets.values()),
        asset_checks=[sla_checks],
        jobs=[sla_report_job, sla_checks_job],
        schedules=[dg.ScheduleDefinition(job=sla_report_job, cron_schedule=config.report_cron,
                                         default_status=dg.DefaultScheduleStatus.RUNNING)],
        sensors=[sla_sensor, run_failure_alert_sensor],
    )


def _alert_run_failure(context: dg.RunFailureSensorContext, config: SlaConfig, critical: bool) -> None:
    from orchestration_utils.alerts import pagerduty

    run = context.dagster_run
    error = (context.failure_event.message or "")[:500]
    text = f"Dagster run failed: {run.job_name} ({run.run_id})\n{error}"
    outbox = []
    if slack.configured(config.alerts.slack_channel):
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f":x: *Run failed* `{run.job_name}`\n{error}"[:3000]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"run {run.run_id}"}]}]
        outbox.append(OutboxItem("slack", slack.message(text, blocks, config.alerts.slack_channel)))
    if critical and pagerduty.configured():
        outbox.append(OutboxItem("pagerduty", {"event_action": "trigger", "dedup_key": f"orchestration-utils/run/{run.run_id}",
                                               "payload": {"summary": text[:1024], "source": config.alerts.source,
                                                           "severity": "error", "component": run.job_name,
                                                           "class": "run_failure"}}))
    report = deliver(outbox, senders(config.alerts), save=lambda _: None)
    if report.pending:
        # Raising fails the tick, so Dagster offers this run to the sensor again on the next tick.
        raise RuntimeError(f"run-failure alert not delivered: {', '.join(i.last_error for i in report.pending)}")
    for item in report.rejected:
        context.log.warning(f"{item.channel} rejected the run-failure alert: {item.last_error}")
