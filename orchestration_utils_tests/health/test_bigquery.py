"""The BigQuery backend through the real client: against bqemulator where it can answer, and
against recorded-shape responses on 127.0.0.1 where no emulator can (said per test)."""

from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import bigquery

from orchestration_utils.health.config import HealthConfig, TableConfig
from orchestration_utils.health.monitor import run_health_checks
from orchestration_utils.health.report import build_report
from orchestration_utils.warehouse.bigquery import BigQueryWarehouse

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded(bq_emulator):
    """Two datasets: a day-partitioned table with a gap, a small unpartitioned one, a drifted one."""
    client = bq_emulator.client()
    for dataset in ("sales", "crm"):
        client.create_dataset(dataset, exists_ok=True)
    events = bigquery.Table(
        "test.sales.events",
        schema=[
            bigquery.SchemaField("id", "INT64", mode="REQUIRED"),
            bigquery.SchemaField("ts", "TIMESTAMP"),
            bigquery.SchemaField(
                "address", "RECORD", fields=[bigquery.SchemaField("city", "STRING")]
            ),
        ],
    )
    events.time_partitioning = bigquery.TimePartitioning(field="ts", type_="DAY")
    client.create_table(events, exists_ok=True)
    # Days 1..7 before NOW, except day 3: a missing partition. Newest row 26h old.
    rows = [
        {
            "id": day * 10 + i,
            "ts": (NOW - timedelta(days=day, hours=2)).isoformat(),
            "address": {"city": "Oslo"},
        }
        for day in (1, 2, 4, 5, 6, 7)
        for i in range(day)
    ]
    assert client.insert_rows_json("test.sales.events", rows) == []
    customers = bigquery.Table(
        "test.crm.customers",
        schema=[
            bigquery.SchemaField("customer_id", "INT64", mode="REQUIRED"),
            bigquery.SchemaField("email", "STRING"),
            bigquery.SchemaField("signup_date", "DATE"),
        ],
    )
    client.create_table(customers, exists_ok=True)
    assert (
        client.insert_rows_json(
            "test.crm.customers",
            [
                {"customer_id": 1, "email": "a@x", "signup_date": "2026-06-14"},
                {"customer_id": 2, "email": "b@x", "signup_date": "2026-06-10"},
            ],
        )
        == []
    )
    return bq_emulator


def _warehouse(endpoint: str, project: str = "test", **kwargs) -> BigQueryWarehouse:
    return BigQueryWarehouse(project, "US", endpoint, max_bytes_billed=10**9, **kwargs)


def test_checks_against_the_emulator(seeded):
    config = HealthConfig(
        tables=(
            TableConfig(
                table_id="test.sales.events",
                max_age_hours=24,
                timestamp_column="ts",
                min_rows=1,
                check_partitions=True,
                lookback_days=7,
                expected_schema=(
                    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
                    {"name": "ts", "type": "TIMESTAMP"},
                    {
                        "name": "address",
                        "type": "RECORD",
                        "fields": ({"name": "city", "type": "INT64"},),
                    },
                ),
            ),
            TableConfig(
                table_id="test.crm.customers",
                max_age_hours=48,
                timestamp_column="signup_date",
                min_rows=5,
            ),
            TableConfig(table_id="test.crm.missing_table", min_rows=1),
        )
    )
    warehouse = _warehouse(seeded.endpoint)
    results = {(r.table, r.check): r for r in run_health_checks(config, warehouse, NOW)}

    freshness = results["test.sales.events", "freshness"]
    assert freshness.status == "FAIL" and freshness.figures["hours_stale"] == 26.0
    partitions = results["test.sales.events", "partitions"]
    assert partitions.status == "FAIL"
    assert partitions.figures["missing_partitions"] == ["20260612"]
    rows = results["test.sales.events", "row_count"]
    assert rows.status == "PASS" and rows.figures["partition_rows"]["20260614"] == 1
    drift = results["test.sales.events", "schema_drift"]
    assert (
        drift.status == "FAIL"
    )  # INT64 declared as INTEGER is no drift; city STRING → INT64 expected is
    assert [c["column"] for c in drift.figures["changes"]] == ["address.city"]
    assert (
        results["test.crm.customers", "freshness"].status == "PASS"
    )  # a DATE column, 12h after midnight
    assert results["test.crm.customers", "row_count"].status == "FAIL"
    missing = results["test.crm.missing_table", "row_count"]
    assert missing.status == "ERROR" and "not found" in missing.message
    # The emulator serves no INFORMATION_SCHEMA.STREAMING_TIMELINE (asked once, HTTP 400), so every
    # table is described by tables.get, as where the views are not allowed.
    assert warehouse.usage.metadata_calls == 3
    # One billed query per dataset and purpose, not per check: the timeline; sales: MAX(ts) +
    # PARTITIONS; crm: MAX(signup_date).
    assert warehouse.usage.queries == 4


def test_a_bad_column_errors_its_table_alone(seeded):
    config = HealthConfig(
        tables=(
            TableConfig(
                table_id="test.crm.customers", max_age_hours=48, timestamp_column="no_such_column"
            ),
            TableConfig(table_id="test.sales.events", max_age_hours=48, timestamp_column="ts"),
        )
    )
    results = {r.table: r for r in run_health_checks(config, _warehouse(seeded.endpoint), NOW)}
    assert results["test.crm.customers"].status == "ERROR"
    assert results["test.sales.events"].status == "PASS"


def test_metadata_freshness_follows_a_moving_modified_time_and_the_streaming_buffer(
    recorded_bigquery,
):
    """No emulator moves `lastModifiedTime` or keeps a streaming buffer: recorded tables.get shapes."""
    modified = {"ms": int((NOW - timedelta(hours=30)).timestamp() * 1000)}

    def table(method, path, body):
        resource = {
            "kind": "bigquery#table",
            "type": "TABLE",
            "tableReference": {"projectId": "p", "datasetId": "d", "tableId": "t"},
            "schema": {"fields": [{"name": "id", "type": "INTEGER", "mode": "REQUIRED"}]},
            "numRows": "100",
            "lastModifiedTime": str(modified["ms"]),
        }
        if modified.get("buffer"):
            resource["streamingBuffer"] = {
                "estimatedRows": "7",
                "oldestEntryTime": str(modified["buffer"]),
            }
        return 200, resource

    recorded_bigquery.on("GET", "/projects/p/datasets/d/tables/t", table)
    config = HealthConfig(tables=(TableConfig(table_id="p.d.t", max_age_hours=24, min_rows=101),))

    def run():
        return {
            r.check: r
            for r in run_health_checks(config, _warehouse(recorded_bigquery.endpoint, "p"), NOW)
        }

    first = run()
    assert first["freshness"].status == "FAIL" and first["freshness"].figures["hours_stale"] == 30.0
    assert first["row_count"].status == "FAIL"
    modified["buffer"] = int((NOW - timedelta(hours=1)).timestamp() * 1000)  # rows streaming in
    second = run()
    assert (
        second["freshness"].status == "PASS" and second["freshness"].figures["hours_stale"] == 1.0
    )
    assert second["row_count"].figures["row_count"] == 107 and second["row_count"].status == "PASS"


def _jobs_schema() -> list[dict]:
    string = {"type": "STRING", "mode": "NULLABLE"}
    return [
        {"name": "job_id", **string},
        {"name": "creation_time", "type": "TIMESTAMP", "mode": "NULLABLE"},
        {"name": "user_email", **string},
        {"name": "statement_type", **string},
        {"name": "reason", **string},
        {"name": "message", **string},
        {"name": "project_id", **string},
        {"name": "dataset_id", **string},
        {"name": "table_id", **string},
        {"name": "total_bytes_billed", "type": "INTEGER", "mode": "NULLABLE"},
        {
            "name": "labels",
            "type": "RECORD",
            "mode": "REPEATED",
            "fields": [{"name": "key", **string}, {"name": "value", **string}],
        },
    ]


def _job_row(job_id, user, reason, table, tib, labels=()):
    created = str(
        int((NOW - timedelta(hours=2)).timestamp() * 10**6)
    )  # the client asks for int64 microseconds
    return [
        job_id,
        created,
        user,
        "INSERT",
        reason,
        "boom" if reason else None,
        "p",
        "d",
        table,
        str(int(tib * 1024**4)),
        [{"v": {"f": [{"v": k}, {"v": v}]}} for k, v in labels],
    ]


def test_failed_jobs_and_cost_from_information_schema_jobs(recorded_bigquery):
    """Emulators have no JOBS bytes billed: the JOBS rows here are recorded shapes."""
    recorded_bigquery.serve_query(
        "p",
        _jobs_schema(),
        [
            _job_row("j1", "dbt@p.iam", None, "fct_orders", 2.0, [("dbt_model", "fct_orders")]),
            _job_row("j2", "analyst@x.com", None, "scratch", 1.0),
            _job_row(
                "j3", "dbt@p.iam", "invalidQuery", "fct_events", 0.0, [("dbt_model", "fct_events")]
            ),
        ],
        bytes_billed=10 * 1024**2,
    )
    config = HealthConfig(check_failures=True, check_costs=True, cost_threshold_usd=10)
    warehouse = _warehouse(recorded_bigquery.endpoint, "p")
    results = {r.check: r for r in run_health_checks(config, warehouse, NOW)}
    failures = results["failed_jobs"]
    assert failures.status == "FAIL" and failures.figures["failed_jobs"] == 1
    assert failures.figures["failures"][0]["reason"] == "invalidQuery"
    cost = results["cost"]
    assert cost.figures["total_cost_usd"] == 18.75 and cost.status == "FAIL"
    assert cost.figures["by_user"][0] == {
        "name": "dbt@p.iam",
        "bytes_billed": 2 * 1024**4,
        "cost_usd": 12.5,
    }
    assert {
        "name": "dbt_model=fct_orders",
        "bytes_billed": 2 * 1024**4,
        "cost_usd": 12.5,
    } in cost.figures["by_label"]
    # One JOBS query serves both checks; the monitor reports what that query billed.
    assert warehouse.usage.queries == 1
    report = build_report(list(results.values()), NOW, warehouse.url, warehouse.usage, 6.25)
    assert report["monitoring"]["bytes_billed"] == 10 * 1024**2
    posted = [p for m, p in recorded_bigquery.requests if m == "POST"]
    assert posted == ["/projects/p/jobs"]


def test_the_cap_and_labels_ride_on_every_query(recorded_bigquery):
    seen = {}

    def insert(method, path, body):
        seen.update(body["configuration"])
        return 400, {
            "error": {"code": 400, "message": "stop here", "errors": [{"reason": "invalid"}]}
        }

    recorded_bigquery.on("POST", "/projects/p/jobs", insert)
    results = run_health_checks(
        HealthConfig(check_costs=True), _warehouse(recorded_bigquery.endpoint, "p"), NOW
    )
    assert results[0].status == "ERROR" and "stop here" in results[0].message
    assert seen["query"]["maximumBytesBilled"] == str(10**9)
    assert seen["labels"] == {"orchestration_utils": "health_monitor"}
    assert (
        "INFORMATION_SCHEMA.JOBS" in seen["query"]["query"] and "@since" in seen["query"]["query"]
    )


def test_transient_errors_are_retried_then_reported(recorded_bigquery):
    calls = {"n": 0}

    def flaky(method, path, body):
        calls["n"] += 1
        if calls["n"] <= 2:
            return 503, {"error": {"code": 503, "message": "backend error"}}
        return 200, {
            "kind": "bigquery#table",
            "type": "TABLE",
            "numRows": "5",
            "tableReference": {"projectId": "p", "datasetId": "d", "tableId": "t"},
            "schema": {"fields": []},
            "lastModifiedTime": str(int(NOW.timestamp() * 1000)),
        }

    recorded_bigquery.on("GET", "/projects/p/datasets/d/tables/t", flaky)
    recorded_bigquery.on("GET", "/projects/p/datasets/d/tables/slow", lambda *a: None)  # hangs
    config = HealthConfig(
        tables=(
            TableConfig(table_id="p.d.t", min_rows=1),
            TableConfig(table_id="p.d.slow", min_rows=1),
        )
    )
    results = {
        r.table: r
        for r in run_health_checks(
            config, _warehouse(recorded_bigquery.endpoint, "p", timeout_seconds=0.5), NOW
        )
    }
    assert results["p.d.t"].status == "PASS" and calls["n"] == 3
    assert results["p.d.slow"].status == "ERROR" and "timed out" in results["p.d.slow"].message


def test_the_code_location_reaches_bigquery_through_dagster_gcp(seeded):
    """The Dagster resource opens BigQuery through dagster-gcp's BigQueryResource (with the
    emulator's endpoint and anonymous credentials), and the checks run the same."""
    from orchestration_utils.dagster_defs.resources import WarehouseResource

    resource = WarehouseResource(url=f"bigquery://test?location=US&endpoint={seeded.endpoint}")
    config = HealthConfig(tables=(TableConfig(table_id="test.crm.customers", min_rows=1),))
    with resource.open() as warehouse:
        results = run_health_checks(config, warehouse, NOW)
    assert results[0].status == "PASS" and results[0].figures["row_count"] == 2


def test_a_quality_query_runs_on_the_emulator(seeded):
    """The SLA quality query path (dry run, then the capped query) through the real client."""
    warehouse = _warehouse(seeded.endpoint)
    rows = warehouse.query_rows(
        "SELECT COUNT(*) AS total_rows, COUNTIF(email IS NULL) AS failed_rows "
        "FROM `test.crm.customers`"
    )
    assert rows == [{"total_rows": 2, "failed_rows": 0}]
    assert warehouse.usage.queries == 2  # the dry run and the query


def test_a_quality_query_over_the_cap_is_refused_before_it_runs(recorded_bigquery):
    """Emulators estimate 0 bytes: the dry-run answer here is a recorded shape naming 5 TB."""
    sent = []

    def insert(method, path, body):
        sent.append(body["configuration"])
        job_id = body["jobReference"]["jobId"]
        return 200, {
            "kind": "bigquery#job",
            "jobReference": {"projectId": "p", "jobId": job_id, "location": "US"},
            "configuration": body["configuration"],
            "status": {"state": "DONE"},
            "statistics": {
                "totalBytesProcessed": str(5 * 10**12),
                "query": {"totalBytesProcessed": str(5 * 10**12)},
            },
        }

    recorded_bigquery.on("POST", "/projects/p/jobs", insert)
    from orchestration_utils.errors import WarehouseError

    with pytest.raises(
        WarehouseError, match="would process 5000000000000 bytes, over the 1000000000 cap"
    ):
        _warehouse(recorded_bigquery.endpoint, "p").query_rows(
            "SELECT 1 AS total_rows, 0 AS failed_rows"
        )
    assert [c.get("dryRun") for c in sent] == [True]  # the real query was never sent


def test_a_permission_error_is_that_tables_error_alone(recorded_bigquery):
    recorded_bigquery.on(
        "GET",
        "/projects/p/datasets/d/tables/secret",
        lambda *a: (
            403,
            {
                "error": {
                    "code": 403,
                    "message": "Access Denied: Table p:d.secret: User does not have bigquery.tables.get",
                    "errors": [{"reason": "accessDenied"}],
                }
            },
        ),
    )
    recorded_bigquery.on(
        "GET",
        "/projects/p/datasets/d/tables/open",
        lambda *a: (
            200,
            {
                "kind": "bigquery#table",
                "type": "TABLE",
                "numRows": "3",
                "schema": {"fields": []},
                "tableReference": {"projectId": "p", "datasetId": "d", "tableId": "open"},
            },
        ),
    )
    config = HealthConfig(
        tables=(
            TableConfig(table_id="p.d.secret", min_rows=1),
            TableConfig(table_id="p.d.open", min_rows=1),
        )
    )
    results = {
        r.table: r
        for r in run_health_checks(config, _warehouse(recorded_bigquery.endpoint, "p"), NOW)
    }
    assert results["p.d.secret"].status == "ERROR"
    assert results["p.d.secret"].message.startswith("permission denied: Access Denied")
    assert results["p.d.open"].status == "PASS"
    assert [p for m, p in recorded_bigquery.requests].count(
        "/projects/p/datasets/d/tables/secret"
    ) == 1  # not retried
