import os

import pytest

from orchestration_utils.codegen.templates import PyExpr, py
from orchestration_utils.codegen.writer import GeneratedFile, python_header, write_files


def _files(text="a = 1\n"):
    body = text
    return [GeneratedFile("one.py", python_header("t", "src", "0" * 64, body) + body),
            GeneratedFile("two.json", "{}\n")]


def test_second_write_changes_nothing_and_check_agrees(tmp_path):
    first = write_files(tmp_path, _files())
    assert first.written == ["one.py", "two.json"]
    again = write_files(tmp_path, _files())
    assert again.written == [] and again.unchanged == ["one.py", "two.json"]
    assert write_files(tmp_path, _files("a = 2\n"), check=True).stale == ["one.py"]
    assert (tmp_path / "one.py").read_text().endswith("a = 1\n")  # check wrote nothing


def test_failed_write_leaves_previous_files_whole(tmp_path, monkeypatch):
    write_files(tmp_path, _files())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_fdopen = os.fdopen
    calls = []

    def failing_fdopen(fd, *args, **kwargs):
        calls.append(fd)
        if len(calls) == 2:
            os.close(fd)
            raise OSError("disk full")
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", failing_fdopen)
    changed = [GeneratedFile("one.py", "b = 1\n"), GeneratedFile("two.json", "[]\n")]
    with pytest.raises(OSError, match="disk full"):
        write_files(tmp_path, changed)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp files, no half file


def test_files_no_longer_generated_are_removed_but_hand_written_ones_kept(tmp_path):
    write_files(tmp_path, _files())
    (tmp_path / "mine.py").write_text("print('hand written')\n")
    result = write_files(tmp_path, [GeneratedFile("two.json", "{}\n")])
    assert result.removed == ["one.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.py", "two.json"]


def test_header_names_tool_source_and_hash_and_keeps_paths_on_one_line():
    header = python_header("airflow-dag-gen", "a\nimport os", "f" * 64, "x = 1\n")
    lines = header.splitlines()
    assert len(lines) == 3 and all(line.startswith("# ") for line in lines)
    assert "airflow-dag-gen" in lines[0] and "DO NOT EDIT" in lines[0]
    assert "a\\nimport os" in lines[1]


@pytest.mark.parametrize("value", ['x"); import os #', "a\nb", "naïve ☃", "'''", "\\", '"""'])
def test_py_filter_round_trips_hostile_strings(value):
    assert eval(py(value)) == value  # noqa: S307 - the point is that it is only a literal
    assert eval(py({"k": [value, (value,)]})) == {"k": [value, (value,)]}  # noqa: S307


def test_py_filter_prints_plan_expressions_verbatim():
    assert py(PyExpr("Asset('x')")) == "Asset('x')"
