"""Files we write whole or not at all: reports, JSON documents, state (an interrupted write
leaves the old file)."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

import orjson


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
