"""Run start as the UI launches runs: a webserver on the demo (its managed gRPC code server stays
up), GraphQL `launchPipelineExecution`, the instance's run launcher starting a run worker.

    make demo && .venv/bin/python bench/run_start.py --runs 3 [--baseline REV] [--load-only]

Times each launch from the mutation to SUCCESS (polled every 0.25 s) for a generator job, the
critical health check job and one dbt model (`staging/stg_orders`), with the step's own time (the
work) beside it, and the load of the code location in a fresh process. Runs go to a temp
DAGSTER_HOME whose run coordinator launches immediately (no queue, no daemon ticking beside the
measurement); the warehouse is the demo's (`.orchestration_utils/`). `--baseline REV` measures the
fresh-process load of that revision's package too (extracted under bench/.work, first on PYTHONPATH);
both packages and the venv are byte-compiled first, as the image is (`UV_COMPILE_BYTECODE=1`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import REPO, VENV_BIN, timed
from health_monitor import baseline_source

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
    ap.add_argument("--baseline", help="a git revision whose code location load is measured too")
    ap.add_argument("--load-only", action="store_true", help="measure the load, launch nothing")
    args = ap.parse_args()
    if not (REPO / ".orchestration_utils" / "warehouse" / "shop.duckdb").exists():
        sys.exit("run `make demo` first: the runs read and write the demo's warehouse")
    sources = {"this tree": None}
    if args.baseline:
        sources[f"baseline {args.baseline}"] = baseline_source(args.baseline)
    compile_bytecode([REPO / "orchestration_utils", *(s for s in sources.values() if s)])
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| code | defs() after import, in process | process wall | process CPU | peak RSS |")
    print("|---|---|---|---|---|")
    for label, source in sources.items():
        load = load_times(args.runs, source)
        print(
            f"| {label} | {load['in_process']:.2f} s | {load['wall_s']:.2f} s "
            f"| {load['cpu_s']:.2f} s | {load['rss_mib']:.0f} MiB |",
            flush=True,
        )
    if args.load_only:
        return
    with tempfile.TemporaryDirectory() as home, webserver(Path(home)) as base:
        print("| launch | launch → SUCCESS | step(s) | overhead |")
        print("|---|---|---|---|")
        for name, (job, assets) in LAUNCHES.items():
            # No run config: on DuckDB every job runs its steps in the run worker (run_executor).
            samples = [launch(base, job, assets, {}) for _ in range(args.runs)]
            total = statistics.median(s[0] for s in samples)
            work = statistics.median(s[1] for s in samples)
            print(f"| {name} | {total:.1f} s | {work:.1f} s | {total - work:.1f} s |", flush=True)


def compile_bytecode(folders: list[Path]) -> None:
    """As the image does: the venv and the packages measured, so no process compiles sources
    (this machine sets PYTHONDONTWRITEBYTECODE, and a fresh venv holds no .pyc)."""
    python = str(VENV_BIN / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for folder in [Path(site), *folders]:
        subprocess.run([python, "-m", "compileall", "-q", str(folder)], check=False)


def load_times(runs: int, source: Path | None) -> dict:
    """Median over `runs` fresh processes: `defs()` with its imports as timed inside, the
    process's wall and CPU (user + system) time and peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(source)} if source else None
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        # -P: no working directory first on sys.path, so PYTHONPATH (the baseline) wins there.
        r = timed([str(VENV_BIN / "python"), "-P", "-c", LOAD], env=env, cwd=REPO)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        samples.append({**r, "in_process": float(r["stdout"]), "cpu_s": cpu})
    return {
        k: statistics.median(s[k] for s in samples)
        for k in ("in_process", "wall_s", "cpu_s", "rss_mib")
    }


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
