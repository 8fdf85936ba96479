"""One SLA evaluation as the CLI runs it: evaluate, record in the state directory, alert."""

from __future__ import annotations

from datetime import datetime, timedelta

from orchestration_utils.alerts.notify import AlertState, NotifyReport, notify
from orchestration_utils.sla.config import CompletionSla, SlaConfig
from orchestration_utils.sla.evaluate import RunSource, SlaResult, evaluate_slas
from orchestration_utils.sla.runs import AirflowRuns, PipelineRun, dagster_runs
from orchestration_utils.sla.state import AlertStateBusy, StateStore
from orchestration_utils.warehouse.base import Warehouse, WarehouseError

ALERT_STATE_KEY = "alerts"


def retention(config: SlaConfig) -> timedelta:
    """History is kept for the longest window plus a day, and pruned beyond it."""
    return timedelta(hours=max((s.lookback_hours for s in config.slas), default=24) + 24)


def run_source(config: SlaConfig, dagster_instance) -> RunSource:
    airflow = AirflowRuns(config.airflow.base_url) if config.airflow else None

    def read(sla: CompletionSla, since: datetime) -> list[PipelineRun]:
        if sla.source == "airflow":
            return airflow(sla.pipeline, since)
        if dagster_instance is None:
            raise WarehouseError("no Dagster instance: set DAGSTER_HOME")
        return dagster_runs(dagster_instance, sla.pipeline, since)

    def runs(sla: CompletionSla, since: datetime) -> list[PipelineRun]:
        try:
            return read(sla, since)
        except WarehouseError:
            raise
        except Exception as exc:
            reason = " ".join(str(exc).split())[:200]
            raise WarehouseError(f"{sla.source} runs could not be read: {type(exc).__name__}: {reason}") from exc

    return runs


def track_once(
    config: SlaConfig,
    now: datetime,
    warehouse: Warehouse | None,
    runs: RunSource,
    store: StateStore,
    send_alerts: bool,
    **delivery_options,
) -> tuple[list[SlaResult], NotifyReport | None]:
    results = evaluate_slas(config, now, warehouse, runs, store)
    store.record(results, now, retention(config))
    if not send_alerts:
        return results, None

    def save(alert_state: AlertState) -> None:
        store.save(ALERT_STATE_KEY, alert_state.to_json())

    try:
        # Read the incidents only once the lock is held: the other process may just have paged.
        with store.alert_lock(lock_timeout(config)):
            state = AlertState.from_json(store.load(ALERT_STATE_KEY))
            return results, notify(results, state, config.alerts, now, save, **delivery_options)
    except AlertStateBusy as exc:
        return results, NotifyReport.skipped(f"{exc}; its alerts are left to it")


def lock_timeout(config: SlaConfig) -> float:
    """Long enough for another process to finish one round of delivery (three attempts per channel)."""
    return 3 * config.alerts.timeout_seconds + 75
