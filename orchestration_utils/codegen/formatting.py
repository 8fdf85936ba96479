"""Generated Python is formatted with the locked ruff and must parse before it is written."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

RUFF = Path(sys.executable).parent / "ruff"


def format_python(source: str, name: str) -> str:
    ast.parse(source, filename=name)  # a template bug must never reach disk
    result = subprocess.run(
        [str(RUFF), "format", "--isolated", "--line-length", "100", "--stdin-filename", name, "-"],
        input=source,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ruff could not format generated {name}: {result.stderr.strip()}")
    return result.stdout
