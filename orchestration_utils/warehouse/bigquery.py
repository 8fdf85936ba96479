"""BigQuery through `google-cloud-bigquery`: free `tables.get` for metadata, one capped query per
dataset for partitions and latest timestamps, one `INFORMATION_SCHEMA.JOBS` query for jobs."""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import requests
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.cloud import bigquery

from orchestration_utils.errors import WarehouseError
from orchestration_utils.warehouse.base import (
    PARTITION_ID_FORMAT,
    Job,
    LatestRequest,
    PartitionRequest,
    TableMeta,
    TableRef,
    Usage,
    chunked,
    with_retries,
)
from orchestration_utils.warehouse.types import bigquery_field
from orchestration_utils.warehouse.url import WarehouseUrl

_T = TypeVar("_T")
_GRANULARITY = {"HOUR": "hour", "DAY": "day", "MONTH": "month", "YEAR": "year"}
_PARAM_TYPE = {"DATE": "DATE", "DATETIME": "DATETIME", "TIMESTAMP": "TIMESTAMP"}
# INFORMATION_SCHEMA.PARTITIONS answers for at most 1,000 tables per query.
_PARTITIONS_BATCH = 1000
# Tables per `MAX()` UNION ALL query: BigQuery caps a statement's length and the tables it references.
_UNION_BATCH = 200
# 403s that mean "too fast" (or "try again"), not "not allowed"; the client library retries the same reasons.
_RATE_LIMIT_REASONS = {"rateLimitExceeded", "backendError", "internalError", "badGateway"}
_METADATA_WORKERS = 16
_LABELS = {"orchestration_utils": "health_monitor"}
_REQUEST_LINE = re.compile(
    r"^(GET|POST|PUT|PATCH|DELETE) \S+: "
)  # so the monitor's own jobs can be found in JOBS


def quote(*parts: str) -> str:
    # Every part was validated by TableRef / check_column_name; backticks cannot occur in them.
    return ".".join(f"`{p}`" for p in parts)


def _message(exc: gexc.GoogleAPICallError) -> str:
    """The service's words on one line, without the request line the client puts first."""
    return " ".join(_REQUEST_LINE.sub("", exc.message or "", count=1).split())


def _reasons(exc: gexc.GoogleAPICallError) -> set[str]:
    return {str(e.get("reason")) for e in exc.errors or () if isinstance(e, dict)}


def _as_warehouse_error(exc: Exception) -> WarehouseError:
    if isinstance(exc, gexc.NotFound):
        return WarehouseError(f"not found: {_message(exc)}")
    if isinstance(exc, gexc.Forbidden) and _reasons(exc) & _RATE_LIMIT_REASONS:
        return WarehouseError(
            f"HTTP 403 {min(_reasons(exc) & _RATE_LIMIT_REASONS)}: {_message(exc)}", transient=True
        )
    if isinstance(exc, gexc.Forbidden):
        return WarehouseError(f"permission denied: {_message(exc)}")
    if isinstance(exc, (gexc.TooManyRequests, gexc.ServerError)):
        return WarehouseError(f"HTTP {exc.code}: {_message(exc)}", transient=True)
    if isinstance(exc, gexc.GoogleAPICallError):
        return WarehouseError(f"HTTP {exc.code}: {_message(exc)}")
    if isinstance(exc, (requests.Timeout, concurrent.futures.TimeoutError, TimeoutError)):
        return WarehouseError("timed out", transient=True)
    if isinstance(exc, requests.ConnectionError):
        return WarehouseError(f"connection failed: {type(exc).__name__}", transient=True)
    if isinstance(exc, auth_exc.DefaultCredentialsError):
        return WarehouseError(
            "no GCP credentials: set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`"
        )
    return WarehouseError(f"{type(exc).__name__}: {exc}")


def _call(fn: Callable[[], _T]) -> _T:
    def attempt() -> _T:
        try:
            return fn()
        except WarehouseError:
            raise
        except Exception as exc:  # every client error becomes one the checks understand
            raise _as_warehouse_error(exc) from exc

    return with_retries(attempt)


def emulator_client(project: str, location: str, endpoint: str) -> bigquery.Client:
    """A client for a BigQuery emulator: its endpoint, anonymous credentials, no Google auth at all."""
    from google.auth.credentials import AnonymousCredentials

    return bigquery.Client(
        project=project,
        location=location,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )


def _param(name: str, column_type: str | None, value: datetime) -> bigquery.ScalarQueryParameter:
    kind = _PARAM_TYPE.get(column_type or "TIMESTAMP", "TIMESTAMP")
    value = value.astimezone(UTC)
    if kind == "DATE":
        return bigquery.ScalarQueryParameter(name, kind, value.date())
    if kind == "DATETIME":
        return bigquery.ScalarQueryParameter(name, kind, value.replace(tzinfo=None))
    return bigquery.ScalarQueryParameter(name, kind, value)


class BigQueryWarehouse:
    def __init__(
        self,
        project: str,
        location: str = "US",
        endpoint: str | None = None,
        *,
        max_bytes_billed: int,
        timeout_seconds: float = 60.0,
        client: bigquery.Client
        | None = None,  # one from dagster-gcp's BigQueryResource, in the code location
    ):
        self.project = project
        self.location = location
        self.endpoint = endpoint
        self.url = str(
            WarehouseUrl("bigquery", project=project, location=location, endpoint=endpoint)
        )
        self.max_bytes_billed = max_bytes_billed
        self.timeout_seconds = timeout_seconds
        self.usage = Usage()
        self._client = client

    @property
    def client(self) -> bigquery.Client:
        if self._client is None:
            if self.endpoint:
                self._client = emulator_client(self.project, self.location, self.endpoint)
            else:
                self._client = _call(
                    lambda: bigquery.Client(project=self.project, location=self.location)
                )
        return self._client

    def _query(
        self,
        sql: str,
        params: Sequence[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter],
    ) -> list:
        config = bigquery.QueryJobConfig(
            maximum_bytes_billed=self.max_bytes_billed,
            query_parameters=list(params),
            labels=_LABELS,
        )

        def run() -> list:
            self.usage.queries += 1
            job = self.client.query(
                sql,
                job_config=config,
                retry=None,  # type: ignore[arg-type]  # None turns the client's retries off (ours decide)
                job_retry=None,
                timeout=self.timeout_seconds,
            )
            rows = list(job.result(retry=None, timeout=self.timeout_seconds))
            self.usage.bytes_billed += job.total_bytes_billed or 0
            return rows

        return _call(run)

    def query_rows(self, sql: str) -> list[dict[str, object]]:
        def dry_run() -> int:
            self.usage.queries += 1
            job = self.client.query(
                sql,
                job_config=bigquery.QueryJobConfig(dry_run=True, use_query_cache=False),
                retry=None,  # type: ignore[arg-type]  # None turns the client's retries off
                job_retry=None,
                timeout=self.timeout_seconds,
            )
            return job.total_bytes_processed or 0

        estimate = _call(dry_run)
        if estimate > self.max_bytes_billed:
            raise WarehouseError(
                f"the query would process {estimate} bytes, over the {self.max_bytes_billed} cap"
            )
        return [dict(row.items()) for row in self._query(sql, [])]

    def describe(
        self, dataset: tuple[str, str], tables: Sequence[str]
    ) -> dict[str, TableMeta | WarehouseError]:
        def get(table: str) -> TableMeta | WarehouseError:
            ref = TableRef(dataset[0], dataset[1], table)

            def fetch() -> bigquery.Table:
                self.usage.metadata_calls += 1
                return self.client.get_table(
                    ref.id,
                    retry=None,  # type: ignore[arg-type]  # None turns the client's retries off
                    timeout=self.timeout_seconds,
                )

            try:
                found = _call(fetch)
            except WarehouseError as exc:
                return exc
            try:
                return _table_meta(ref, found)
            except Exception as exc:  # noqa: BLE001 -- a shape this code does not know is that table's error
                return WarehouseError(
                    f"unreadable tables.get answer for {ref.id}: {type(exc).__name__}: {exc}"
                )

        # tables.get is free and per table; threads keep it from being per-table latency.
        with concurrent.futures.ThreadPoolExecutor(_METADATA_WORKERS) as pool:
            return dict(zip(tables, pool.map(get, tables), strict=True))

    def latest(
        self, dataset: tuple[str, str], requests: Sequence[LatestRequest]
    ) -> dict[str, object]:
        by_table = {r.meta.ref.table: r for r in requests}

        def run(tables: Sequence[str]) -> dict[str, object]:
            parts, params = [], []
            for i, table in enumerate(tables):
                request = by_table[table]
                where = ""
                if request.partition_column:
                    where = f" WHERE {quote(request.partition_column)} >= @since{i}"
                    column_type = request.meta.column_type(request.partition_column)
                    if request.partition_column == "_PARTITIONTIME":
                        column_type = "TIMESTAMP"
                    params.append(_param(f"since{i}", column_type, request.since))
                parts.append(
                    f"SELECT @table{i} AS t, CAST(MAX({quote(request.column)}) AS STRING) AS m "
                    f"FROM {quote(*dataset, table)}{where}"
                )
                params.append(bigquery.ScalarQueryParameter(f"table{i}", "STRING", table))
            # MAX() cast to STRING comes back alike for every column type; the freshness check
            # parses it knowing the column's type (DATE, TIMESTAMP, ISO strings, epoch integers).
            return {row[0]: row[1] for row in self._query(" UNION ALL ".join(parts), params)}

        return chunked(list(by_table), run, _UNION_BATCH)

    def partition_counts(
        self, dataset: tuple[str, str], requests: Sequence[PartitionRequest]
    ) -> dict[str, dict[str, int] | WarehouseError]:
        by_table = {r.meta.ref.table: r for r in requests}
        return chunked(
            list(by_table),
            lambda batch: self._partitions(dataset, batch, by_table),
            _PARTITIONS_BATCH,
        )

    def _partitions(
        self, dataset: tuple[str, str], tables: Sequence[str], by_table: dict[str, PartitionRequest]
    ) -> dict[str, dict[str, int]]:
        rows = self._query(
            f"SELECT table_name, partition_id, total_rows FROM {quote(*dataset)}.INFORMATION_SCHEMA.PARTITIONS "
            "WHERE table_name IN UNNEST(@tables)",
            [bigquery.ArrayQueryParameter("tables", "STRING", list(tables))],
        )
        counts: dict[str, dict[str, int]] = {t: {} for t in tables}
        for table, partition_id, total_rows in rows:
            request = by_table.get(table)
            if request is None or partition_id in (None, "__UNPARTITIONED__", "__NULL__"):
                continue
            low = request.since.astimezone(UTC).strftime(PARTITION_ID_FORMAT[request.granularity])
            high = request.until.astimezone(UTC).strftime(PARTITION_ID_FORMAT[request.granularity])
            if low <= partition_id < high:
                counts[table][partition_id] = int(total_rows or 0)
        return counts

    def jobs(self, since: datetime, until: datetime) -> list[Job]:
        region = f"region-{self.location.lower()}"
        rows = self._query(
            "SELECT job_id, creation_time, user_email, statement_type, error_result.reason, error_result.message, "
            "destination_table.project_id, destination_table.dataset_id, destination_table.table_id, "
            "total_bytes_billed, labels "
            f"FROM {quote(self.project, region)}.INFORMATION_SCHEMA.JOBS "
            "WHERE creation_time >= @since AND creation_time < @until AND state = 'DONE' "
            # A script's parent job repeats its children's bytes; counting both doubles the cost.
            "AND IFNULL(statement_type, '') != 'SCRIPT'",
            [
                bigquery.ScalarQueryParameter("since", "TIMESTAMP", since),
                bigquery.ScalarQueryParameter("until", "TIMESTAMP", until),
            ],
        )
        return [
            Job(
                job_id=row[0],
                created=row[1],
                user=row[2],
                statement_type=row[3],
                error_reason=row[4],
                error_message=row[5],
                destination=".".join(row[6:9]) if row[8] else None,
                bytes_billed=int(row[9] or 0),
                labels={label["key"]: label["value"] for label in row[10] or ()},
            )
            for row in rows
        ]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _table_meta(ref: TableRef, table: bigquery.Table) -> TableMeta:
    partitioning = table.time_partitioning
    partition_column = granularity = None
    if partitioning is not None:
        partition_column = partitioning.field or "_PARTITIONTIME"
        # An unknown future unit is named as it is, so the partitions check can say it cannot compare it.
        granularity = _GRANULARITY.get(
            partitioning.type_ or "DAY", (partitioning.type_ or "").lower()
        )
    elif table.range_partitioning is not None:
        partition_column, granularity = table.range_partitioning.field, "integer_range"
    buffer = table.streaming_buffer
    kind = table.table_type or "TABLE"
    # A materialized view's data time is its last refresh; its lastModifiedTime is its DDL's.
    modified = table.mview_last_refresh_time if kind == "MATERIALIZED_VIEW" else table.modified
    return TableMeta(
        ref=ref,
        kind=kind,
        schema=tuple(bigquery_field(f.to_api_repr()) for f in table.schema),
        row_count=table.num_rows,
        modified=modified,
        partition_column=partition_column,
        partition_granularity=granularity,
        streaming_rows=int(buffer.estimated_rows or 0) if buffer else 0,
        streaming_oldest=buffer.oldest_entry_time if buffer else None,
    )
