"""A partitioned run leaves one row per check execution: the checks of a partitioned model share its
partitions, and a partitioned job does not carry the unpartitioned health and SLA checks. A dbt test
over two models in different layers runs with the model it checks, never Skipped for good."""

import dagster as dg

FCT_ORDERS = dg.AssetKey(["marts", "fct_orders"])
RELATIONSHIP = "relationships_fct_orders_customer_id__customer_id__ref_stg_customers_"


def _location(demo_manifest, monkeypatch):
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(demo_manifest))
    monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", "")
    from orchestration_utils.definitions import defs

    return defs()


def test_partitioned_jobs_carry_their_own_checks_partitioned_like_their_assets(
    demo_manifest, monkeypatch
):
    definitions = _location(demo_manifest, monkeypatch)
    graph = definitions.resolve_asset_graph()
    daily = graph.get(FCT_ORDERS).partitions_def
    assert daily is not None
    for name in ("unique_fct_orders_order_id", RELATIONSHIP):
        assert graph.get(dg.AssetCheckKey(FCT_ORDERS, name)).partitions_def == daily
    assert graph.get(dg.AssetCheckKey(FCT_ORDERS, "freshness")).partitions_def is None
    job = definitions.resolve_job_def("marts_layer_daily")
    checks = {
        k.name for k in job.asset_layer.asset_graph.asset_check_keys if k.asset_key == FCT_ORDERS
    }
    assert {"unique_fct_orders_order_id", RELATIONSHIP} <= checks
    assert not checks & {"freshness", "sla_orders_fresh"}  # their own jobs run them
    # an unpartitioned layer keeps every check on its assets
    marts = definitions.resolve_job_def("marts_layer").asset_layer.asset_graph.asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey(["marts", "dim_products"]), "schema_drift") in marts
