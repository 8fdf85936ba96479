"""The code location on the shipped deploy/dagster.yaml, end to end against a real PostgreSQL, laid
out as on Kubernetes: a code server (the image's command), runs launched against it the way the UI
launches them, queued and started by `dagster-daemon run`, a schedule tick and the `sla_sensor` tick
made by the daemon, all read back from PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._cli.job import (
    _create_run,  # the `dagster job launch` path (what the UI's launch does)
)
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    ScheduleInstigatorData,
)
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import ListRepositoriesResponse
from dagster._serdes import deserialize_value

from orchestration_utils.settings import DEMO_DBT_PROJECT, DEMO_HEALTH_CONFIG, DEMO_SLA_CONFIG
from orchestration_utils_tests.conftest import REPO
from orchestration_utils_tests.deploy.conftest import free_port

BIN = Path(sys.executable).parent
# A schedule that ships RUNNING; its state is backdated a day so the daemon's first iteration
# owes it exactly one tick (the cron is daily).
SCHEDULE = "sla_report_job_schedule"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
PROJECT_TAG = {"orchestration_utils/dbt_project": "shop"}
DEADLINE_SECONDS = 240


@pytest.fixture
def deployment(postgres_server, demo_manifest, tmp_path, monkeypatch):
    """A DAGSTER_HOME holding the shipped dagster.yaml, a new database, and the code location
    configured as the image configures it (a prebuilt manifest); SQLMesh is left out for time."""
    db_name = postgres_server.create_database(f"deploy_{tmp_path.name.lower()}")
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        **postgres_server.env(db_name),
        "DAGSTER_HOME": str(dagster_home),
        "ORCHESTRATION_UTILS_HOME": str(tmp_path / "home"),
        "ORCHESTRATION_UTILS_DBT_MANIFEST": str(demo_manifest),
        # Named, not defaulted: a prebuilt manifest may one day mean "not the demo".
        "ORCHESTRATION_UTILS_DBT_PROJECT_DIR": str(DEMO_DBT_PROJECT),
        "ORCHESTRATION_UTILS_HEALTH_CONFIG": str(DEMO_HEALTH_CONFIG),
        "ORCHESTRATION_UTILS_SLA_CONFIG": str(DEMO_SLA_CONFIG),
        "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR": "",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return tmp_path, db_name


def test_jobs_schedule_and_sla_sensor_run_on_postgres(deployment, postgres_server):
    tmp_path, db_name = deployment
    started = time.monotonic()
    port = free_port()
    workspace = tmp_path / "workspace.yaml"  # what the Helm chart writes for a user deployment
    workspace.write_text(
        f"load_from:\n  - grpc_server: {{host: 127.0.0.1, port: {port}, "
        "location_name: orchestration_utils}\n"
    )
    with _started(
        [
            str(BIN / "dagster"),
            "code-server",
            "start",
            "-m",
            "orchestration_utils.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        tmp_path / "code-server.log",
    ) as code_server:
        _wait_until_loaded(port, code_server, started)
        loaded = time.monotonic() - started
        launched = _launch_and_backdate(workspace)
        with _started(
            [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], tmp_path / "daemon.log"
        ) as daemon:
            state = _wait_for(postgres_server, db_name, launched, started, daemon)
    print(
        f"PostgreSQL deployment test: code location loaded in {loaded:.1f}s, all done in "
        f"{time.monotonic() - started:.1f}s"
    )

    runs = state["runs"]
    assert runs[launched["generate_airflow_dags_job"]] == ("generate_airflow_dags_job", "SUCCESS")
    assert runs[launched["raw_layer"]] == ("raw_layer", "SUCCESS")
    # The queue let the second run of the project go only once the first had ended.
    first, second = sorted(launched.values(), key=lambda run_id: state["dequeued"][run_id])
    assert state["dequeued"][second] >= state["ended"][first], "two runs of one project ran at once"
    assert sorted((tmp_path / "home" / "artifacts" / "airflow_dags" / "dbt").glob("*.py")), (
        "no DAG files written"
    )
    events = state["events"]
    run_success = (
        dg.DagsterEventType.RUN_SUCCESS.value
    )  # stored under its old name, PIPELINE_SUCCESS
    assert {run_success, "STEP_SUCCESS"} <= events[launched["generate_airflow_dags_job"]]
    assert (
        "ASSET_MATERIALIZATION" in events[launched["raw_layer"]]
    )  # the seeds, in PostgreSQL's event log

    schedule_ticks = state["ticks"][SCHEDULE]
    assert [status for status, _ in schedule_ticks] == ["SUCCESS"]
    (scheduled_run_id,) = schedule_ticks[0][1]
    assert runs[scheduled_run_id][0] == "sla_report_job"  # the tick's run, stored and launched
    sensor_ticks = state["ticks"]["sla_sensor"]
    assert sensor_ticks and all(status in {"SUCCESS", "SKIPPED"} for status, _ in sensor_ticks), (
        sensor_ticks
    )


def _launch_and_backdate(workspace: Path) -> dict[str, str]:
    """Submit two runs as the UI's launchpad does (with a tag, as a user adds one), and owe the
    schedule one tick."""
    with dg.DagsterInstance.get() as instance:
        with WorkspaceProcessContext(
            instance, WorkspaceFileTarget([str(workspace)])
        ) as workspace_context:
            request = workspace_context.create_request_context()
            location = request.get_code_location("orchestration_utils")
            repo = location.get_repository("__repository__")
            launched = {}
            # Both carry one project's tag, so the shipped limit (one per project) must serialize them.
            for job_name in ("generate_airflow_dags_job", "raw_layer"):
                run = _create_run(
                    instance=instance,
                    code_location=location,
                    remote_repo=repo,
                    remote_job=repo.get_full_job(job_name),
                    # On DuckDB every job's steps run in the run worker (jobs.py: run_executor).
                    run_config={},
                    tags=PROJECT_TAG,
                    op_selection=None,
                    run_id=None,
                )
                launched[job_name] = instance.submit_run(run.run_id, request).run_id
            schedule = repo.get_schedule(SCHEDULE)
            instance.add_instigator_state(
                InstigatorState(
                    schedule.get_remote_origin(),
                    InstigatorType.SCHEDULE,
                    InstigatorStatus.RUNNING,
                    ScheduleInstigatorData(
                        schedule.cron_schedule, start_timestamp=time.time() - 86_400 + 120
                    ),
                )
            )
        # Queued, not started: the coordinator is the shipped QueuedRunCoordinator.
        assert {instance.get_run_by_id(run_id).status for run_id in launched.values()} == {
            dg.DagsterRunStatus.QUEUED
        }
    return launched


@contextlib.contextmanager
def _started(command: list[str], log_path: Path):
    """A long-running Dagster process in its own session, so stopping it stops its children."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    process.log_path = log_path
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_loaded(port: int, code_server: subprocess.Popen, started: float) -> None:
    client = DagsterGrpcClient(host="127.0.0.1", port=port)
    while True:
        with contextlib.suppress(Exception):  # not listening yet, or still loading the definitions
            if isinstance(deserialize_value(client.list_repositories()), ListRepositoriesResponse):
                return
        _fail_if_stuck(code_server, started, "the code server never loaded")
        time.sleep(1)


def _fail_if_stuck(process: subprocess.Popen, started: float, what: str) -> None:
    if process.poll() is not None or time.monotonic() - started > DEADLINE_SECONDS:
        pytest.fail(
            f"{what} after {time.monotonic() - started:.0f}s; log:\n{process.log_path.read_text()[-4000:]}"
        )


def _read(server, db_name: str) -> dict:
    """What PostgreSQL holds: runs (status, end, when dequeued), event types per run, ticks per instigator."""
    with contextlib.closing(server.connect(db_name)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT run_id, pipeline_name, status, end_time FROM runs")
        rows = cursor.fetchall()
        runs = {run_id: (job, status) for run_id, job, status, _ in rows}
        ended = {run_id: end for run_id, _, _, end in rows}
        cursor.execute(
            "SELECT run_id, EXTRACT(EPOCH FROM timestamp) FROM event_logs WHERE dagster_event_type = %s",
            (dg.DagsterEventType.RUN_STARTING.value,),
        )  # what the queue writes on dequeue
        dequeued = {run_id: float(epoch) for run_id, epoch in cursor.fetchall()}
        cursor.execute(
            "SELECT DISTINCT run_id, dagster_event_type FROM event_logs WHERE dagster_event_type IS NOT NULL"
        )
        events: dict[str, set[str]] = {}
        for run_id, event_type in cursor.fetchall():
            events.setdefault(run_id, set()).add(event_type)
        cursor.execute("SELECT status, tick_body FROM job_ticks ORDER BY id")
        ticks: dict[str, list] = {}
        for status, body in cursor.fetchall():
            tick = json.loads(body)  # Dagster's serdes stores the instigator's name as `job_name`
            ticks.setdefault(tick["job_name"], []).append((status, tick.get("run_ids", [])))
    return {"runs": runs, "ended": ended, "dequeued": dequeued, "events": events, "ticks": ticks}


def _wait_for(server, db_name: str, launched: dict[str, str], started: float, daemon) -> dict:
    """Until every run (launched and scheduled) is over and both ticks are recorded."""
    while True:
        state = _read(server, db_name)
        scheduled = [
            run_id for _, run_ids in state["ticks"].get(SCHEDULE, []) for run_id in run_ids
        ]
        run_ids = [*launched.values(), *scheduled]
        sensor_done = any(status != "STARTED" for status, _ in state["ticks"].get("sla_sensor", []))
        if (
            scheduled
            and sensor_done
            and all(state["runs"].get(run_id, ("", ""))[1] in TERMINAL for run_id in run_ids)
        ):
            return state
        _fail_if_stuck(daemon, started, f"runs or ticks not done: {state}")
        time.sleep(2)
