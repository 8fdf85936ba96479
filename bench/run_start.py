"""Run start as the UI launches runs: a webserver on the demo (its managed gRPC code server stays
up), GraphQL `launchPipelineExecution`, the instance's run launcher starting a run worker.

    make demo && .venv/bin/python bench/run_start.py --runs 3 [--in-process]

Times each launch from the mutation to SUCCESS (polled every 0.25 s) for a generator job, the
critical health check job and one dbt model (`staging/stg_orders`), with the step's own time (the
work) beside it, and the load of the code location in a fresh process. Runs go to a temp
DAGSTER_HOME whose run coordinator launches immediately (no queue, no daemon ticking beside the
measurement); the warehouse is the demo's (`.orchestration_utils/`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import REPO, VENV_BIN, timed

LAUNCHES = {  # name: (job, asset selection)
    "generate_airflow_dags_job": ("generate_airflow_dags_job", None),
    "health_checks_critical_job": ("health_checks_critical_job", None),
    "dbt model staging/stg_orders": ("__ASSET_JOB", [["staging", "stg_orders"]]),
}
LAUNCH = """mutation($p: ExecutionParams!) { launchPipelineExecution(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on InvalidSubsetError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }"""
STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status
  stepStats { stepKey startTime endTime } } } }"""
LOAD = "import time; t = time.monotonic(); from orchestration_utils.definitions import defs; defs(); print(time.monotonic() - t)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3, help="launches per job (median)")
    ap.add_argument(
        "--in-process",
        action="store_true",
        help="launch with the in-process executor (run config), as single-op jobs should run",
    )
    args = ap.parse_args()
    run_config = {"execution": {"config": {"in_process": {}}}} if args.in_process else {}
    if not (REPO / ".orchestration_utils" / "warehouse" / "shop.duckdb").exists():
        sys.exit("run `make demo` first: the runs read and write the demo's warehouse")
    load = [timed([str(VENV_BIN / "python"), "-c", LOAD], cwd=REPO) for _ in range(args.runs)]
    print(
        f"code location load, fresh process: {statistics.median(float(r['stdout']) for r in load):.2f} s "
        f"in process, {statistics.median(r['wall_s'] for r in load):.2f} s wall (median of {args.runs})"
    )
    with tempfile.TemporaryDirectory() as home, webserver(Path(home)) as base:
        print("| launch | launch → SUCCESS | step(s) | overhead |")
        print("|---|---|---|---|")
        for name, (job, assets) in LAUNCHES.items():
            # The generator and health jobs run in process by definition: no executor to choose.
            config = run_config if job == "__ASSET_JOB" else {}
            samples = [launch(base, job, assets, config) for _ in range(args.runs)]
            total = statistics.median(s[0] for s in samples)
            work = statistics.median(s[1] for s in samples)
            print(f"| {name} | {total:.1f} s | {work:.1f} s | {total - work:.1f} s |", flush=True)


class webserver:
    """`dagster-webserver` on workspace.yaml with a temp DAGSTER_HOME, up until the location is loaded."""

    def __init__(self, home: Path):
        self.home = home

    def __enter__(self) -> str:
        from orchestration_utils_tests.health.bigquery_servers import free_port

        (self.home / "dagster.yaml").write_text(
            "telemetry:\n  enabled: false\n"
            "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
        )
        port = free_port()
        env = {**os.environ, "DAGSTER_HOME": str(self.home)}
        self.log = (self.home / "webserver.log").open("w")
        self.server = subprocess.Popen(
            [
                str(VENV_BIN / "dagster-webserver"),
                "-w",
                str(REPO / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        query = "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename } } } } }"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                entries = graphql(base, query)["workspaceOrError"]["locationEntries"]
                if entries and entries[0]["locationOrLoadError"]:
                    return base
            except OSError:
                time.sleep(0.5)
        raise TimeoutError("the webserver did not load the code location in 300 s")

    def __exit__(self, *exc) -> None:
        os.killpg(self.server.pid, signal.SIGTERM)
        self.server.wait(60)
        self.log.close()


def launch(
    base: str, job: str, assets: list[list[str]] | None, run_config: dict
) -> tuple[float, float]:
    """Seconds from the launch mutation to SUCCESS, and the seconds its steps ran."""
    selector = {
        "repositoryLocationName": "orchestration_utils",
        "repositoryName": "__repository__",
        "pipelineName": job,
    }
    if assets:
        selector["assetSelection"] = [{"path": path} for path in assets]
    started = time.monotonic()
    result = graphql(
        base, LAUNCH, {"p": {"selector": selector, "runConfigData": run_config, "mode": "default"}}
    )
    launched = result["launchPipelineExecution"]
    if launched["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"{job}: {launched}")
    run_id = launched["run"]["runId"]
    while True:
        run = graphql(base, STATUS, {"id": run_id})["runOrError"]
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(0.25)
    total = time.monotonic() - started
    if run["status"] != "SUCCESS":
        raise RuntimeError(f"{job}: run {run_id} ended {run['status']}")
    steps = [s for s in run["stepStats"] if s["startTime"] and s["endTime"]]
    work = max(s["endTime"] for s in steps) - min(s["startTime"] for s in steps)
    return total, work


def graphql(base: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{base}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    data = json.load(urllib.request.urlopen(request, timeout=60))
    if "errors" in data:
        raise RuntimeError(data["errors"])
    return data["data"]


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))  # the tests' free_port helper
    main()
