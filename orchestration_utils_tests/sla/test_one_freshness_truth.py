"""One freshness truth per asset: a freshness SLA judges what the table's health `freshness` check
observed (its newest data time), against its own limit, instead of reading the warehouse again."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from orchestration_utils.sla.config import parse_sla_config
from orchestration_utils.sla.evaluate import (
    OBSERVATION_MAX_AGE,
    FreshnessObservation,
    SlaStatus,
    evaluate_slas,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SLA = {
    "name": "clicks_fresh",
    "type": "freshness",
    "table_id": "lake.landing.clicks",
    "timestamp_column": "ts",
    "max_age_hours": 6,
    "critical": True,
}


class NoHistory:
    def samples(self, sla_name, since):
        return []


def _evaluate(observation, sla=SLA):
    config = parse_sla_config(json.dumps({"slas": [sla]}), "sla.json")
    observed = {sla["name"]: observation} if observation else None
    (result,) = evaluate_slas(config, NOW, None, None, NoHistory(), observed)
    return result


@pytest.mark.parametrize(("age_hours", "status"), [(5.5, SlaStatus.PASS), (6.5, SlaStatus.FAIL)])
def test_the_sla_judges_the_health_checks_newest_data_time_with_its_own_limit(age_hours, status):
    seen = FreshnessObservation(
        NOW - timedelta(hours=age_hours), "MAX(ts)", NOW - timedelta(minutes=10)
    )
    result = _evaluate(seen)  # no warehouse at all: the observation is the evidence
    assert result.status == status
    assert result.figures["hours_stale"] == age_hours  # aged to now, not to the observation time
    assert result.figures["latest_update"] == seen.latest_update.isoformat()
    assert "as the health freshness check saw it" in result.message


@pytest.mark.parametrize(
    "seen",
    [
        # another column than the SLA's: another truth, not this SLA's
        FreshnessObservation(NOW, "MAX(loaded_at)", NOW),
        # too old to stand for now
        FreshnessObservation(NOW, "MAX(ts)", NOW - OBSERVATION_MAX_AGE - timedelta(minutes=1)),
        # from the future (a clock apart): not trusted
        FreshnessObservation(NOW, "MAX(ts)", NOW + timedelta(minutes=5)),
    ],
)
def test_an_observation_that_is_not_the_same_measure_is_not_used(seen):
    result = _evaluate(seen)
    assert result.status == SlaStatus.ERROR and result.message == "no warehouse configured"


@pytest.fixture
def location(demo_manifest, tmp_path, monkeypatch):
    """The SLA and the health check on one table, lake.landing.clicks, whose data is fresh."""
    warehouse = tmp_path / "lake.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA landing")
        fresh = (datetime.now(UTC) - timedelta(minutes=30)).replace(tzinfo=None)
        con.execute("CREATE TABLE landing.clicks AS SELECT ?::TIMESTAMP AS ts", [fresh])
    url = f"duckdb://{warehouse}"
    health = tmp_path / "health-config.json"
    health.write_text(
        json.dumps(
            {
                "warehouse": url,
                "tables": [
                    {
                        "table_id": "lake.landing.clicks",
                        "critical": True,
                        "freshness": {"timestamp_column": "ts", "max_age_hours": 1},
                    }
                ],
            }
        )
    )
    sla = tmp_path / "sla-config.json"
    sla.write_text(
        json.dumps(
            {
                "warehouse": url,
                "slas": [{**SLA, "max_age_hours": 1}],
                "alerts": {"timeout_seconds": 2},
            }
        )
    )
    for key, value in {
        "ORCHESTRATION_UTILS_DBT_MANIFEST": str(demo_manifest),
        "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": "",
        "ORCHESTRATION_UTILS_SLA_CONFIG": str(sla),
        "ORCHESTRATION_UTILS_HEALTH_CONFIG": str(health),
        "ORCHESTRATION_UTILS_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
    }.items():
        monkeypatch.setenv(key, value)
    from orchestration_utils.definitions import defs

    return defs(), warehouse


def test_the_sla_check_in_the_ui_says_what_it_measures_and_follows_the_health_check(location):
    definitions, warehouse = location
    key = dg.AssetCheckKey(
        dg.AssetKey(["warehouse", "lake", "landing", "clicks"]), "sla_clicks_fresh"
    )
    spec = next(s for c in definitions.asset_checks for s in c.check_specs if s.key == key)
    assert "newest `ts` value" in spec.description
    assert "health `freshness` check" in spec.description
    assert "not the last materialization" in spec.description
    assert "critical: a violation pages" in spec.description
    with dg.instance_for_test() as instance:
        health = definitions.resolve_job_def("health_checks_critical_job")
        assert health.execute_in_process(instance=instance).success
        # The table goes stale after the health check looked: the SLA keeps the health check's
        # verdict (fresh) until that check looks again; it does not compute a second truth.
        with duckdb.connect(str(warehouse)) as con:
            con.execute("UPDATE landing.clicks SET ts = TIMESTAMP '2026-01-01 00:00:00'")
        assert (
            definitions.resolve_job_def("sla_checks_job")
            .execute_in_process(instance=instance)
            .success
        )
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        evaluation = latest.evaluation
    assert evaluation.passed, evaluation.description
    assert "as the health freshness check saw it" in evaluation.description
