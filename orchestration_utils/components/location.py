"""The product's code location as a `dg` project: the components of `orchestration_utils/defs/`
(`dg check defs`, `dg dev`, `dg list defs`). `orchestration_utils.definitions` builds the same
assets, checks, jobs, schedules and sensors from the same functions, for installs without the
project's `pyproject.toml` (run pods, `workspace.yaml`)."""

from pathlib import Path

import dagster as dg

from orchestration_utils.dagster_defs.jobs import run_executor
from orchestration_utils.definitions import build_once
from orchestration_utils.settings import Settings

_DEFS_FOLDER = Path(__file__).resolve().parent.parent / "defs"


@dg.definitions
def defs() -> dg.Definitions:
    return build_once("components", _build, files=sorted(_DEFS_FOLDER.rglob("*.yaml")))


def _build(settings: Settings) -> dg.Definitions:
    return dg.Definitions.merge(
        run_executor(settings),
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
    )
