"""What every console script shares: one-line errors with exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from orchestration_utils.errors import ConfigError, ProjectError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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
