"""Files we write whole or not at all: reports, JSON documents, state (an interrupted write
leaves the old file)."""

from __future__ import annotations

import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import orjson


class StdoutError(Exception):
    """stdout cannot take the output: closed, full, or its reader gone (`broken_pipe`: `| head`).
    `str()` is the reason. Not an OSError, so no handler of `--output`'s errors mistakes it for one."""

    def __init__(self, reason: str, broken_pipe: bool = False):
        super().__init__(reason)
        self.broken_pipe = broken_pipe


def check_stdout_open() -> None:
    """Raises StdoutError when stdout is closed (`>&-`), so a command that will write there can
    refuse before doing anything. A full device (`> /dev/full`) shows only when written to."""
    if sys.stdout is None:  # Python leaves it None when fd 1 was closed at start
        raise StdoutError("stdout is closed")
    try:
        os.fstat(sys.stdout.fileno())
    except io.UnsupportedOperation:  # no file descriptor behind it (an in-memory stream): open
        return
    except (OSError, ValueError):  # EBADF: closed since; ValueError: the file object was closed
        raise StdoutError("stdout is closed") from None


def write_stdout(data: bytes | Iterable[bytes]) -> None:
    """Bytes (or chunks of them, streamed) to stdout, flushed. Raises StdoutError when stdout is
    closed (`>&-`), full (`> /dev/full`) or its reader has gone."""
    if sys.stdout is None:  # Python leaves it None when fd 1 was closed at start
        raise StdoutError("stdout is closed")
    try:
        for chunk in [data] if isinstance(data, bytes) else data:
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
    except BrokenPipeError:
        raise StdoutError("its reader closed it", broken_pipe=True) from None
    except OSError as exc:
        raise StdoutError(exc.strerror or str(exc)) from None


def emit_json(document: object, output: Path | None) -> None:
    """JSON to `output` (written whole or not at all; OSError when it cannot be) or to stdout
    (StdoutError when it cannot be)."""
    data = json_bytes(document)
    if output is None:
        write_stdout(data)
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
