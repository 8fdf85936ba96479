"""`pipeline-health-monitor`: not built yet; issue #5 brings it."""

from __future__ import annotations

import sys

from orchestration_utils.cli.shell import EXIT_USAGE, parser


def main(argv: list[str] | None = None) -> int:
    parser(
        "pipeline-health-monitor",
        "Not built yet: issue #5 of orchestration-utils brings this tool.",
        "exit codes: 2 (not available yet)",
    ).parse_args(argv)
    print("pipeline-health-monitor: not available yet (issue #5)", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
