"""Pipeline runs from an Airflow 3 REST API (completion-time SLAs on Airflow DAGs)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import orjson

from orchestration_utils.errors import RunHistoryError
from orchestration_utils.http_client import TRANSPORT_ERRORS, exchange
from orchestration_utils.runs.model import PipelineRun
from orchestration_utils.warehouse.base import with_retries


@dataclass(frozen=True)
class AirflowCredentials:
    """A token, or a user and password exchanged for a JWT at `POST /auth/token` (Airflow 3's
    simple auth). Never in a repr, a log or a report."""

    token: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> AirflowCredentials:
        """What the CLI reads: AIRFLOW_API_TOKEN, or AIRFLOW_USERNAME / AIRFLOW_PASSWORD."""
        return cls(
            environ.get("AIRFLOW_API_TOKEN", ""),
            environ.get("AIRFLOW_USERNAME", ""),
            environ.get("AIRFLOW_PASSWORD", ""),
        )


class AirflowRuns:
    """`GET /api/v2/dags/{dag_id}/dagRuns` of an Airflow 3 API server, page by page (`limit`/`offset`,
    newest end first) back to the window's start: an hourly DAG has more than 100 runs in a week."""

    PAGE = 100
    MAX_RUNS = 10_000  # ten thousand finished runs are enough to judge any window

    def __init__(
        self,
        base_url: str,
        credentials: AirflowCredentials | None = None,
        timeout_seconds: float = 30.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.credentials = credentials or AirflowCredentials()
        self._token = self.credentials.token or None

    def _auth(self) -> dict[str, str]:
        if self._token is None and self.credentials.username:
            answer = self._call(
                f"{self.base_url}/auth/token",
                "login",
                {"username": self.credentials.username, "password": self.credentials.password},
            )
            try:
                self._token = orjson.loads(answer.text)["access_token"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                raise RunHistoryError("Airflow login: the answer holds no access_token") from None
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _call(
        self, url: str, what: str, body: dict | None = None, headers: dict[str, str] | None = None
    ):
        try:
            answer = exchange(url, self.timeout_seconds, body, headers)
        except TRANSPORT_ERRORS as exc:
            raise RunHistoryError(
                f"Airflow API ({what}): {type(exc).__name__}", transient=True
            ) from exc
        if answer.status == 429 or answer.status >= 500:
            raise RunHistoryError(f"Airflow API ({what}): HTTP {answer.status}", transient=True)
        if answer.status >= 300:
            raise RunHistoryError(f"Airflow API ({what}): HTTP {answer.status}")
        return answer

    def __call__(self, dag_id: str, since: datetime) -> list[PipelineRun]:
        url = f"{self.base_url}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns"
        runs: dict[str, PipelineRun] = {}
        for offset in range(0, self.MAX_RUNS, self.PAGE):
            query = urlencode(
                {
                    "end_date_gte": since.isoformat(),
                    "order_by": "-end_date",
                    "limit": self.PAGE,
                    "offset": offset,
                }
            )

            def fetch(query=query) -> dict:
                answer = self._call(
                    f"{url}?{query}", f"runs of DAG {dag_id!r}", headers=self._auth()
                )
                try:
                    return orjson.loads(answer.text)
                except orjson.JSONDecodeError:
                    raise RunHistoryError(
                        f"Airflow API: runs of DAG {dag_id!r}: not JSON"
                    ) from None

            page = with_retries(fetch).get("dag_runs") or []
            for run in page:
                if run.get("state") in ("success", "failed"):
                    # A run that ends between two pages moves the later ones down by one: keep it once.
                    runs.setdefault(
                        run["dag_run_id"],
                        PipelineRun(
                            run["dag_run_id"],
                            run["state"] == "success",
                            _parse(run.get("start_date")),
                            _parse(run.get("end_date")),
                        ),
                    )
            if len(page) < self.PAGE:
                break
        return sorted(
            runs.values(), key=lambda r: r.ended or datetime.min.replace(tzinfo=UTC), reverse=True
        )


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
