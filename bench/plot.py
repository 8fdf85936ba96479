"""Points and curves of every benchmark: `bench/results/<name>.json` and `<name>.png`.

One PNG per benchmark, one panel per measured quantity, ours and each anchor as curves on the same
axes (sizes on a log axis). Each point carries the 1-minute load average read when it was taken,
since the machine is shared; the JSON keeps them, the PNG prints their range in the title.

    from plot import Point, write_results
    write_results("sqlmesh_scale", "models", points, panels={"wall_s": "whole process (s)"})
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load_average() -> float:
    """The 1-minute load average now (`uptime`'s first figure)."""
    return os.getloadavg()[0]


@dataclass(frozen=True)
class Point:
    """One measurement: a series (ours or an anchor) at one size, its figures and the load."""

    series: str
    size: int
    values: Mapping[str, float]
    load_avg: float = field(default_factory=load_average)
    at: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def write_results(
    name: str,
    size_label: str,
    points: Sequence[Point],
    panels: Mapping[str, str],
    title: str = "",
    merge: bool = True,
) -> tuple[Path, Path]:
    """Write the points (merged with earlier ones of other series and sizes when `merge`: a run at
    one size keeps the others' points) and their plot; returns both paths."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    kept: list[dict] = []
    if merge and path.exists():
        fresh = {(p.series, p.size) for p in points}
        kept = [
            p
            for p in json.loads(path.read_text())["points"]
            if (p["series"], p["size"]) not in fresh
        ]
    rows = sorted(kept + [asdict(p) for p in points], key=lambda p: (p["series"], p["size"]))
    path.write_text(
        json.dumps(
            {"benchmark": name, "size": size_label, "panels": dict(panels), "points": rows},
            indent=1,
        )
        + "\n"
    )
    png = RESULTS / f"{name}.png"
    _plot(rows, size_label, panels, title or name, png)
    return path, png


def _plot(
    rows: list[dict], size_label: str, panels: Mapping[str, str], title: str, png: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = sorted({r["series"] for r in rows})
    # One colour per series in every panel, one legend under them all.
    colours = dict(zip(series, plt.get_cmap("tab10").colors, strict=False))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.6 * len(panels), 4.2 + 0.25 * len(series)), squeeze=False
    )
    for ax, (key, label) in zip(axes[0], panels.items(), strict=True):
        for s in series:
            mine = [r for r in rows if r["series"] == s and key in r["values"]]
            if mine:
                ax.plot(
                    [r["size"] for r in mine],
                    [r["values"][key] for r in mine],
                    marker="o",
                    color=colours.get(s),
                    label=s,
                )
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel(size_label)
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    handles = [plt.Line2D([], [], color=colours.get(s), marker="o", label=s) for s in series]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(series), 3), fontsize=9)
    loads = [r["load_avg"] for r in rows]
    dates = sorted(r["at"][:10] for r in rows)
    fig.suptitle(
        f"{title} ({dates[0]}{'..' + dates[-1] if dates[-1] != dates[0] else ''}, "
        f"load average {min(loads):.1f}-{max(loads):.1f} on 2 cores)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.06 + 0.04 * ((len(series) - 1) // 3), 1, 1))
    fig.savefig(png, dpi=90)
    plt.close(fig)
