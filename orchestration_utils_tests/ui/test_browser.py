"""The Dagster UI as a user sees it after `make demo`: `dagster dev` on the demo, driven in Debian's
Chromium through Playwright. Screenshots land in the test's temp dir; with
ORCHESTRATION_UTILS_SCREENSHOTS=1 they also replace the README's (docs/screenshots/)."""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from orchestration_utils_tests.conftest import REPO
from orchestration_utils_tests.health.bigquery_servers import free_port

CHROMIUM = Path(
    "/usr/bin/chromium"
)  # Debian's package (`make chromium`); Playwright downloads nothing
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCATION = "orchestration_utils"  # workspace.yaml
SCREENSHOTS = REPO / "docs" / "screenshots"
TIMEOUT_MS = 120_000  # a busy 2-core machine renders the first asset graph slowly
RUN_TIMEOUT_S = 600
REASON = re.compile(
    r"\d+\.\dh (stale|old), "
)  # a freshness check's reason: "26.7h stale, over the 24h limit" (fct_orders, stale on purpose)


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"no Chromium at {CHROMIUM}: run `make chromium` (Debian's package)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def ui(demo, tmp_path_factory):
    """`dagster dev` (webserver and daemon) on a copy of the demo's home, so the runs this test launches
    stay out of the other demo tests: (base url, home)."""
    _require_chromium()
    tmp_path, env, result = demo
    assert result.returncode == 0, result.stderr[-3000:]
    home = tmp_path_factory.mktemp("ui") / "home"
    shutil.copytree(tmp_path / "home", home)
    port = free_port()
    env = {**env, "ORCHESTRATION_UTILS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home")}
    log = (home / "dagster-dev.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-w",
            str(REPO / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_location(base, server)
        yield base, home
    finally:
        os.killpg(
            server.pid, signal.SIGTERM
        )  # its own session: the webserver, daemon and code server
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def page(ui, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        # `expect` has its own 5 s default: under a loaded CI machine a check's history came later.
        from playwright.sync_api import expect

        expect.set_options(timeout=30_000)
        page = context.new_page()
        # A fresh profile gets Dagster's "Join the Dagster community" dialog over whatever page is open.
        page.add_locator_handler(
            page.get_by_text("Join the Dagster community"),
            lambda: page.get_by_role("button", name="Skip").click(),
        )
        try:
            yield page
        finally:
            context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    out = tmp_path_factory.mktemp("screenshots")
    yield out
    if os.environ.get("ORCHESTRATION_UTILS_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for png in out.glob("*.png"):
            shutil.copy(png, SCREENSHOTS / png.name)


def test_the_lineage_shows_the_layer_groups(ui, page, shots):
    from playwright.sync_api import expect

    base, _ = ui
    page.goto(f"{base}/asset-groups")
    for group in ("raw", "staging", "intermediate", "marts", "shop_marts"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    expect(page.get_by_text("fetching statuses", exact=False)).to_have_count(0)
    page.screenshot(path=shots / "lineage.png")


def test_fct_orders_shows_partitions_and_check_reasons(ui, page, shots):
    from playwright.sync_api import expect

    base, _ = ui
    page.goto(f"{base}/assets/marts/fct_orders?view=partitions")
    expect(
        page.get_by_text("1 Partition", exact=False)
        .or_(page.get_by_text("Materialized", exact=False))
        .first
    ).to_be_visible()
    expect(page.get_by_text("2026-", exact=False).first).to_be_visible()  # a daily partition key
    page.screenshot(path=shots / "fct_orders_partitions.png")

    page.goto(f"{base}/assets/marts/fct_orders?view=checks")
    for check in ("unique_fct_orders_order_id", "freshness", "sla_orders_fresh"):
        expect(page.get_by_text(check, exact=True).first).to_be_visible()

    # The health check's latest execution shows its reason ("26.7h stale, over the 24h limit").
    page.goto(f"{base}/assets/marts/fct_orders?view=checks&checkDetail=freshness")
    expect(page.get_by_text(REASON).first).to_be_visible()
    page.screenshot(path=shots / "fct_orders_check.png")


def test_the_check_history_shows_each_reason(ui, page, shots):
    from playwright.sync_api import expect

    base, _ = ui
    page.goto(f"{base}/assets/marts/fct_orders?view=checks&checkDetail=freshness")
    page.get_by_text("Execution history", exact=True).click()
    expect(page.get_by_text("Description", exact=True).first).to_be_visible()
    page.screenshot(path=shots / "fct_orders_check_history.png")
    expect(page.get_by_text(REASON).first).to_be_visible(timeout=10_000)


def test_the_automation_page_lists_schedules_and_sensors(ui, page, shots):
    from playwright.sync_api import expect

    base, _ = ui
    page.goto(f"{base}/automation")
    for name in (
        "daily_schedule",
        "health_checks_job_schedule",
        "sla_sensor",
        "run_failure_alert_sensor",
    ):
        expect(page.get_by_text(name, exact=True).first).to_be_visible()
    expect(
        page.get_by_text("Every 15 minutes", exact=False).first
    ).to_be_visible()  # the health schedule's cron
    _settle(page)
    page.screenshot(path=shots / "automation.png")


def test_the_demo_runs_are_listed_under_their_job(ui, page, shots):
    from playwright.sync_api import expect

    base, _ = ui
    page.goto(f"{base}/locations/{LOCATION}/jobs/marts_layer/runs")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    expect(page.get_by_text("No runs found")).to_have_count(0)
    page.screenshot(path=shots / "marts_layer_runs.png")

    page.goto(f"{base}/overview/activity/timeline")
    expect(page.get_by_text("marts_layer", exact=True).first).to_be_visible()
    _settle(page)
    page.screenshot(path=shots / "overview_timeline.png")


def test_a_generator_job_launched_from_the_launchpad_succeeds(ui, page, shots):
    from playwright.sync_api import expect

    base, _ = ui
    page.goto(f"{base}/locations/{LOCATION}/jobs/generate_airflow_dags_job/playground")
    launch = page.get_by_role("button", name="Launch Run")
    expect(launch).to_be_enabled()
    launch.click()
    clicked = time.monotonic()
    page.wait_for_url("**/runs/**")
    run_id = page.url.split("/runs/")[1].split("?")[0]
    status = _wait_for_run(base, run_id)
    seconds = time.monotonic() - clicked
    print(
        f"generate_airflow_dags_job from the launchpad: {status} in {seconds:.1f} s (run {run_id})"
    )
    assert status == "SUCCESS", f"run {run_id} ended {status}"
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    page.screenshot(path=shots / "launchpad_run.png")


def _settle(page) -> None:
    """Let the UI's status queries land before a screenshot (it keeps polling, so only briefly)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(
        PlaywrightTimeout
    ):  # a page that keeps polling is still worth its screenshot
        page.wait_for_load_state("networkidle", timeout=15_000)


def _graphql(base: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{base}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    return json.load(urllib.request.urlopen(request, timeout=30))["data"]


def _wait_for_location(base: str, server: subprocess.Popen) -> None:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename } } } } }"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert server.poll() is None, "dagster dev exited"
        try:
            entries = _graphql(base, query)["workspaceOrError"]["locationEntries"]
            loaded = entries and entries[0]["locationOrLoadError"]
            if loaded:
                assert loaded["__typename"] == "RepositoryLocation", loaded
                return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError("dagster dev did not serve the code location within 300 s")


def _wait_for_run(base: str, run_id: str) -> str:
    query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        status = _graphql(base, query, {"id": run_id})["runOrError"].get("status")
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            return status
        time.sleep(1)
    raise TimeoutError(f"run {run_id} did not finish within {RUN_TIMEOUT_S} s")
