import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration_utils.codegen.templates import PyExpr, py
from orchestration_utils.codegen.writer import (
    GeneratedFile,
    Owner,
    ProjectId,
    json_stamp,
    python_header,
    write_files,
)
from orchestration_utils.errors import OutputDirError

PROJECT = ProjectId("dbt", "p", ".")


def _py(path, body="a = 1\n", tool="t", project=PROJECT):
    return GeneratedFile(path, python_header(tool, project, "0" * 64, body) + body)


def _json(path, value, tool="t", project=PROJECT):
    return GeneratedFile(path, json.dumps({**json_stamp(tool, project), "v": value}) + "\n")


def _files(text="a = 1\n"):
    return [_py("one.py", text), _json("two.json", {})]


def write(out, files, tool="t", project=PROJECT, **kw):
    return write_files(out, files, Owner(tool, project), **kw)


def test_second_write_changes_nothing_and_check_agrees(tmp_path):
    first = write(tmp_path, _files())
    assert first.written == ["one.py", "two.json"]
    again = write(tmp_path, _files())
    assert again.written == [] and again.unchanged == ["one.py", "two.json"]
    assert write(tmp_path, _files("a = 2\n"), check=True).stale == ["one.py"]
    assert (tmp_path / "one.py").read_text().endswith("a = 1\n")  # check wrote nothing


def test_failed_write_leaves_previous_files_whole(tmp_path, monkeypatch):
    write(tmp_path, _files())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real_fsync = os.fsync
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    changed = [GeneratedFile("one.py", "b = 1\n"), _json("two.json", [])]
    with pytest.raises(OutputDirError, match="no space left on device"):
        write(tmp_path, changed)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no half file
    assert [
        p.name for p in tmp_path.parent.iterdir() if p.name.startswith(f".{tmp_path.name}.")
    ] == []  # no staging


def test_files_no_longer_generated_are_removed_but_hand_written_ones_kept(tmp_path):
    write(tmp_path, _files())
    (tmp_path / "mine.py").write_text("print('hand written')\n")
    result = write(tmp_path, [_py("three.py"), _json("two.json", {})])
    assert result.removed == ["one.py"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.py", "three.py", "two.json"]


def test_header_names_tool_project_and_hash_and_keeps_names_on_one_line():
    project = ProjectId("dbt", "a\nimport os", "../x\ny")
    header = python_header("airflow-dag-gen", project, "f" * 64, "x = 1\n")
    lines = header.splitlines()
    assert len(lines) == 4 and all(line.startswith("# ") for line in lines)
    assert "airflow-dag-gen" in lines[0] and "DO NOT EDIT" in lines[0]
    assert "a\\nimport os" in lines[1]
    assert json.loads(lines[2].removeprefix("# Project: ")) == project.as_json()
    shared = python_header("dagster-asset-gen", None, "", "x = 1\n").splitlines()
    assert len(shared) == 3 and "Shared by every project" in shared[1]


@pytest.mark.parametrize("value", ['x"); import os #', "a\nb", "naïve ☃", "'''", "\\", '"""'])
def test_py_filter_round_trips_hostile_strings(value):
    assert eval(py(value)) == value
    assert eval(py({"k": [value, (value,)]})) == {"k": [value, (value,)]}


def test_py_filter_prints_plan_expressions_verbatim():
    assert py(PyExpr("Asset('x')")) == "Asset('x')"


def test_hand_written_files_and_folders_survive_the_swap(tmp_path):
    out = tmp_path / "dags"
    write(out, _files())
    (out / "mine.py").write_text("print('hand written')\n")
    (out / "lib").mkdir()
    (out / "lib" / "helpers.py").write_text("X = 1\n")
    write(out, _files("a = 2\n"))
    assert (out / "mine.py").read_text() == "print('hand written')\n"
    assert (out / "lib" / "helpers.py").read_text() == "X = 1\n"
    assert (out / "one.py").read_text().endswith("a = 2\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dags"]  # no staging left beside it


def test_symlinked_output_dir_stays_a_symlink(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    write(tmp_path / "link", _files())
    assert (tmp_path / "link").is_symlink() and (real / "one.py").is_file()


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_text("x"), "not a directory"),
        (lambda p: None, "name too long"),
    ],
)
def test_unusable_output_dir_is_one_error(tmp_path, make, reason):
    out = tmp_path / ("o" * 300 if reason == "name too long" else "out_file")
    make(out)
    with pytest.raises(OutputDirError, match=f"--output-dir .*: {reason}$"):
        write(out, _files())
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["out_file"] if reason == "not a directory" else []
    )


# Run in a subprocess: write generation B over A, SIGKILLed right after the N-th file-system call.
_KILLER = """
import json, os, signal, sys
from orchestration_utils.codegen.writer import GeneratedFile, Owner, ProjectId, json_stamp, python_header, write_files
out, kill_at, version = sys.argv[1], int(sys.argv[2]), sys.argv[3]
calls = 0
for name in ("replace", "rename", "fsync", "unlink", "rmdir", "mkdir", "link", "open"):
    real = getattr(os, name)
    def wrapper(*a, _real=real, **k):
        global calls
        result = _real(*a, **k)
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    setattr(os, name, wrapper)
project = ProjectId("dbt", "p", ".")
files = [GeneratedFile(f"{version}_only.py" if i == 0 else f"f{i}.py", python_header("t", project, "0" * 64, version) + version) for i in range(4)]
files.append(GeneratedFile("sub/index.json", json.dumps({**json_stamp("t", project), "v": version})))
write_files(out, files, Owner("t", project))
print(calls)
"""


def _generation(out):
    return {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*") if p.is_file()}


def test_kill_between_any_two_steps_leaves_old_or_new_and_next_run_cleans_up(tmp_path):
    import subprocess
    import sys

    def run(out, kill_at, version):
        return subprocess.run(
            [sys.executable, "-c", _KILLER, str(out), str(kill_at), version],
            check=False,
            capture_output=True,
            text=True,
        )

    ref_a, ref_b = tmp_path / "ref_a", tmp_path / "ref_b"
    assert run(ref_a, 0, "A").returncode == 0
    steps = int(run(ref_b, 0, "B").stdout)
    a_then_b = tmp_path / "count"
    run(a_then_b, 0, "A")
    steps = int(run(a_then_b, 0, "B").stdout)
    old, new = _generation(ref_a), _generation(ref_b)
    assert steps > 10 and old != new
    for k in range(1, steps + 1):
        it = tmp_path / f"k{k}"
        out = it / "dags"
        run(out, 0, "A")
        (out / "mine.txt").write_text("mine")
        killed = run(out, k, "B")
        assert killed.returncode == -9, (k, killed.stderr)
        seen = _generation(out)
        assert seen.pop("mine.txt") == "mine"
        assert seen in (old, new), f"killed after call {k}: a mix {sorted(seen)}"
        assert run(out, 0, "B").returncode == 0
        assert _generation(out) == {**new, "mine.txt": "mine"}
        assert sorted(p.name for p in it.iterdir()) == ["dags"], f"leftovers after kill {k}"


def test_without_a_directory_swap_files_are_replaced_one_by_one(tmp_path, monkeypatch):
    """Where renameat2 is missing (macOS) or unsupported, the output is still right and user files stay."""
    from orchestration_utils.codegen import writer

    out = tmp_path / "dags"
    write(out, _files())
    (out / "mine.py").write_text("mine\n")
    monkeypatch.setattr(writer, "_swap", lambda staging, target: False)
    result = write(out, [_py("three.py"), _json("two.json", [])])
    assert result.removed == ["one.py"]
    assert {p.name: p.read_text() for p in out.iterdir() if p.name != "three.py"} == {
        "mine.py": "mine\n",
        "two.json": _json("two.json", []).content,
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dags"]


# A run removes only what it owns: this generator's files, in the folders the new set writes.


def test_a_run_keeps_sub_folders_the_other_tool_and_user_copies(tmp_path):
    out = tmp_path / "dags"
    write(out / "sqlmesh", [_py("old.py", tool="a")], tool="a")  # an earlier run into a sub-folder
    write(out, [_py("old.py", tool="a"), _py("pkg/m.py", tool="a")], tool="a")
    (out / "other.py").write_text(python_header("b", PROJECT, "0" * 64, "") + "b = 1\n")
    (out / "pkg" / "theirs.py").write_text(python_header("b", PROJECT, "0" * 64, "") + "b = 1\n")
    (out / "copies").mkdir()
    (out / "copies" / "old.py").write_bytes((out / "old.py").read_bytes())  # a user's copy
    result = write(out, [_py("new.py", tool="a"), _py("pkg/n.py", tool="a")], tool="a")
    assert result.removed == ["old.py", "pkg/m.py"]  # the run's own folders only
    left = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.py"))
    assert left == [
        "copies/old.py",
        "new.py",
        "other.py",
        "pkg/n.py",
        "pkg/theirs.py",
        "sqlmesh/old.py",
    ]


OTHER = ProjectId("sqlmesh", "q", ".")  # another project in the same folder
SAME_NAME = ProjectId("dbt", "p", "../elsewhere")  # another project of the same name, still there
MOVED = ProjectId("dbt", "p", "../gone")  # this project, read from a place that no longer exists
LOOSE = ProjectId("dbt", "p", None)  # this project, read from a manifest outside its project
# Who wrote an existing file: (tool, project), "user" (no header), "empty", "legacy" (a header
# from before projects were recorded, naming this project in its Source line).
WRITERS = [("a", p) for p in (PROJECT, OTHER, SAME_NAME, MOVED, LOOSE)] + [("b", PROJECT)]


def _existing(path, writer):
    path.parent.mkdir(parents=True, exist_ok=True)
    if writer == "user":
        path.write_text("v = 'mine'\n" if path.suffix == ".py" else '{"mine": 1}\n')
    elif writer == "empty":
        path.write_text("")
    elif writer == "legacy" and path.suffix == ".json":
        path.write_text(json.dumps({"generated_by": "a", "source": "dbt project 'p'"}))
    elif writer == "legacy":
        path.write_text(
            "# Generated by orchestration-utils a 0.0.1. DO NOT EDIT: regenerate instead.\n"
            "# Source: dbt project 'p' (sha256 0000000000000000)\nv = 0\n"
        )
    else:
        tool, project = writer
        path.write_text(
            _json(path.name, 0, tool, project).content
            if path.suffix == ".json"
            else _py(path.name, "v = 0\n", tool, project).content
        )


def _ours(writer):
    return writer in ("empty", "legacy", ("a", PROJECT), ("a", MOVED), ("a", LOOSE))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    existing=st.dictionaries(
        st.sampled_from(["x.py", "y.py", "p/x.py", "p/y.py", "d/x.py", "d/e/x.py", "x.json"]),
        st.sampled_from([*WRITERS, "user", "empty", "legacy"]),
        max_size=7,
    ),
    new=st.sets(st.sampled_from(["x.py", "z.py", "p/z.py", "x.json"]), min_size=1),
    check=st.booleans(),
)
def test_a_run_replaces_and_removes_only_its_projects_files(tmp_path_factory, existing, new, check):
    """Any mix of files of this project, another project (same name or not), another generator,
    a user and older versions: a file of the new set's name that is not ours refuses the run (in
    --check too) and nothing changes; else exactly this project's stale files in its folders go."""
    root = tmp_path_factory.mktemp("prop")
    out = root / "out"
    (root / "elsewhere").mkdir()  # SAME_NAME's project; MOVED's (root / "gone") is not there
    for rel, writer in existing.items():
        _existing(out / rel, writer)
    before = {rel: (out / rel).read_bytes() for rel in existing}
    files = [_json(r, 1, "a") if r.endswith(".json") else _py(r, tool="a") for r in new]
    refused = sorted(r for r in new if r in existing and not _ours(existing[r]))
    if refused:
        with pytest.raises(OutputDirError, match=f": {refused[0]}"):
            write(out, files, tool="a", check=check)
        assert {rel: (out / rel).read_bytes() for rel in existing} == before
        return
    result = write(out, files, tool="a", check=check)
    folders = {str(Path(rel).parent) for rel in new}
    stale = {
        rel
        for rel, writer in existing.items()
        if _ours(writer) and writer != "empty" and str(Path(rel).parent) in folders
    } - set(new)
    assert set(result.removed) == stale
    assert set(result.stale if check else result.written) >= (set(new) - set(existing))
    for rel in existing:
        if check or rel not in stale | set(new):
            assert (out / rel).read_bytes() == before[rel], rel
        else:
            assert (out / rel).exists() == (rel in new), rel


def _spy_links(monkeypatch):
    from orchestration_utils.codegen import writer

    links = []
    real = writer._link_or_copy
    monkeypatch.setattr(writer, "_link_or_copy", lambda s, d: (links.append(d), real(s, d)))
    return links


def test_a_big_tree_of_the_users_is_not_hard_linked_but_replaced_file_by_file(
    tmp_path, monkeypatch
):
    out = tmp_path / "dags"
    write(out, _files())
    (out / "big").mkdir()
    for i in range(1001):
        (out / "big" / f"f{i}").write_text("x")
    links = _spy_links(monkeypatch)
    result = write(out, [_py("one.py", "a = 2\n"), _json("two.json", {})])
    assert result.written == ["one.py"] and links == []
    assert (out / "one.py").read_text().endswith("a = 2\n")
    assert len(list((out / "big").iterdir())) == 1001
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dags"]  # no staging beside it
    assert sorted(p.name for p in out.iterdir()) == ["big", "one.py", "two.json"]
    for name in ("f0", "f1"):  # 1,000 entries ("big" and 999 files): the swap again
        (out / "big" / name).unlink()
    write(out, [_py("one.py", "a = 3\n"), _json("two.json", {})])
    assert len(links) == 999 and (out / "one.py").read_text().endswith("a = 3\n")


def test_a_mount_point_is_never_staged(tmp_path, monkeypatch):
    """`--output-dir /`: decided before a copy of the tree is made, not after."""
    from orchestration_utils.codegen import writer

    out = tmp_path / "mnt"
    write(out, _files())
    (out / "mine.txt").write_text("mine")
    monkeypatch.setattr(writer.os.path, "ismount", lambda p: Path(p) == out)
    monkeypatch.setattr(writer, "_fill", lambda *a, **k: pytest.fail("staged a mount point"))
    write(out, [_py("one.py", "a = 2\n"), _py("three.py")])
    assert {p.name for p in out.iterdir()} == {"mine.txt", "one.py", "three.py"}  # two.json: stale
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnt"]


def test_file_by_file_leftovers_of_a_killed_run_are_removed(tmp_path, monkeypatch):
    from orchestration_utils.codegen import writer

    write(tmp_path, _files())
    (tmp_path / ".one.py.generating-abc123").write_text("half")
    (tmp_path / ".mine.generating-x").write_text("not ours")
    monkeypatch.setattr(writer, "_swappable", lambda target, ours: False)
    write(tmp_path, _files("a = 2\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".mine.generating-x",
        "one.py",
        "two.json",
    ]
    assert (tmp_path / "one.py").stat().st_mode & 0o777 == 0o666 & ~writer._umask()


def test_a_dangling_symlink_output_dir_is_refused_not_created(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "missing")
    for out in (tmp_path / "link", tmp_path / "link" / "dags"):
        with pytest.raises(OutputDirError, match="symlink to a missing directory$"):
            write(out, _files())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link"]


# The console scripts: two generators, nested output dirs, an empty --output-dir.


def _cli(tool, manifest, out, cwd):
    return subprocess.run(
        [
            str(Path(sys.executable).parent / tool),
            "--project-type",
            "dbt",
            "--manifest-path",
            str(manifest),
            "--output-dir",
            out,
        ],
        cwd=cwd,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_generators_keep_each_others_output_and_nested_runs(tmp_path, demo_manifest):
    work = tmp_path / "work"
    (work / "mine").mkdir(parents=True)
    steps = [
        ("airflow-dag-gen", "dags/sqlmesh"),
        ("airflow-dag-gen", "proj/airflow"),
        ("dagster-asset-gen", "proj"),
        ("airflow-dag-gen", "dags"),
    ]
    before = {}
    for tool, out in steps:
        result = _cli(tool, demo_manifest, out, work)
        assert result.returncode == 0, result.stderr
        after = _tree(work)
        assert all(after.get(k) == v for k, v in before.items()), tool + " " + out  # none lost
        before = after
    copy = work / "mine" / "copy.py"
    copy.write_bytes(next((work / "dags").glob("*.py")).read_bytes())
    before = _tree(work)
    assert _cli("airflow-dag-gen", demo_manifest, ".", work).returncode == 0
    after = _tree(work)
    assert all(after.get(k) == v for k, v in before.items())  # nothing below `.` removed
    assert any(k.endswith(".py") and "/" not in k for k in after)


@pytest.mark.parametrize("tool", ["airflow-dag-gen", "dagster-asset-gen"])
def test_empty_output_dir_is_one_line(tmp_path, demo_manifest, tool):
    (tmp_path / "keep.txt").write_text("x")
    result = _cli(tool, demo_manifest, "", tmp_path)
    assert result.returncode == 2 and result.stderr.splitlines() == [
        f"{tool}: error: --output-dir '': give a directory (. for the working directory)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
