"""The benchmark tools: the synthetic SQLMesh project loads in SQLMesh with the shape it promises,
the same arguments give the same bytes, and every benchmark's points become JSON and a plot."""

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _module(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != "config.yaml":  # config names its own folder
            h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


def test_synthetic_sqlmesh_project_loads_with_its_depth_kinds_and_tags(tmp_path):
    gen = _module("gen_sqlmesh_project")
    assert (
        gen.main(["--models", "40", "--depth", "6", "--seed", "7", "--out", str(tmp_path / "a")])
        == 0
    )
    assert (
        gen.main(["--models", "40", "--depth", "6", "--seed", "7", "--out", str(tmp_path / "b")])
        == 0
    )
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert (
        gen.main(["--models", "40", "--depth", "6", "--seed", "8", "--out", str(tmp_path / "c")])
        == 0
    )
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")

    from sqlmesh import Context

    context = Context(paths=str(tmp_path / "a"))
    models = context.models
    assert len(models) == 40
    kinds = {m.kind.name.value for m in models.values()}
    assert kinds == {"FULL", "VIEW", "INCREMENTAL_BY_TIME_RANGE"}
    assert {m.cron for m in models.values()} >= {"@daily", "@hourly"}
    assert all(any(t.startswith("sla_hours:") for t in m.tags) for m in models.values())

    depth: dict[str, int] = {}

    def longest(fqn: str) -> int:
        if fqn not in depth:
            depth[fqn] = 1 + max((longest(d) for d in models[fqn].depends_on), default=0)
        return depth[fqn]

    assert max(longest(fqn) for fqn in models) == 6


def test_bad_arguments_exit_2_and_an_existing_folder_is_kept(tmp_path, capsys):
    gen = _module("gen_sqlmesh_project")
    assert gen.main(["--models", "3", "--depth", "6", "--out", str(tmp_path / "x")]) == 2
    (tmp_path / "kept").mkdir()
    assert gen.main(["--models", "10", "--out", str(tmp_path / "kept")]) == 2
    assert "exists" in capsys.readouterr().err
    assert not any((tmp_path / "kept").iterdir())


def test_points_merge_by_series_and_size_and_are_plotted(tmp_path, monkeypatch):
    plot = _module("plot")
    monkeypatch.setattr(plot, "RESULTS", tmp_path)
    panels = {"load_s": "load (s)"}
    plot.write_results("b", "models", [plot.Point("ours", 100, {"load_s": 1.0})], panels)
    json_path, png = plot.write_results(
        "b",
        "models",
        [plot.Point("ours", 1000, {"load_s": 3.0}), plot.Point("anchor", 100, {"load_s": 2.0})],
        panels,
    )
    points = json.loads(json_path.read_text())["points"]
    assert [(p["series"], p["size"], p["values"]["load_s"]) for p in points] == [
        ("anchor", 100, 2.0),
        ("ours", 100, 1.0),
        ("ours", 1000, 3.0),
    ]
    assert all(isinstance(p["load_avg"], float) for p in points)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("models", [8, 100, 1001])
def test_every_depth_holds_a_model_and_the_total_is_exact(models):
    gen = _module("gen_sqlmesh_project")
    counts = gen._models_per_depth(models, 8)
    assert sum(counts) == models and min(counts) >= 1 and len(counts) == 8
