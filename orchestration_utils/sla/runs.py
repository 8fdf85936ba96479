"""Where completion-time SLAs read pipeline runs: the Dagster instance, or an Airflow 3 REST API."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import requests

from orchestration_utils.warehouse.base import WarehouseError, with_retries


@dataclass(frozen=True)
class PipelineRun:
    run_id: str
    succeeded: bool
    started: datetime | None
    ended: datetime | None

    @property
    def duration_minutes(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return (self.ended - self.started).total_seconds() / 60


def dagster_runs(instance, job_name: str, since: datetime) -> list[PipelineRun]:
    """Finished runs (success or failure) of a Dagster job, newest first."""
    import dagster as dg

    records = instance.get_run_records(filters=dg.RunsFilter(
        job_name=job_name, statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE], updated_after=since,
    ), limit=500)
    return [
        PipelineRun(
            r.dagster_run.run_id,
            r.dagster_run.status == dg.DagsterRunStatus.SUCCESS,
            datetime.fromtimestamp(r.start_time, UTC) if r.start_time else None,
            datetime.fromtimestamp(r.end_time, UTC) if r.end_time else None,
        )
        for r in records
    ]


class AirflowRuns:
    """`GET /api/v2/dags/{dag_id}/dagRuns` of an Airflow 3 API server. Auth: AIRFLOW_API_TOKEN, or a
    JWT from `POST /auth/token` with AIRFLOW_USERNAME / AIRFLOW_PASSWORD (Airflow 3's simple auth)."""

    def __init__(self, base_url: str, timeout_seconds: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._token = os.environ.get("AIRFLOW_API_TOKEN")

    def _auth(self) -> dict[str, str]:
        if self._token is None and os.environ.get("AIRFLOW_USERNAME"):
            response = requests.post(f"{self.base_url}/auth/token", timeout=self.timeout_seconds, json={
                "username": os.environ["AIRFLOW_USERNAME"], "password": os.environ.get("AIRFLOW_PASSWORD", "")})
            if response.status_code >= 300:
                raise WarehouseError(f"Airflow login failed: HTTP {response.status_code}")
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def __call__(self, dag_id: str, since: datetime) -> list[PipelineRun]:
        def fetch() -> dict:
            try:
                response = requests.get(
                    f"{self.base_url}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns",
                    params={"start_date_gte": since.isoformat(), "order_by": "-start_date", "limit": 100},
                    headers=self._auth(), timeout=self.timeout_seconds,
                )
            except requests.RequestException as exc:
                raise WarehouseError(f"Airflow API: {type(exc).__name__}", transient=True) from exc
            if response.status_code == 429 or response.status_code >= 500:
                raise WarehouseError(f"Airflow API: HTTP {response.status_code}", transient=True)
            if response.status_code >= 300:
                raise WarehouseError(f"Airflow API: HTTP {response.status_code} for DAG {dag_id!r}")
            return response.json()

        runs = []
        for run in with_retries(fetch).get("dag_runs", []):
            if run.get("state") not in ("success", "failed"):
                continue
            runs.append(PipelineRun(run["dag_run_id"], run["state"] == "success",
                                    _parse(run.get("start_date")), _parse(run.get("end_date"))))
        return runs


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
