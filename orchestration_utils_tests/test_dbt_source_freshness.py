"""dbt's own source freshness (`freshness` + `loaded_at_field`) becomes health freshness checks
on the source assets of the code location, judged on the warehouse, with no health config."""

from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration_utils.errors import ProjectError
from orchestration_utils.project.dbt_manifest import source_freshness
from orchestration_utils_tests.conftest import dbt_parse

SOURCES = """
version: 2
sources:
  - name: landing
    schema: landing
    loaded_at_field: loaded_at
    freshness:
      warn_after: {count: 2, period: hour}
      error_after: {count: 1, period: day}
    tables:
      - name: visits
      - name: payments
        freshness:
          error_after: {count: 30, period: minute}
      - name: refunds
        freshness:
          warn_after: {count: 3, period: hour}
          error_after: null
      - name: devices
        loaded_at_field: "cast(seen as timestamp)"
      - name: countries
        freshness: null
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """A dbt project reading five sources, and its DuckDB warehouse (catalog `lake`)."""
    root = tmp_path_factory.mktemp("lake")
    (root / "models").mkdir()
    (root / "dbt_project.yml").write_text("name: lake\nversion: '1.0'\nprofile: lake\n")
    (root / "profiles.yml").write_text(
        "lake:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'lake.duckdb'}\n"
    )
    (root / "models" / "sources.yml").write_text(SOURCES)
    for table in ("visits", "payments", "refunds", "devices", "countries"):
        (root / "models" / f"stg_{table}.sql").write_text(
            f"select * from {{{{ source('landing', '{table}') }}}}\n"
        )
    dbt_parse(root, root / "target")
    con = duckdb.connect(str(root / "lake.duckdb"))
    con.execute("CREATE SCHEMA landing")
    for table, age in (
        ("visits", "30 minutes"),
        ("payments", "2 hours"),
        ("refunds", "5 hours"),
        ("devices", "1 minute"),
        ("countries", "900 days"),
    ):
        con.execute(
            f"CREATE TABLE landing.{table} AS SELECT now()::TIMESTAMP - INTERVAL '{age}' AS loaded_at, "
            "now()::TIMESTAMP AS seen, 1 AS id"
        )
    con.close()
    return root


@pytest.fixture
def location(lake, tmp_path, monkeypatch):
    for key, value in {
        "ORCHESTRATION_UTILS_DBT_MANIFEST": lake / "target" / "manifest.json",
        "ORCHESTRATION_UTILS_DBT_PROJECT_DIR": lake,
        "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": "",
        "ORCHESTRATION_UTILS_DBT_DUCKDB": lake / "lake.duckdb",
        "ORCHESTRATION_UTILS_HOME": tmp_path,
        "DBT_TARGET_PATH": tmp_path / "target",
    }.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.delenv("ORCHESTRATION_UTILS_HEALTH_CONFIG", raising=False)
    from orchestration_utils.definitions import defs

    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    return definitions


def test_source_freshness_config_becomes_checks_judged_on_the_warehouse(location):
    checks = {
        k.asset_key.to_user_string(): k.name
        for k in location.resolve_asset_graph().asset_check_keys
        if k.name == "freshness"
    }
    # Every source with a freshness config, none for `freshness: null`.
    assert checks == {
        f"landing/{t}": "freshness" for t in ("visits", "payments", "refunds", "devices")
    }
    with dg.instance_for_test() as instance:
        run = location.resolve_job_def("health_checks_job").execute_in_process(instance=instance)
        verdicts = {e.asset_key.path[-1]: e for e in run.get_asset_check_evaluations()}
    assert verdicts["visits"].passed  # 30 min old: under warn_after (2 h)
    payments = verdicts["payments"]  # 2 h old, error_after 30 minutes
    assert not payments.passed and payments.severity == dg.AssetCheckSeverity.ERROR
    assert payments.description.startswith("FAIL") and "max_age_hours 0.5" in payments.description
    refunds = verdicts["refunds"]  # warn_after alone: dbt warns, never errors
    assert not refunds.passed and refunds.severity == dg.AssetCheckSeverity.WARN
    devices = verdicts["devices"]  # an expression is never sent to the warehouse
    assert (
        not devices.passed
        and devices.description.startswith("ERROR")
        and "not a column name" in devices.description
    )


def test_a_source_freshness_config_dbt_would_refuse_is_one_line(tmp_path):
    manifest = {
        "sources": {
            "source.p.s.t": {"freshness": {"error_after": {"count": 2, "period": "fortnight"}}}
        }
    }
    with pytest.raises(ProjectError, match=r"source\.p\.s\.t: freshness\.error_after .*period"):
        source_freshness(manifest, tmp_path / "manifest.json")


@given(
    count=st.integers(1, 10_000),
    period=st.sampled_from(["minute", "hour", "day"]),
    in_config=st.booleans(),
    field=st.sampled_from([None, "loaded_at"]),
)
def test_every_period_and_count_reads_as_dbt_means_it(count, period, in_config, field):
    freshness = {
        "warn_after": {"count": None, "period": None},
        "error_after": {"count": count, "period": period},
    }
    props = (
        {"config": {"freshness": freshness, "loaded_at_field": field}}
        if in_config
        else {"config": {}, "freshness": freshness, "loaded_at_field": field}
    )
    found = source_freshness({"sources": {"source.p.s.t": props}}, Path("manifest.json"))[
        "source.p.s.t"
    ]
    assert (
        found.error_after
        == count
        * {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}[
            period
        ]
    )
    assert found.warn_after is None and found.loaded_at_field == field


def test_production_never_parses_at_import_and_dagster_dev_prepares(lake, tmp_path, monkeypatch):
    """Another project than the demo without a manifest: one line saying what to set, and no
    manifest written; under `dagster dev` (DbtProject.prepare_if_dev) one is prepared and loads."""
    from orchestration_utils.dagster_defs.dbt_project import ensure_manifest
    from orchestration_utils.settings import load_settings

    monkeypatch.delenv("ORCHESTRATION_UTILS_DBT_MANIFEST", raising=False)
    monkeypatch.delenv("DAGSTER_IS_DEV_CLI", raising=False)
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", str(lake))
    monkeypatch.setenv("ORCHESTRATION_UTILS_HOME", str(tmp_path))
    settings = load_settings()
    with pytest.raises(
        ProjectError,
        match=r"ORCHESTRATION_UTILS_DBT_MANIFEST: not set, and no manifest at .*dbt_target",
    ):
        ensure_manifest(settings)
    assert not (tmp_path / "dbt_target").exists()
    monkeypatch.setenv("DAGSTER_IS_DEV_CLI", "1")
    manifest = ensure_manifest(settings)
    assert (
        manifest == tmp_path / "dbt_target" / "manifest.json"
        and "source.lake.landing.visits" in manifest.read_text()
    )
