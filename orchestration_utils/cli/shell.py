"""What every console script shares: one-line errors with exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from orchestration_utils.errors import ConfigError, ProjectError, UsageError, clip, printable
from orchestration_utils.files import StdoutError, check_stdout_open

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# What a shell reports for a writer whose reader left (`yes | head`): 128 + SIGPIPE.
EXIT_BROKEN_PIPE = 141


def parser(prog: str, description: str, epilog: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def run(main: Callable[[], int], prog: str, writes_stdout: bool = True) -> int:
    """`main` with the scripts' exit codes: its own, 2 with one line on bad input or when stdout
    cannot take the output (closed, full), 141 and silence when stdout's reader left early.
    `writes_stdout`: the command's output goes to stdout, so a closed one is refused before
    `main` evaluates, sends or writes anything."""
    _hold_closed_streams()
    try:
        if writes_stdout:
            check_stdout_open()
        return main()
    except (ProjectError, ConfigError, UsageError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StdoutError as exc:
        _discard_stdout()
        if exc.broken_pipe:  # `| head`: the reader chose to stop; say nothing, as `cat` does
            return EXIT_BROKEN_PIPE
        print(f"{prog}: error: cannot write the output to stdout: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # stderr's reader left (`2>&1 | head`)
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        if exc.filename is None:
            raise
        # A path the user gave that the system refuses to look at (a name over 255 bytes, ...).
        print(
            f"{prog}: error: {printable(clip(str(exc.filename)))}: {exc.strerror}", file=sys.stderr
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _hold_closed_streams() -> None:
    """With fd 1 or 2 closed at start (`>&-`, `2>&-`) Python leaves that stream None, and the next
    file opened (a DuckDB database, the state) would get the descriptor: hold it with /dev/null.
    stdout stays None (`write_stdout` says it is closed); stderr becomes /dev/null, since
    `print(file=None)` would put our messages into stdout's JSON."""
    for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
        if stream is None:
            try:
                os.fstat(fd)
            except OSError:
                held = os.open(os.devnull, os.O_WRONLY)
                if held != fd:
                    os.close(held)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 -- held for the process's life


def _discard_stdout() -> None:
    """What is still buffered for a stdout that failed goes to /dev/null, so that flushing it at
    exit adds no "Exception ignored" lines and no exit code 120."""
    if sys.stdout is not None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def say(prog: str, message: str) -> None:
    """Progress and summaries go to stderr; stdout is for JSON."""
    print(f"[{prog}] {printable(message)}", file=sys.stderr, flush=True)


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
