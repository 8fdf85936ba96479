"""Shared bench helpers: the synthetic manifests and timed fresh processes."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
GENERATOR = (
    Path(os.environ.get("ORCHESTRATION_UTILS_SHARED", REPO.parent / "shared"))
    / "tools"
    / "gen_dbt_project.py"
)
VENV_BIN = REPO / ".venv" / "bin"
AIRFLOW_PY = REPO / ".venv-airflow" / "bin" / "python"

# Processes started from here keep compiled bytecode (under bench/.work, not in the venvs), as an
# installed package does: with PYTHONDONTWRITEBYTECODE=1, which this machine's environment sets,
# every process compiled every module it imported (12 s of a 25 s code location load under load).
# A caller that sets the variable in its own env (the DAG folder parse) keeps it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ["PYTHONPYCACHEPREFIX"] = str(WORK / "pycache")


def synthetic_project(models: int) -> Path:
    """gen_dbt_project.py --seed 42, parsed once by dbt (about a minute at 5,000 models)."""
    project = WORK / f"p{models}"
    if not (project / "target" / "manifest.json").exists():
        subprocess.run(
            [
                sys.executable,
                str(GENERATOR),
                "--models",
                str(models),
                "--seed",
                "42",
                "--out",
                str(project),
                "--force",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                str(VENV_BIN / "dbt"),
                "parse",
                "--quiet",
                "--no-partial-parse",
                "--profiles-dir",
                ".",
                "--target-path",
                "target",
            ],
            cwd=project,
            check=True,
        )
    return project


def baseline_source(revision: str) -> Path:
    """The package as it was at `revision`, extracted (not checked out) under bench/.work."""
    folder = WORK / f"baseline-{revision}"
    if not (folder / "orchestration_utils").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", revision, "orchestration_utils"],
            cwd=REPO,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def bench_args() -> argparse.Namespace:
    return bench_parser().parse_args()


def bench_parser() -> argparse.ArgumentParser:
    """`--models` and `--runs`, for a benchmark to add its own options to."""
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--models",
        type=int,
        nargs="+",
        default=[5000],
        help="sizes of the synthetic dbt project (100 1000 5000 10000 draws the curve)",
    )
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per measurement (median)")
    return ap


def timed(
    cmd: list[str], env: dict | None = None, cwd: Path | None = None, ok: tuple[int, ...] = (0,)
) -> dict:
    """Wall seconds and peak RSS (MiB) of one fresh process, via /usr/bin/time -v."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        result = subprocess.run(
            ["/usr/bin/time", "-v", "-o", tf.name, *cmd],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        report = tf.read()
    if result.returncode not in ok:
        raise RuntimeError(f"{cmd[:3]} failed: {result.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):([\d.]+)", report)
    h, m, s = (float(x or 0) for x in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", report).group(1)) / 1024
    # User + system seconds: steadier than wall time on a machine others are loading.
    cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", report))
    return {"wall_s": h * 3600 + m * 60 + s, "cpu_s": cpu, "rss_mib": rss, "stdout": result.stdout}


def median_runs(runs: int, fn) -> dict:
    samples = [fn() for _ in range(runs)]
    keys = [k for k, v in samples[0].items() if isinstance(v, (int, float))]
    return {k: statistics.median(s[k] for s in samples) for k in keys}


def timed_json(cmd: list[str], env: dict | None = None) -> dict:
    """`timed`, merged with the JSON object the process printed last."""
    r = timed(cmd, env=env)
    return {
        **json.loads(r["stdout"].strip().splitlines()[-1]),
        "wall_s": r["wall_s"],
        "cpu_s": r["cpu_s"],
        "rss_mib": r["rss_mib"],
    }
