#!/usr/bin/env python3
"""Deterministic generator of a synthetic SQLMesh project (DuckDB gateway), the SQLMesh twin of
`../shared/tools/gen_dbt_project.py`.

    python bench/gen_sqlmesh_project.py --models N --out DIR --seed S [--depth D] [--force]

Writes (stdlib only, byte-identical for the same arguments):
    DIR/config.yaml               a DuckDB gateway (`DIR/synthetic.duckdb`), dialect duckdb, start 2026-01-01
    DIR/models/<schema>/<name>.sql  one MODEL per file
    DIR/gen_summary.json          parameters and counts (SQLMesh ignores it)

Shape: depth 0 is `syn_raw` (FULL models over a VALUES list: no seeds, no external tables);
each later depth reads 1-3 models of earlier depths, one of them from the depth just before, so
the longest path is exactly `--depth` models. Schemas by depth: syn_raw, syn_staging,
syn_intermediate, syn_marts. Kinds: VIEW, FULL and INCREMENTAL_BY_TIME_RANGE (time column
`event_date`, partitioned by it); crons `@daily`, `@hourly`, `0 6 * * *`, `@weekly`; owners; tags
with the layer, `sla_hours:N`, `freshness_hours:N` for some, `critical` for a few; a not_null audit
on some. The project loads with sqlmesh 0.236.4 (`sqlmesh.Context(paths=DIR)`); it is not meant to
hold interesting data.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

GENERATOR_VERSION = "1"
DOMAINS = ["orders", "payments", "customers", "sessions", "events", "tickets", "invoices", "stock"]
OWNERS = ["data-eng", "analytics", "finance-data", "growth", "platform"]
CRONS = [("@daily", 60), ("@hourly", 20), ("0 6 * * *", 10), ("@weekly", 10)]
KINDS = [("VIEW", 25), ("FULL", 35), ("INCREMENTAL_BY_TIME_RANGE", 40)]


def _schema(depth: int, depths: int) -> str:
    if depth == 0:
        return "syn_raw"
    if depth == 1:
        return "syn_staging"
    return "syn_intermediate" if depth < depths - 1 else "syn_marts"


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _models_per_depth(models: int, depths: int) -> list[int]:
    """Wider at the bottom: raw and staging hold most models, every depth at least one."""
    weights = [max(depths - d, 1) for d in range(depths)]
    counts = [max(1, models * w // sum(weights)) for w in weights]
    counts[1 if depths > 1 else 0] += models - sum(counts)
    return counts


def generate(models: int, depths: int, seed: int, out: Path) -> dict:
    rng = random.Random(seed)
    plan: list[list[str]] = []
    files: dict[str, str] = {}
    kinds: dict[str, int] = {}
    crons: dict[str, int] = {}
    for depth, count in enumerate(_models_per_depth(models, depths)):
        schema = _schema(depth, depths)
        names = []
        for i in range(count):
            domain = rng.choice(DOMAINS)
            name = f"{schema}.{schema.removeprefix('syn_')[:3]}_{domain}_{depth}_{i}"
            names.append(name)
            kind = "FULL" if depth == 0 else _pick(rng, KINDS)
            cron = _pick(rng, CRONS)
            parents = []
            if depth:
                parents = [rng.choice(plan[depth - 1])]
                for _ in range(rng.randint(0, 2)):
                    candidate = rng.choice(plan[rng.randrange(depth)])
                    if candidate not in parents:
                        parents.append(candidate)
            files[name] = _model(rng, name, kind, cron, depth, schema, parents)
            kinds[kind] = kinds.get(kind, 0) + 1
            crons[cron] = crons.get(cron, 0) + 1
        plan.append(names)
    summary = {
        "generator_version": GENERATOR_VERSION,
        "models": sum(len(p) for p in plan),
        "depth": depths,
        "seed": seed,
        "per_depth": [len(p) for p in plan],
        "kinds": dict(sorted(kinds.items())),
        "crons": dict(sorted(crons.items())),
    }
    (out / "models").mkdir(parents=True)
    (out / "config.yaml").write_text(
        "gateways:\n  local:\n    connection:\n      type: duckdb\n"
        f"      database: {out.resolve() / 'synthetic.duckdb'}\n"
        "default_gateway: local\n"
        "model_defaults:\n  dialect: duckdb\n  start: '2026-01-01'\n"
    )
    for name, text in files.items():
        schema, table = name.split(".")
        path = out / "models" / schema / f"{table}.sql"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    (out / "gen_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _model(
    rng: random.Random,
    name: str,
    kind: str,
    cron: str,
    depth: int,
    schema: str,
    parents: list[str],
) -> str:
    layer = schema.removeprefix("syn_")
    tags = [layer, f"sla_hours:{rng.choice([1, 2, 4, 6, 12, 24])}"]
    if rng.random() < 0.4:
        tags.append(f"freshness_hours:{rng.choice([2, 6, 24, 48])}")
    if rng.random() < 0.1:
        tags.append("critical")
    header = [f"  name {name},"]
    if kind == "INCREMENTAL_BY_TIME_RANGE":
        header.append("  kind INCREMENTAL_BY_TIME_RANGE (time_column event_date),")
    else:
        header.append(f"  kind {kind},")
    header.append(f"  cron '{cron}',")
    header.append(f"  owner '{rng.choice(OWNERS)}',")
    header.append("  tags [" + ", ".join(f"'{t}'" for t in tags) + "],")
    header.append(f"  description 'Synthetic {layer} model at depth {depth}.',")
    if kind == "INCREMENTAL_BY_TIME_RANGE":
        header.append("  partitioned_by event_date,")
    if rng.random() < 0.3:
        header.append("  audits (not_null(columns := (id))),")
    header[-1] = header[-1].rstrip(",")
    if not parents:
        body = (
            "SELECT\n  CAST(v.id AS INT) AS id,\n  CAST(v.event_date AS DATE) AS event_date,\n"
            "  CAST(v.amount AS DOUBLE) AS amount,\n  CAST(v.category AS TEXT) AS category\n"
            "FROM (VALUES (1, '2026-01-01', 10.0, 'a'), (2, '2026-01-02', 20.0, 'b')) "
            "AS v(id, event_date, amount, category)"
        )
    else:
        amount = " + ".join(
            ["p0.amount"] + [f"COALESCE(p{i}.amount, 0)" for i in range(1, len(parents))]
        )
        joins = "".join(
            f"\nLEFT JOIN {parent} AS p{i} ON p{i}.id = p0.id"
            for i, parent in enumerate(parents[1:], 1)
        )
        body = (
            f"SELECT\n  p0.id AS id,\n  p0.event_date AS event_date,\n  {amount} AS amount,\n"
            f"  p0.category AS category\nFROM {parents[0]} AS p0{joins}"
        )
    if kind == "INCREMENTAL_BY_TIME_RANGE":  # never at depth 0: it always has a parent
        body += "\nWHERE p0.event_date BETWEEN @start_ds AND @end_ds"
    return "MODEL (\n" + "\n".join(header) + "\n);\n\n" + body + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--depth", type=int, default=8, help="models on the longest path (>= 2)")
    ap.add_argument("--force", action="store_true", help="replace DIR if it exists")
    args = ap.parse_args(argv)
    if args.models < args.depth or args.depth < 2:
        print("gen_sqlmesh_project: --models must be >= --depth >= 2", file=sys.stderr)
        return 2
    if args.out.exists():
        if not args.force:
            print(f"gen_sqlmesh_project: {args.out} exists (--force replaces it)", file=sys.stderr)
            return 2
        shutil.rmtree(args.out)
    summary = generate(args.models, args.depth, args.seed, args.out)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
