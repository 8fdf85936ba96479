"""Each asset's description says which freshness verdicts it carries (last materialization versus
newest data) and which of them pages: a green asset with a failing `freshness` check is explained."""

from datetime import timedelta

import dagster as dg

from orchestration_utils.dagster_defs.freshness_notes import (
    FRESHNESS_NOTE_KEY,
    PAGES_KEY,
    freshness_lines,
)


def _check(name, note=None, pages=False):
    metadata = {
        **({FRESHNESS_NOTE_KEY: note} if note else {}),
        **({PAGES_KEY: True} if pages else {}),
    }
    return dg.AssetCheckSpec(name, asset="t", metadata=metadata)


def test_lines_tell_materialization_from_data_and_name_what_pages():
    policy = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=24))
    lines = freshness_lines(
        policy,
        [
            _check("not_null"),
            _check(
                "freshness", "health check, age of the newest `ts` (newest data), fails beyond 6 h"
            ),
            _check("sla_t_fresh", "SLA t_fresh, newest data at most 6 h old", pages=True),
        ],
    )
    text = "\n".join(lines)
    assert "age of the last materialization, fails beyond 24 h" in text
    assert "- `freshness`: health check, age of the newest `ts` (newest data)" in text
    assert "- Pages: `sla_t_fresh`" in text
    assert "not_null" not in text


def test_without_a_paging_check_the_description_says_nothing_pages():
    lines = freshness_lines(None, [_check("freshness", "health check, newest data")])
    assert lines[-1].startswith("- None of these pages anyone")
    assert not any("last materialization" in line for line in lines)  # no policy, no such line


def test_an_asset_without_freshness_checks_gets_no_note():
    assert freshness_lines(None, [_check("unique")]) == []


def test_the_demo_assets_say_which_freshness_verdict_pages(demo_manifest, monkeypatch):
    monkeypatch.setenv("ORCHESTRATION_UTILS_DBT_MANIFEST", str(demo_manifest))
    monkeypatch.setenv("ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", "")
    from orchestration_utils.definitions import defs

    graph = defs().resolve_asset_graph()
    orders = graph.get(dg.AssetKey(["marts", "fct_orders"])).description
    assert "age of the last materialization, fails beyond 24 h" in orders
    assert (
        "- `freshness`: health check, age of the newest `ordered_at` (newest data), fails beyond 24 h"
        in orders
    )
    assert "judged from the health `freshness` check" in orders  # the SLA builds on it
    assert "- Pages: `sla_orders_fresh`" in orders
    events = graph.get(dg.AssetKey(["marts", "fct_events"])).description
    assert "- None of these pages anyone" in events  # a health check only, not critical
    assert "Freshness verdicts" not in graph.get(dg.AssetKey(["marts", "dim_products"])).description
