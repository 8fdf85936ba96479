import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
TOOLS = [
    "airflow-dag-gen",
    "dagster-asset-gen",
    "pipeline-health-monitor",
    "sla-tracker",
    "orchestration-utils-demo",
]


@pytest.mark.parametrize("tool", TOOLS)
def test_every_console_script_answers_help(tool):
    result = subprocess.run(
        [str(BIN / tool), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: {tool}")
    assert "exit codes" in result.stdout
