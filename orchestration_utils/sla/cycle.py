"""One SLA evaluation, the same in the CLI and in the code location's SLA run: evaluate, record,
alert. Only where the history and alert state live differs: the CLI's state directory
(`sla.history.StateStore`) or the Dagster instance (`dagster_defs.sla.InstanceStore`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Protocol, cast

from orchestration_utils.alerts.notify import AlertState, Channels, NotifyReport, notify
from orchestration_utils.errors import RunHistoryError
from orchestration_utils.runs.airflow import AirflowCredentials, AirflowRuns
from orchestration_utils.runs.dagster import dagster_runs
from orchestration_utils.runs.model import PipelineRun
from orchestration_utils.sla.config import CompletionSla, SlaConfig
from orchestration_utils.sla.evaluate import (
    FreshnessObservation,
    History,
    RunSource,
    SlaResult,
    evaluate_slas,
)
from orchestration_utils.sla.history import AlertStateBusy
from orchestration_utils.warehouse.base import Warehouse

ALERT_STATE_KEY = "alerts"


class SlaStore(History, Protocol):
    """The history the evaluation reads, where it is recorded, and the alert state under a lock
    (`alert_lock` raises `AlertStateBusy` when another evaluation keeps it too long)."""

    def record(self, results: Sequence[SlaResult], at: datetime, retention: timedelta) -> None: ...
    def load(self, key: str) -> object | None: ...
    def save(self, key: str, value: object) -> None: ...
    def alert_lock(self, timeout_seconds: float) -> AbstractContextManager[None]: ...


def retention(config: SlaConfig) -> timedelta:
    """History is kept for the longest window plus a day, and pruned beyond it."""
    return timedelta(hours=max((s.lookback_hours for s in config.slas), default=24) + 24)


def run_source(
    config: SlaConfig, dagster_instance, airflow_credentials: AirflowCredentials | None = None
) -> RunSource:
    airflow = AirflowRuns(config.airflow.base_url, airflow_credentials) if config.airflow else None

    def read(sla: CompletionSla, since: datetime) -> list[PipelineRun]:
        if sla.source == "airflow":
            assert (
                airflow is not None
            )  # the config refuses Airflow SLAs without its "airflow" section
            return airflow(sla.pipeline, since)
        if dagster_instance is None:
            raise RunHistoryError("no Dagster instance: set DAGSTER_HOME")
        return dagster_runs(dagster_instance, sla.pipeline, since)

    def runs(sla: CompletionSla, since: datetime) -> list[PipelineRun]:
        try:
            return read(sla, since)
        except RunHistoryError:
            raise
        except Exception as exc:
            reason = " ".join(str(exc).split())[:200]
            raise RunHistoryError(
                f"{sla.source} runs could not be read: {type(exc).__name__}: {reason}"
            ) from exc

    return runs


def track_once(
    config: SlaConfig,
    now: datetime,
    warehouse: Warehouse | None,
    runs: RunSource,
    store: SlaStore,
    channels: Channels | None,
    observed: Mapping[str, FreshnessObservation] | None = None,
    **delivery_options,
) -> tuple[list[SlaResult], NotifyReport | None]:
    """`channels` None: evaluate and record, send nothing. `observed`: the health checks'
    freshness observations by SLA name (`evaluate_slas`)."""
    results = evaluate_slas(config, now, warehouse, runs, store, observed)
    store.record(results, now, retention(config))
    if channels is None:
        return results, None

    def save(alert_state: AlertState) -> None:
        store.save(ALERT_STATE_KEY, alert_state.to_json())

    try:
        # Read the incidents only once the lock is held: the other process may just have paged.
        with store.alert_lock(lock_timeout(config)):
            state = AlertState.from_json(cast(dict | None, store.load(ALERT_STATE_KEY)))
            return results, notify(
                results, state, config.alerts, now, save, channels, **delivery_options
            )
    except AlertStateBusy as exc:
        return results, NotifyReport.skipped(f"{exc}; its alerts are left to it")


def lock_timeout(config: SlaConfig) -> float:
    """Long enough for another process to finish one round of delivery (three attempts per channel)."""
    return 3 * config.alerts.timeout_seconds + 75
