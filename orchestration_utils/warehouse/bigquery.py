"""BigQuery through `google-cloud-bigquery`: table metadata in one capped query per dataset
(`INFORMATION_SCHEMA.TABLES` and `COLUMNS` joined with `__TABLES__`), with a free `tables.get` only
for the tables whose facts those views do not hold; one capped query per dataset for partitions and
latest timestamps, one `INFORMATION_SCHEMA.JOBS` query for jobs."""

from __future__ import annotations

import concurrent.futures
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import requests
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.cloud import bigquery

from orchestration_utils.errors import WarehouseError
from orchestration_utils.warehouse.base import (
    PARTITION_ID_FORMAT,
    Field,
    Job,
    LatestRequest,
    PartitionRequest,
    TableMeta,
    TableRef,
    Usage,
    chunked,
    with_retries,
)
from orchestration_utils.warehouse.types import bigquery_field, canonical_type
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
# Rows stay in the legacy streaming buffer for minutes to about 90; a table that streamed within
# this window may still have some there, which only `tables.get` reports.
_STREAMING_WINDOW = timedelta(hours=24)
# INFORMATION_SCHEMA.TABLES.table_type as tables.get names it; kinds not here (MATERIALIZED VIEW:
# its last refresh; EXTERNAL: no row count of its own) are read with tables.get.
_VIEW_KIND = {"BASE TABLE": "TABLE", "CLONE": "TABLE", "SNAPSHOT": "SNAPSHOT", "VIEW": "VIEW"}
_TRUNC_UNIT = {"HOUR": "hour", "DAY": "day", "MONTH": "month", "YEAR": "year"}
# The `PARTITION BY` expressions of BigQuery's DDL: `_PARTITIONDATE`, `DATE(ts)`, `d`,
# `TIMESTAMP_TRUNC(ts, HOUR)` (also DATETIME_ and DATE_TRUNC), `RANGE_BUCKET(id, GENERATE_ARRAY(...))`.
_PARTITION_BY = re.compile(r"^PARTITION BY (.+)$", re.MULTILINE)
_TRUNC = re.compile(r"(?:TIMESTAMP|DATETIME|DATE)_TRUNC\(`?(\w+)`?,\s*(\w+)\)")
_DATE_OF = re.compile(r"DATE\(`?(\w+)`?\)")
_RANGE = re.compile(r"RANGE_BUCKET\(`?(\w+)`?\s*,")
_BARE = re.compile(r"`?(\w+)`?")
_log = logging.getLogger(__name__)
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
        self._streaming: dict[str, set[tuple[str, str]] | None] = {}

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
        """One metadata query for the dataset; `tables.get` for what it leaves out (a table that may
        hold streamed rows, a materialized view, an external table, nested or unparsed columns), or
        for every table when the views are not allowed (403 accessDenied: they need
        `bigquery.tables.list` on the dataset, where `tables.get` needs only `bigquery.tables.get`)
        or do not answer (404/400, as on an emulator without them)."""
        found: dict[str, TableMeta | None] = {}
        streamed = self._streamed(dataset[0])
        if streamed is not None:
            try:
                found = self._dataset_metadata(dataset, tables)
            except WarehouseError as exc:
                _log.warning(
                    "%s.%s: metadata views not used (%s); one tables.get per table", *dataset, exc
                )
        results: dict[str, TableMeta | WarehouseError] = {
            t: meta
            for t, meta in found.items()
            if meta is not None and (dataset[1], t) not in (streamed or ())
        }
        rest = [t for t in tables if t not in results]
        return {**results, **self._get_tables(dataset, rest)} if rest else results

    def _streamed(self, project: str) -> set[tuple[str, str]] | None:
        """(dataset, table) that streamed rows with `insertAll` lately, from one query per project
        and run; None when the view cannot be read (every table then goes through tables.get)."""
        if project not in self._streaming:
            try:
                rows = self._query(
                    "SELECT DISTINCT dataset_id, table_id "
                    f"FROM {quote(project, f'region-{self.location.lower()}')}.INFORMATION_SCHEMA.STREAMING_TIMELINE "
                    "WHERE start_timestamp >= @since",
                    [
                        bigquery.ScalarQueryParameter(
                            "since", "TIMESTAMP", datetime.now(UTC) - _STREAMING_WINDOW
                        )
                    ],
                )
                self._streaming[project] = {(row[0], row[1]) for row in rows}
            except WarehouseError as exc:
                _log.warning(
                    "%s: streaming timeline not readable (%s); one tables.get per table",
                    project,
                    exc,
                )
                self._streaming[project] = None
        return self._streaming[project]

    def _dataset_metadata(
        self, dataset: tuple[str, str], tables: Sequence[str]
    ) -> dict[str, TableMeta | None]:
        """Each listed table's metadata from one query, or None where the views do not hold it."""
        rows = self._query(
            "SELECT t.table_name, t.table_type, t.ddl, s.row_count, s.last_modified_time, "
            "c.column_name, c.data_type, c.is_nullable, c.is_partitioning_column "
            f"FROM {quote(*dataset)}.INFORMATION_SCHEMA.TABLES AS t "
            f"LEFT JOIN {quote(*dataset, '__TABLES__')} AS s ON s.table_id = t.table_name "
            f"LEFT JOIN {quote(*dataset)}.INFORMATION_SCHEMA.COLUMNS AS c ON c.table_name = t.table_name "
            "WHERE t.table_name IN UNNEST(@tables) ORDER BY t.table_name, c.ordinal_position",
            [bigquery.ArrayQueryParameter("tables", "STRING", list(tables))],
        )
        by_table: dict[str, list] = {}
        try:
            for row in rows:
                by_table.setdefault(row["table_name"], []).append(row)
            return {
                t: _view_meta(TableRef(*dataset, t), by_table[t]) for t in tables if t in by_table
            }
        except (KeyError, TypeError, ValueError) as exc:  # an answer of another shape
            raise WarehouseError(
                f"unreadable metadata answer: {type(exc).__name__}: {exc}"
            ) from exc

    def _get_tables(
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


def _view_meta(ref: TableRef, rows: list) -> TableMeta | None:
    """A table's metadata from its rows of the dataset query (one per column), as `_table_meta`
    would read it from tables.get; None where the views do not hold the same facts."""
    first = rows[0]
    kind = _VIEW_KIND.get(first["table_type"])
    if kind is None:
        return None
    # A view's DDL is its user's query (`OVER (PARTITION BY ...)` may start a line); it has no partitions.
    partitioning = (None, None) if kind == "VIEW" else _ddl_partitioning(first["ddl"] or "")
    if partitioning is None:
        return None
    schema = []
    for row in rows:
        if row["column_name"] is None:
            continue
        field = _column_field(row["column_name"], row["data_type"], row["is_nullable"])
        if field is None:
            return None
        schema.append(field)
    modified = first["last_modified_time"]
    return TableMeta(
        ref=ref,
        kind=kind,
        schema=tuple(schema),
        # A view's __TABLES__ row_count is 0, where tables.get reports none.
        row_count=None if kind == "VIEW" or first["row_count"] is None else int(first["row_count"]),
        modified=None if modified is None else datetime.fromtimestamp(int(modified) / 1000, UTC),
        partition_column=partitioning[0],
        partition_granularity=partitioning[1],
    )


def _column_field(name: str, data_type: str, is_nullable: str) -> Field | None:
    """A top-level column; None for a STRUCT (its nested modes are in tables.get only) or any
    parameterised type but `ARRAY<scalar>`."""
    if data_type.startswith("ARRAY<") and data_type.endswith(">") and "<" not in data_type[6:-1]:
        return Field(name, canonical_type(data_type[6:-1]), "REPEATED")
    if "<" in data_type:
        return None
    return Field(
        name, canonical_type(data_type), "NULLABLE" if is_nullable == "YES" else "REQUIRED"
    )


def _ddl_partitioning(ddl: str) -> tuple[str | None, str | None] | None:
    """(column, granularity) from a table's DDL, (None, None) when it is not partitioned,
    None for an expression this does not know (tables.get then says)."""
    match = _PARTITION_BY.search(ddl)
    if match is None:
        return None, None
    expr = match.group(1).strip().removesuffix(";").strip()
    if expr == "_PARTITIONDATE":
        return "_PARTITIONTIME", "day"
    if m := _TRUNC.fullmatch(expr):
        unit = _TRUNC_UNIT.get(m.group(2).upper())
        return (m.group(1), unit) if unit else None
    if m := _DATE_OF.fullmatch(expr):
        return m.group(1), "day"
    if m := _RANGE.match(expr):
        return m.group(1), "integer_range"
    if m := _BARE.fullmatch(expr):
        return m.group(1), "day"
    return None
