"""dbt 1.10+ model freshness (`config.freshness.build_after`) as a model's freshness where
`meta.freshness_hours` is absent: from a manifest real dbt writes, and from hand-made ones."""

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration_utils.dagster_assets.dbt import build_dbt_assets
from orchestration_utils.errors import ProjectError
from orchestration_utils.project.dbt_manifest import load_dbt_manifest
from orchestration_utils_tests.conftest import dbt_parse

_SCHEMA = """
models:
  - name: every_four_hours
    config:
      freshness:
        build_after: {count: 4, period: hour, updates_on: all}
  - name: meta_wins
    config:
      meta: {freshness_hours: 2}
      freshness:
        build_after: {count: 1, period: day}
  - name: on_every_update
    config:
      freshness:
        build_after: {count: 0, period: hour}
  - name: no_freshness
"""


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    project = tmp_path_factory.mktemp("fresh")
    (project / "models").mkdir()
    (project / "dbt_project.yml").write_text("name: fresh\nprofile: fresh\n")
    (project / "profiles.yml").write_text(
        "fresh:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: ':memory:'}\n"
    )
    for name in ("every_four_hours", "meta_wins", "on_every_update", "no_freshness"):
        (project / "models" / f"{name}.sql").write_text("select 1 as id")
    (project / "models" / "schema.yml").write_text(_SCHEMA)
    return dbt_parse(project, project / "target")


def test_build_after_from_a_manifest_dbt_wrote(parsed):
    # What dbt put there: the form the reader must follow.
    raw = json.loads(parsed.read_text())["nodes"]["model.fresh.every_four_hours"]
    assert raw["config"]["freshness"]["build_after"]["count"] == 4
    hours = {n.name: n.freshness_hours for n in load_dbt_manifest(parsed).models()}
    assert hours == {
        "every_four_hours": 4,
        "meta_wins": 2,  # meta.freshness_hours wins over dbt's own config
        "on_every_update": None,  # count 0: build on every upstream update, no maximum age
        "no_freshness": None,
    }


def test_build_after_becomes_the_assets_freshness_policy(parsed):
    specs = {s.key.path[-1]: s for a in build_dbt_assets(parsed, "@daily") for s in a.specs}
    assert specs["every_four_hours"].freshness_policy.fail_window.to_timedelta() == timedelta(
        hours=4
    )
    assert specs["meta_wins"].freshness_policy.fail_window.to_timedelta() == timedelta(hours=2)
    assert specs["no_freshness"].freshness_policy is None


def _manifest(tmp_path, freshness) -> "object":
    path = tmp_path / "manifest.json"
    node = {
        "unique_id": "model.p.m",
        "name": "m",
        "resource_type": "model",
        "package_name": "p",
        "original_file_path": "models/m.sql",
        "depends_on": {"nodes": []},
        "config": {"materialized": "table", "meta": {}, "freshness": freshness},
        "schema": "s",
        "database": "d",
    }
    path.write_text(
        json.dumps(
            {
                "metadata": {
                    "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"
                },
                "nodes": {"model.p.m": node},
                "sources": {},
            }
        )
    )
    return path


_PERIOD_HOURS = {"minute": 1 / 60, "hour": 1, "day": 24}


@given(count=st.integers(1, 3650), period=st.sampled_from(sorted(_PERIOD_HOURS)))
def test_any_valid_build_after_is_count_periods(tmp_path_factory, count, period):
    path = _manifest(
        tmp_path_factory.mktemp("m"), {"build_after": {"count": count, "period": period}}
    )
    (node,) = load_dbt_manifest(path).models()
    assert node.freshness_hours == pytest.approx(count * _PERIOD_HOURS[period])


@pytest.mark.parametrize(
    "freshness",
    [None, {}, {"build_after": None}, {"build_after": {"count": None, "period": None}}],
)
def test_unset_build_after_sets_nothing(tmp_path, freshness):
    (node,) = load_dbt_manifest(_manifest(tmp_path, freshness)).models()
    assert node.freshness_hours is None


@pytest.mark.parametrize(
    ("build_after", "says"),
    [
        ({"count": -1, "period": "hour"}, "freshness.build_after must be a positive integer"),
        ({"count": 2, "period": "week"}, "freshness.build_after must be a positive integer"),
        ({"count": "4", "period": "hour"}, "freshness.build_after must be a positive integer"),
        ({"count": 10**6, "period": "day"}, "config.freshness.build_after: expected at most"),
        ("4 hours", "config.freshness.build_after: expected an object {count, period}"),
        ({"count": 0, "period": "fortnight"}, "freshness.build_after must be a positive integer"),
    ],
)
def test_bad_build_after_is_one_line_naming_the_model(tmp_path, build_after, says):
    path = _manifest(tmp_path, {"build_after": build_after})
    with pytest.raises(ProjectError) as err:
        load_dbt_manifest(path)
    message = str(err.value)
    assert "\n" not in message and "model.p.m" in message and says in message


def test_a_bad_build_after_is_refused_even_when_meta_freshness_hours_wins(tmp_path):
    path = _manifest(tmp_path, {"build_after": "daily"})
    raw = json.loads(path.read_text())
    raw["nodes"]["model.p.m"]["config"]["meta"] = {"freshness_hours": 6}
    path.write_text(json.dumps(raw))
    with pytest.raises(ProjectError, match=r"model\.p\.m: config\.freshness\.build_after: "):
        load_dbt_manifest(path)
