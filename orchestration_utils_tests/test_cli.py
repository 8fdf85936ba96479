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


def test_reports_write_through_links_and_into_pipes_keeping_modes(tmp_path):
    """`--output` of every script goes through write_atomic: a symlink stays a link (its target
    gets the report), a FIFO is written to (it cannot be replaced), a replaced file keeps its mode."""
    import os
    import stat
    import threading

    from orchestration_utils.files import write_atomic

    real = tmp_path / "real.json"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real.name)
    write_atomic(link, b"new")
    assert link.is_symlink() and real.read_text() == "new"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, b"report")
    reader.join(timeout=10)
    assert read == [b"report"] and stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "pipe", "real.json"]


def test_a_failing_special_file_is_an_error_not_a_replacement():
    from orchestration_utils.files import write_atomic

    with pytest.raises(OSError):
        write_atomic(Path("/dev/full"), b"report")
    assert Path("/dev/full").is_char_device()
