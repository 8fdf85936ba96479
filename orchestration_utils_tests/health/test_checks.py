"""The pure parts: schema diff, partition spine, freshness tiers, health score."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from orchestration_utils.health.checks import (
    CheckResult,
    Status,
    check_freshness,
    diff_schema,
    partition_window,
)
from orchestration_utils.health.config import TableConfig
from orchestration_utils.health.report import health_score, summarize
from orchestration_utils.warehouse.base import Field, TableMeta, TableRef
from orchestration_utils.warehouse.types import canonical_type, parse_duckdb_type

NOW = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


def test_schema_diff_classifies_each_change():
    expected = [
        Field("id", "INT64", "REQUIRED"),
        Field("name", "STRING", "REQUIRED"),
        Field("amount", "NUMERIC"),
        Field("tags", "STRING", "REPEATED"),
        Field("gone", "STRING"),
        Field("address", "RECORD", "NULLABLE", (Field("city", "STRING"), Field("zip", "STRING"))),
    ]
    actual = [
        Field("ID", "INT64", "REQUIRED"),  # names are case-insensitive
        Field("name", "STRING", "NULLABLE"),  # relaxed: additive
        Field("amount", "FLOAT64"),  # retyped: breaking
        Field("tags", "STRING", "NULLABLE"),  # no longer repeated: breaking
        Field("address", "RECORD", "NULLABLE", (Field("city", "STRING"),)),
        Field("new_col", "STRING"),
    ]
    changes = {(c.column, c.change): c.breaking for c in diff_schema(expected, actual)}
    assert changes == {
        ("name", "mode_changed"): False,
        ("amount", "type_changed"): True,
        ("tags", "mode_changed"): True,
        ("gone", "removed"): True,
        ("address.zip", "removed"): True,
        ("new_col", "added"): False,
    }


def test_declared_types_compare_across_dialects():
    assert canonical_type("decimal(38,2)") == canonical_type("NUMERIC") == "NUMERIC"
    assert canonical_type("hugeint") == canonical_type("INTEGER") == "INT64"
    assert (
        canonical_type("varchar") == "STRING"
        and canonical_type("TIMESTAMP WITH TIME ZONE") == "TIMESTAMP"
    )
    nested = parse_duckdb_type(
        "a", 'STRUCT(city VARCHAR, "zip code" INTEGER, tags VARCHAR[])', nullable=False
    )
    assert nested == Field(
        "a",
        "RECORD",
        "REQUIRED",
        (Field("city", "STRING"), Field("zip code", "INT64"), Field("tags", "STRING", "REPEATED")),
    )


def test_partition_spine_leaves_out_the_partition_still_filling():
    since, until, days = partition_window("day", 3, NOW)
    assert days == ["20260226", "20260227", "20260228"]
    assert until == datetime(2026, 3, 1, tzinfo=UTC) and since == datetime(2026, 2, 26, tzinfo=UTC)
    _, _, hours = partition_window("hour", 1, NOW)
    assert hours[0] == "2026022810" and hours[-1] == "2026030109" and len(hours) == 24
    _, _, months = partition_window("month", 59, NOW)  # back to 2026-01-01
    assert months == ["202601", "202602"]


def _meta(modified=None, streaming_oldest=None) -> TableMeta:
    return TableMeta(
        TableRef("p", "d", "t"), "TABLE", (), 10, modified, streaming_oldest=streaming_oldest
    )


def test_freshness_tiers_and_metadata_sources():
    table = TableConfig(table_id="p.d.t", max_age_hours=6, warn_age_hours=3)
    at = lambda h: datetime(2026, 3, 1, 10 - h, 30, tzinfo=UTC)
    assert check_freshness(table, _meta(at(1)), None, NOW).status == Status.PASS
    assert check_freshness(table, _meta(at(4)), None, NOW).status == Status.WARN
    stale = check_freshness(table, _meta(at(7)), None, NOW)
    assert stale.status == Status.FAIL and stale.figures["hours_stale"] == 7.0
    assert (
        check_freshness(table, _meta(at(7), streaming_oldest=at(1)), None, NOW).status
        == Status.PASS
    )
    unknown = check_freshness(table, _meta(None), None, NOW)
    assert unknown.status == Status.ERROR and "timestamp_column" in unknown.message
    by_column = TableConfig(table_id="p.d.t", max_age_hours=6, timestamp_column="ts")
    naive = datetime(2026, 3, 1, 8, 30)  # naive values are UTC
    assert check_freshness(by_column, _meta(None), naive, NOW).figures["hours_stale"] == 2.0


def test_health_score_weighs_warn_half_and_error_as_failure():
    def result(status):
        return CheckResult("t", "c", status, "")

    results = [result(Status.PASS), result(Status.PASS), result(Status.WARN), result(Status.ERROR)]
    assert health_score(results) == 62.5
    assert summarize(results) == {
        "total_checks": 4,
        "passed": 2,
        "warnings": 1,
        "failed": 0,
        "errors": 1,
        "health_score": 62.5,
    }
    assert health_score([]) == 100.0


@given(passed=st.integers(0, 5000), warned=st.integers(0, 50), failed=st.integers(0, 50))
def test_the_health_score_reads_100_only_when_every_check_passes(passed, warned, failed):
    results = [
        *[CheckResult("t", "c", Status.PASS, "")] * passed,
        *[CheckResult("t", "c", Status.WARN, "")] * warned,
        *[CheckResult("t", "c", Status.FAIL, "")] * failed,
    ]
    score = health_score(results)
    exact = 100 * (passed + warned / 2) / len(results) if results else 100.0
    assert (score == 100.0) == (warned + failed == 0)
    assert exact - 0.1 < score <= exact + 1e-9  # floored to one decimal, never overstated
    assert round(score, 1) == score


def test_2099_of_2100_passing_is_not_100():
    results = [CheckResult("t", "c", Status.PASS, "")] * 2099 + [
        CheckResult("t", "c", Status.FAIL, "")
    ]
    assert health_score(results) == 99.9


def test_the_streamed_report_is_the_built_report():
    """Past 1,000 checks the CLI streams `report_json_lines`; it must say exactly what `build_report` says."""
    import json
    from datetime import UTC, datetime

    from orchestration_utils.health.checks import CheckResult, Status
    from orchestration_utils.health.report import build_report, report_json_lines
    from orchestration_utils.warehouse.base import Usage

    now = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    results = [
        CheckResult(
            "p.d.t",
            "row_count",
            Status.PASS,
            "5 rows",
            {"row_count": 5, "partition_rows": {"20260301": 5}},
        ),
        CheckResult(
            "p.d.u", "freshness", Status.FAIL, 'stale \u00e9"', {"hours_stale": 3.5}, critical=True
        ),
        CheckResult("warehouse", "cost", Status.ERROR, "boom"),
    ]
    usage = Usage(queries=3, metadata_calls=2, bytes_billed=1024**4)
    for subset in (results, results[:1], []):
        streamed = json.loads(
            b"".join(report_json_lines(subset, now, "duckdb:///x.duckdb", usage, 6.25))
        )
        assert streamed == json.loads(
            json.dumps(build_report(subset, now, "duckdb:///x.duckdb", usage, 6.25))
        )


def test_the_summary_names_critical_checks_first():
    """A critical FAIL is never hidden behind non-critical ERRORs by the 20-line cap."""
    from orchestration_utils.health.report import SUMMARY_LINES, human_summary

    checks = [
        {
            "table": f"t{i}",
            "check": "row_count",
            "status": "ERROR",
            "critical": False,
            "message": "gone",
        }
        for i in range(SUMMARY_LINES + 5)
    ] + [
        {
            "table": "orders",
            "check": "row_count",
            "status": "FAIL",
            "critical": True,
            "message": "0 rows",
        }
    ]
    report = {
        "checks": checks,
        "summary": {
            "health_score": 0,
            "passed": 0,
            "warnings": 0,
            "failed": 1,
            "errors": 25,
            "total_checks": 26,
        },
        "monitoring": {"queries": 0, "metadata_calls": 0, "bytes_billed": 0},
    }
    lines = human_summary(report)
    assert "orders row_count" in lines[1]
