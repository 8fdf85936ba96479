"""The deployment files, checked without Docker or a cluster: they parse, they name files and
modules that exist, and the places that repeat a setting agree with each other."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shlex

import yaml

from orchestration_utils_tests.conftest import REPO

DEPLOY = REPO / "deploy"


def _yaml(path):
    return yaml.safe_load(path.read_text())


def _instructions(dockerfile) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: variables.get(m.group(1), m.group(0)), value)


def _dockerfile():
    """The Dockerfile's COPY sources from the build context (ARG defaults applied), its RUN lines and CMD."""
    variables, sources, runs, cmd = {}, [], [], None
    for instruction, args in _instructions(DEPLOY / "Dockerfile"):
        if instruction == "ARG" and "=" in args:
            name, default = args.split("=", 1)
            variables[name] = default
        elif instruction == "COPY" and not args.startswith("--from"):
            sources += [_expand(source, variables) for source in shlex.split(args)[:-1]]
        elif instruction == "RUN":
            runs.append(args)
        elif instruction == "CMD":
            cmd = json.loads(args)
    return sources, runs, cmd


def test_every_deployment_file_parses():
    for path in (DEPLOY / "dagster.yaml", DEPLOY / "helm-values.yaml", REPO / "dagster_cloud.yaml"):
        assert isinstance(_yaml(path), dict), path


def test_the_dockerfile_copies_files_that_exist_and_the_dockerignore_keeps():
    sources, _, _ = _dockerfile()
    assert "uv.lock" in sources and "deploy/dagster.yaml" in sources
    ignored = [
        line
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    for source in sources:
        assert (REPO / source).exists(), (
            f"deploy/Dockerfile copies {source}, which is not in the repository"
        )
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), (
            f"{source} is dockerignored"
        )


def test_the_image_installs_from_the_lock_and_prepares_the_manifest():
    _, runs, cmd = _dockerfile()
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs and all("--frozen" in run and "--no-dev" in run for run in syncs)
    # Run pods load the instance's K8sRunLauncher: dagster-k8s comes from the lock's deploy extra.
    assert all("--extra deploy" in run for run in syncs)
    assert any(
        "dbt parse" in run and "--target-path /opt/dagster/dbt_target" in run for run in runs
    )
    env = (DEPLOY / "Dockerfile").read_text()
    assert "ORCHESTRATION_UTILS_DBT_MANIFEST=/opt/dagster/dbt_target/manifest.json" in env
    # The uv the Makefile pins.
    make_uv = re.search(r"UV_VERSION := (\S+)", (REPO / "Makefile").read_text()).group(1)
    assert f"ghcr.io/astral-sh/uv:{make_uv} " in env
    assert cmd[:4] == ["dagster", "code-server", "start", "-m"]
    assert importlib.util.find_spec(cmd[4]) is not None, cmd


def test_helm_values_run_the_same_module_and_queue_as_the_instance_file():
    values = _yaml(DEPLOY / "helm-values.yaml")
    instance = _yaml(DEPLOY / "dagster.yaml")
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    _, _, cmd = _dockerfile()
    assert deployment["dagsterApiGrpcArgs"] == ["-m", cmd[4]]
    assert deployment["port"] == int(cmd[cmd.index("-p") + 1])
    assert [secret["name"] for secret in deployment["envSecrets"]]
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert (
        queue["tagConcurrencyLimits"] == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    )
    assert queue["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    retries = values["dagsterDaemon"]["runRetries"]
    assert (retries["enabled"], retries["maxRetries"]) == (
        True,
        instance["run_retries"]["max_retries"],
    )
    assert (
        values["postgresql"]["postgresqlScheme"]
        == instance["storage"]["postgres"]["postgres_db"]["scheme"]
    )


def test_dagster_cloud_yaml_names_the_location_the_workspace_loads():
    (location,) = _yaml(REPO / "dagster_cloud.yaml")["locations"]
    (workspace_entry,) = _yaml(REPO / "workspace.yaml")["load_from"]
    module = workspace_entry["python_module"]
    assert location["location_name"] == module["location_name"]
    assert location["code_source"]["module_name"] == module["module_name"]
    assert (REPO / location["build"]["directory"] / "deploy" / "Dockerfile").exists()
    assert location["container_context"]["k8s"]["env_secrets"]


def test_the_code_server_webserver_and_daemon_share_a_grpc_limit_above_dagsters():
    """The location's snapshot passes Dagster's 100 MB message limit at about 10,000 dbt models
    (bench/README.md); a limit raised on one side only still fails the load."""
    from dagster._grpc.utils import max_rx_bytes

    image = dict(
        pair.split("=", 1)
        for instruction, args in _instructions(DEPLOY / "Dockerfile")
        if instruction == "ENV"
        for pair in shlex.split(args)
    )
    values = _yaml(DEPLOY / "helm-values.yaml")
    limits = {
        "image": {
            k: image.get(k) for k in ("DAGSTER_GRPC_MAX_SEND_BYTES", "DAGSTER_GRPC_MAX_RX_BYTES")
        },
        **{
            part: {e["name"]: e["value"] for e in values[part]["env"] if "GRPC" in e["name"]}
            for part in ("dagsterWebserver", "dagsterDaemon")
        },
    }
    sizes = {int(v) for limit in limits.values() for v in limit.values() if v is not None}
    assert all(len(limit) == 2 and None not in limit.values() for limit in limits.values()), limits
    assert len(sizes) == 1 and sizes.pop() > 4 * max_rx_bytes(), limits
