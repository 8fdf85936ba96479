"""The product's code location as a `dg` project: the components of `orchestration_utils/defs/`
(`dg check defs`, `dg dev`, `dg list defs`). `orchestration_utils.definitions` builds the same
assets, checks, jobs, schedules and sensors from the same functions, for installs without the
project's `pyproject.toml` (run pods, `workspace.yaml`)."""

from pathlib import Path

import dagster as dg

from orchestration_utils.dagster_defs.jobs import run_executor
from orchestration_utils.definitions import build_then_freeze
from orchestration_utils.settings import load_settings


# Built on every call (Dagster calls it twice per load): what the defs folder reads (its files,
# the files its components name) is open-ended, so no build is reused here.
@dg.definitions
def defs() -> dg.Definitions:
    with build_then_freeze():
        return dg.Definitions.merge(
            run_executor(load_settings()),
            dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        )
