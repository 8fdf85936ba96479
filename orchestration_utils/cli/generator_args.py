"""What both generator CLIs share: the project arguments, and reporting a write or a `--check`."""

from __future__ import annotations

import argparse
import gc
import json
import os
from collections.abc import Callable
from pathlib import Path

from orchestration_utils.cli.shell import EXIT_FAILED, EXIT_OK, say
from orchestration_utils.codegen.writer import WriteResult
from orchestration_utils.errors import OutputDirError, UsageError
from orchestration_utils.files import write_stdout
from orchestration_utils.project.model import ProjectKind
from orchestration_utils.project.schedule import normalize_schedule


def add_project_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project-type", choices=[k.value for k in ProjectKind], required=True)
    p.add_argument("--manifest-path", type=Path, help="dbt manifest.json (--project-type dbt)")
    p.add_argument(
        "--project-path", type=Path, help="SQLMesh project directory (--project-type sqlmesh)"
    )
    p.add_argument(
        "--gateway", help="SQLMesh gateway to load the project with (default: the project's)"
    )
    p.add_argument("--output-dir", required=True)  # a Path once `generating` refuses ''

    p.add_argument(
        "--schedule",
        default="daily",
        help="default for models whose metadata names none: hourly, daily, weekly, monthly, "
        "an @preset or a cron (default: daily)",
    )
    p.add_argument(
        "--project-dir",
        help="the project's path where the generated code runs (default: the "
        "SQLMesh project path, or the dbt project holding the manifest's target/, "
        "relative to the working directory; else '.')",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 naming the files that would change",
    )


def generating(generate: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a generation; an output directory that cannot be written is bad usage (exit 2)."""
    if not args.output_dir:  # Path("") is ".": the working directory, never meant
        raise UsageError("--output-dir '': give a directory (. for the working directory)")
    args.output_dir = Path(args.output_dir)
    # A 5,000-model manifest parses into millions of objects that live until the end: each full
    # collection walks them all and frees nothing (a third of the CPU of a run). A run makes few
    # reference cycles and is short, so it runs without the cyclic collector.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return generate(args)
    except OutputDirError as exc:
        raise UsageError(str(exc)) from None
    finally:
        if collecting:
            gc.enable()


def project_source(args: argparse.Namespace) -> Path:
    source = args.manifest_path if args.project_type == ProjectKind.DBT else args.project_path
    if source is None:
        flag = "--manifest-path" if args.project_type == ProjectKind.DBT else "--project-path"
        raise UsageError(f"{flag} is required with --project-type {args.project_type}")
    return source


def default_schedule(args: argparse.Namespace) -> str:
    try:
        return normalize_schedule(args.schedule)
    except ValueError as exc:
        raise UsageError(f"--schedule: {exc}") from None


def project_dir(args: argparse.Namespace, source: Path) -> str:
    """`--project-dir`, else the project's directory relative to the working directory: run from a
    checkout's root, the generated files are the same in every checkout (no absolute path in them)."""
    if args.project_dir:
        return args.project_dir
    if args.project_type == ProjectKind.SQLMESH:
        return _relative(source)
    candidate = source.resolve().parent.parent
    if source.resolve().parent.name == "target" and (candidate / "dbt_project.yml").exists():
        return _relative(candidate)
    return "."


def _relative(path: Path) -> str:
    return Path(os.path.relpath(path.resolve(), Path.cwd().resolve())).as_posix()


def report(
    prog: str, args: argparse.Namespace, result: WriteResult, details: dict, done: str
) -> int:
    """JSON summary on stdout; with --check, exit 1 naming the stale files."""
    summary = {
        "output_dir": str(args.output_dir),
        "check": args.check,
        "written": [] if args.check else result.written,
        "removed": [] if args.check else result.removed,
        "unchanged": result.unchanged,
        "stale": result.stale if args.check else [],
        **details,
    }
    write_stdout(json.dumps(summary, indent=2).encode() + b"\n")
    if args.check:
        if result.stale:
            say(prog, f"stale: {', '.join(result.stale)} (regenerate without --check)")
            return EXIT_FAILED
        say(prog, f"up to date: {args.output_dir}")
        return EXIT_OK
    say(
        prog,
        f"{done} -> {args.output_dir} ({len(result.written)} written, {len(result.unchanged)} unchanged, "
        f"{len(result.removed)} removed)",
    )
    return EXIT_OK
