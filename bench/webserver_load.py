"""Issue #17.3: time until `dagster-webserver` serves the code location, ours beside a plain
`@dbt_assets` definition of the same manifest.

    .venv/bin/python bench/webserver_load.py --models 100 1000 5000 10000 --runs 3

Per size and definition: a fresh `dagster-webserver -w workspace.yaml` (it starts the location's
gRPC code server, which loads the definitions and sends the UI's snapshot of them), polled every
0.1 s over GraphQL until `workspaceOrError` reports the location LOADED as a repository location
(a load error stops the bench). The seconds are from the webserver's spawn; the process group is
killed after each run. The definitions are `bench/code_location_load.py`'s (its plain file and the
same environment). Points: bench/results/webserver_load.json and .png.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from code_location_load import LOCATION, PLAIN, prepare
from common import REPO, VENV_BIN, bench_parser
from plot import Point, write_results

QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
TIMEOUT_S = 900
GRPC_LIMITS = {"DAGSTER_GRPC_MAX_RX_BYTES": "500000000", "DAGSTER_GRPC_MAX_SEND_BYTES": "500000000"}


def main() -> None:
    args = bench_parser().parse_args()
    points = []
    for models in args.models:
        for series, seconds in measure(models, args.runs).items():
            points.append(Point(series, models, {"served_s": seconds}))
            print(f"| {models} | {series} | {seconds:.2f} s |", flush=True)
    json_path, png = write_results(
        "webserver_load",
        "dbt models",
        points,
        {"served_s": "webserver spawn -> location LOADED (s)"},
        title="Time until dagster-webserver serves the code location",
    )
    print(f"\npoints: {json_path}; plot: {png}")


def measure(models: int, runs: int) -> dict[str, float]:
    _, _, root, env = prepare(models)
    # Dagster caps a gRPC message at 100 MB; the location's snapshot at 10,000 models is larger
    # (plain's about 75 MB), so both get the deployment setting the README gives for that size.
    env = {**env, **GRPC_LIMITS}
    workspaces = {
        PLAIN: f"load_from:\n  - python_file:\n      relative_path: {root / 'plain_defs.py'}\n"
        "      location_name: plain\n",
        LOCATION: "load_from:\n  - python_module:\n      module_name: orchestration_utils.definitions\n"
        f"      working_directory: {REPO}\n      location_name: orchestration_utils\n",
    }
    served = {}
    for series, workspace in workspaces.items():
        path = root / f"workspace_{series.split()[0]}.yaml"
        path.write_text(workspace)
        serve(path, env)  # unmeasured: compiles what the code server imports
        samples = sorted(serve(path, env) for _ in range(runs))
        served[series] = samples[len(samples) // 2]
    return served


def serve(workspace: Path, env: dict[str, str]) -> float:
    """Seconds from spawning the webserver to the location LOADED."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    proc = subprocess.Popen(
        [str(VENV_BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1"]
        + ["-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while time.monotonic() - start < TIMEOUT_S:
            entry = _location(port)
            if entry and entry["loadStatus"] == "LOADED":
                loaded = entry["locationOrLoadError"]
                if loaded["__typename"] != "RepositoryLocation":
                    raise RuntimeError(f"{workspace}: {loaded.get('message', loaded)}")
                return time.monotonic() - start
            time.sleep(0.1)
        raise RuntimeError(f"{workspace}: not loaded in {TIMEOUT_S} s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


def _location(port: int) -> dict | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            body = json.load(response)
    except OSError:
        return None  # not listening yet
    entries = (body.get("data") or {}).get("workspaceOrError", {}).get("locationEntries") or []
    return entries[0] if entries else None


if __name__ == "__main__":
    main()
