"""What `dagster dev` shows on the demo, read from the webserver's GraphQL API (the UI renders it):
assets grouped by layer with partitions, freshness, checks, owners; schedules and sensors."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from orchestration_utils_tests.conftest import REPO
from orchestration_utils_tests.health.bigquery_servers import free_port

QUERY = """{ assetNodes { assetKey { path } groupName
  owners { ... on UserAssetOwner { email } ... on TeamAssetOwner { team } }
  partitionDefinition { description } internalFreshnessPolicy { __typename }
  automationCondition { label } assetChecksOrError { ... on AssetChecks { checks { name } } } }
  workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename
    ... on RepositoryLocation { repositories { schedules { name scheduleState { status } }
                                               sensors { name sensorState { status } } } } } } } } }"""


def test_the_ui_shows_the_demo(demo_manifest, demo_sqlmesh_project, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "ORCHESTRATION_UTILS_DBT_MANIFEST": str(demo_manifest),
        "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": str(demo_sqlmesh_project),
        "DAGSTER_HOME": str(tmp_path),
    }
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-w",
            str(REPO / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        data = _query(port)
    finally:
        server.terminate()
        server.wait(30)
    location = data["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    groups = {n["groupName"] for n in nodes.values()}
    assert {
        "raw",
        "staging",
        "intermediate",
        "marts",
        "snapshots",
        "shop_raw",
        "shop_staging",
        "shop_marts",
    } <= groups
    orders = nodes["marts/fct_orders"]
    assert orders["owners"] == [{"email": "orders-team@example.com"}]
    assert orders["partitionDefinition"]["description"].startswith("Daily")
    assert orders["internalFreshnessPolicy"]["__typename"] == "TimeWindowFreshnessPolicy"
    assert orders["automationCondition"]["label"] == "on_cron(0 0 * * *, UTC)"
    checks = {c["name"] for c in orders["assetChecksOrError"]["checks"]}
    assert {"unique_fct_orders_order_id", "freshness", "row_count", "sla_orders_fresh"} <= checks
    assert nodes["shop_marts/fct_orders_daily"]["partitionDefinition"]["description"].startswith(
        "Daily"
    )
    repo = location["repositories"][0]
    schedules = {s["name"]: s["scheduleState"]["status"] for s in repo["schedules"]}
    assert (
        schedules["daily_schedule"] == "STOPPED"
        and schedules["health_checks_job_schedule"] == "RUNNING"
    )
    sensors = {s["name"]: s["sensorState"]["status"] for s in repo["sensors"]}
    assert sensors == {
        "project_automation_sensor": "STOPPED",
        "sla_sensor": "RUNNING",
        "run_failure_alert_sensor": "RUNNING",
    }


def _query(port: int, query: str = QUERY) -> dict:
    deadline = time.monotonic() + 180
    body = json.dumps({"query": query}).encode()
    while True:
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/graphql",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            data = json.load(urllib.request.urlopen(request, timeout=30))["data"]
            entry = data["workspaceOrError"]["locationEntries"][0]["locationOrLoadError"]
            if entry is not None:
                return data
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the webserver did not serve the code location within 180 s")
        time.sleep(1)
