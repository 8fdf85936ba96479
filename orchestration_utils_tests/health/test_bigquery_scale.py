"""BigQuery round trips at 1,000 and 10,000 tables, against recorded-shape responses on 127.0.0.1
(no emulator serves 10,000 tables quickly or answers 403 rateLimitExceeded): what the monitor sends
grows with tables only through the free `tables.get`; billed queries are capped batches per dataset."""

import math
import threading
from datetime import UTC, datetime, timedelta

import pytest

from orchestration_utils.health.config import HealthConfig, TableConfig
from orchestration_utils.health.monitor import run_health_checks
from orchestration_utils.warehouse.bigquery import (
    _PARTITIONS_BATCH,
    _UNION_BATCH,
    BigQueryWarehouse,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PER_DATASET = 500
DAYS = [(NOW - timedelta(days=d)).strftime("%Y%m%d") for d in range(1, 8)]
RATE_LIMITED = {
    "error": {
        "code": 403,
        "message": "Exceeded rate limits: too many api requests per user per method",
        "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits"}],
    }
}


def _serve(server, renamed: str):
    """tables.get for every `p.dN.tM` (one of them has its `ts` renamed); jobs.insert and
    getQueryResults answering the MAX() and PARTITIONS queries from their own parameters.
    The first tables.get and the first query are refused with 403 rateLimitExceeded."""
    lock = threading.Lock()
    jobs: dict[str, tuple[list[dict], list[list]]] = {}
    first = {"get": True, "query": True}

    def limited(kind: str) -> bool:
        with lock:
            was, first[kind] = first[kind], False
        return was

    def table(method, path, body):
        if limited("get"):
            return 403, RATE_LIMITED
        dataset, name = path.split("/")[4], path.split("/")[6]
        column = "loaded_at" if f"{dataset}.{name}" == renamed else "ts"
        return 200, {
            "kind": "bigquery#table",
            "type": "TABLE",
            "numRows": "700",
            "tableReference": {"projectId": "p", "datasetId": dataset, "tableId": name},
            "schema": {
                "fields": [
                    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
                    {"name": column, "type": "TIMESTAMP", "mode": "NULLABLE"},
                ]
            },
            "timePartitioning": {"type": "DAY", "field": column},
            "lastModifiedTime": str(int(NOW.timestamp() * 1000)),
        }

    def insert(method, path, body):
        if limited("query"):
            return 403, RATE_LIMITED
        query = body["configuration"]["query"]
        params = {p["name"]: p["parameterValue"] for p in query.get("queryParameters", ())}
        string = {"type": "STRING", "mode": "NULLABLE"}
        if "INFORMATION_SCHEMA.PARTITIONS" in query["query"]:
            schema = [
                {"name": "table_name", **string},
                {"name": "partition_id", **string},
                {"name": "total_rows", "type": "INTEGER", "mode": "NULLABLE"},
            ]
            rows = [
                [v["value"], day, "100"] for v in params["tables"]["arrayValues"] for day in DAYS
            ]
        else:
            schema = [{"name": "t", **string}, {"name": "m", **string}]
            fresh = (NOW - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S+00")
            rows = [[v["value"], fresh] for k, v in params.items() if k.startswith("table")]
        job_id = body["jobReference"]["jobId"]
        with lock:
            jobs[job_id] = (schema, rows)
        return 200, {
            "kind": "bigquery#job",
            "jobReference": {"projectId": "p", "jobId": job_id, "location": "US"},
            "configuration": body["configuration"],
            "status": {"state": "DONE"},
            "statistics": {
                "creationTime": "1",
                "query": {"totalBytesBilled": "0", "totalBytesProcessed": "0"},
            },
        }

    def results(method, path, body):
        job_id = path.rsplit("/", 1)[1]
        schema, rows = jobs[job_id]
        return 200, {
            "kind": "bigquery#getQueryResultsResponse",
            "jobComplete": True,
            "jobReference": {"projectId": "p", "jobId": job_id, "location": "US"},
            "schema": {"fields": schema},
            "totalRows": str(len(rows)),
            "rows": [{"f": [{"v": v} for v in row]} for row in rows],
        }

    server.on("GET", "/projects/p/datasets/", table)
    server.on("POST", "/projects/p/jobs", insert)
    server.on("GET", "/projects/p/queries/", results)


@pytest.mark.parametrize("tables", [1000, 10000])
def test_round_trips_at_scale(recorded_bigquery, tables):
    datasets = tables // PER_DATASET
    renamed = "d0.t7"
    _serve(recorded_bigquery, renamed)
    config = HealthConfig(
        tables=tuple(
            TableConfig(
                table_id=f"p.d{d}.t{t}",
                max_age_hours=24,
                timestamp_column="ts",
                min_rows=1,
                partition_column="ts",
                check_partitions=True,
                lookback_days=7,
            )
            for d in range(datasets)
            for t in range(PER_DATASET)
        )
    )
    warehouse = BigQueryWarehouse("p", "US", recorded_bigquery.endpoint, max_bytes_billed=10**9)
    results = run_health_checks(config, warehouse, NOW)

    statuses = {(r.table, r.check): r.status for r in results}
    assert len(statuses) == tables * 3
    assert {s for (t, _), s in statuses.items() if t != f"p.{renamed}"} == {"PASS"}
    # The renamed column errors its own table, found from the metadata before any query is sent.
    assert {statuses[f"p.{renamed}", c] for c in ("freshness", "row_count", "partitions")} == {
        "ERROR"
    }

    # Billed queries: per dataset, MAX() in batches of at most 200 tables (the renamed table is not
    # asked) and PARTITIONS in batches of 1,000; one more for the query refused by the rate limit.
    per_dataset = math.ceil(PER_DATASET / _UNION_BATCH) + math.ceil(PER_DATASET / _PARTITIONS_BATCH)
    assert warehouse.usage.queries == datasets * per_dataset + 1
    # Metadata: one free tables.get per table, plus the one refused by the rate limit and retried.
    assert warehouse.usage.metadata_calls == tables + 1
    sent = recorded_bigquery.requests
    assert sum(1 for m, p in sent if m == "POST" and p.endswith("/jobs")) == warehouse.usage.queries
    assert sum(1 for m, p in sent if m == "GET" and "/tables/" in p) == tables + 1
    print(
        f"\n{tables} tables in {datasets} datasets: {len(sent)} HTTP requests, "
        f"{warehouse.usage.metadata_calls} tables.get, {warehouse.usage.queries} billed queries"
    )
