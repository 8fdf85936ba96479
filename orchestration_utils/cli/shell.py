"""What every console script shares: one-line errors with exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from orchestration_utils.health.config import ConfigError
from orchestration_utils.project.model import ProjectError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input found after argument parsing (a config file, a path); exit code 2."""


def parser(prog: str, description: str, epilog: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def run(main: Callable[[], int], prog: str) -> int:
    try:
        return main()
    except (ProjectError, ConfigError, UsageError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # stdout closed early (`| head`): not an error of ours
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def say(prog: str, message: str) -> None:
    """Progress and summaries go to stderr; stdout is for JSON."""
    print(f"[{prog}] {message}", file=sys.stderr, flush=True)


def emit_json(document: object, output: Path | None) -> None:
    """JSON to `output` (written whole or not at all) or to stdout."""
    data = json_bytes(document)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    write_atomic(output, data)


def json_bytes(document: object) -> bytes:
    """The reports' JSON: indented, one trailing newline."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"


def write_atomic(output: Path, data: bytes) -> None:
    """The whole file or, if interrupted, the old one: never half a report. A symlink is written
    through (the link stays; its target gets the report). A FIFO, terminal or device
    (`/dev/stdout`, a pipe) cannot be replaced: it is written to as it is. A new file gets the
    umask's mode, a replaced one keeps its own. Raises OSError when the write fails."""
    target = Path(os.path.realpath(output))
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(target, "wb") as f:
            f.write(data)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        os.fchmod(fd, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)  # no hidden leftover beside the old file
        raise


# Read once at import (single-threaded): os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)


def as_of_time(value: str | None) -> datetime:
    """`--as-of`: evaluate at a fixed time (UTC when it names no offset); now without it."""
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--as-of: not an ISO time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def warehouse_url(flag: str | None, configured: str | None, default: str):
    """`--warehouse` over the config's "warehouse" over the settings' default."""
    from orchestration_utils.warehouse.url import parse_warehouse_url

    try:
        return parse_warehouse_url(flag or configured or default)
    except ValueError as exc:
        raise UsageError(f"--warehouse: {exc}") from None
