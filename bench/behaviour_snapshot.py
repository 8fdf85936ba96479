"""What the console scripts produce, as one JSON document: proof that a refactoring changed no behaviour.

Runs the installed console scripts (never imports the package, so it works across module moves)
over fixed inputs: both generators over corpus manifests, the demo dbt manifest (parsed once and
kept, so its bytes do not move between runs) and the demo SQLMesh project; the health monitor and
the SLA tracker over a small DuckDB warehouse at a fixed `--as-of`; and a few bad inputs. Every
generated file is recorded by sha256, every stdout/stderr verbatim (temp paths replaced).

    .venv/bin/python bench/behaviour_snapshot.py --out before.json
    ... refactor ...
    .venv/bin/python bench/behaviour_snapshot.py --out after.json --compare before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
CORPUS = Path(
    os.environ.get("ORCHESTRATION_UTILS_CORPUS", REPO.parent.parent / "shared/corpus/dbt")
)
MANIFESTS = [
    "jaffle-ladder/v12_dbt1.11",
    "jaffle-ladder/v4",
    "hooli-v8",
    "tuva-v9",
    "fivetran-netsuite-v12",
    "dagster-dbt-snowflake-fusion-v20",
    "cosmos-python-databricks-v9",
    "flipside-ethereum-v4",
]
DEMO_DBT = REPO / "orchestration_utils" / "demo" / "dbt_project"
DEMO_SQLMESH = REPO / "orchestration_utils" / "demo" / "sqlmesh_project"
KEPT = REPO / "bench" / ".work" / "behaviour"
AS_OF = "2026-01-10T06:00:00+00:00"


def run(cmd: list[str], tmp: Path, env: dict[str, str]) -> dict:
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=tmp)
    clean = lambda s: elapsed(s.replace(str(tmp), "<tmp>").replace(str(REPO), "<repo>"))
    return {
        "cmd": [clean(c) for c in cmd],
        "rc": done.returncode,
        "stdout": clean(done.stdout),
        "stderr": clean(done.stderr),
    }


def elapsed(text: str) -> str:
    """Durations vary from run to run: `in 5.4s` is recorded as `in <t>s`."""
    return re.sub(r"\bin \d+(\.\d+)?s\b", "in <t>s", text)


def tree(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def demo_manifest() -> Path:
    """The demo's manifest, parsed once by dbt and kept: a new parse changes its timestamps."""
    kept = KEPT / "demo_manifest" / "manifest.json"
    if not kept.exists():
        subprocess.run(
            [
                str(BIN / "dbt"),
                "parse",
                "--quiet",
                "--project-dir",
                str(DEMO_DBT),
                "--profiles-dir",
                str(DEMO_DBT),
                "--target-path",
                str(kept.parent),
            ],
            check=True,
            cwd=DEMO_DBT,
        )
    return kept


def warehouse(path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute(
        """
        CREATE SCHEMA marts; CREATE SCHEMA raw;
        CREATE TABLE marts.fct_orders AS SELECT i AS order_id, i % 7 AS customer_id,
            CAST(i * 1.5 - 3 AS DECIMAL(10,2)) AS order_total,
            TIMESTAMP '2026-01-09 00:00:00' + INTERVAL (i) HOUR AS ordered_at FROM range(20) t(i);
        CREATE TABLE marts.fct_daily_revenue AS SELECT DATE '2026-01-01' + INTERVAL (i) DAY AS
            order_date, i * 10.0 AS revenue FROM range(9) t(i) WHERE i <> 4;
        CREATE TABLE marts.fct_events AS SELECT TIMESTAMP '2026-01-09 20:00:00' + INTERVAL (i) HOUR
            AS event_hour FROM range(5) t(i);
        CREATE TABLE marts.dim_customers (customer_id INTEGER);
        CREATE TABLE marts.dim_products AS SELECT 1 AS product_id, 'a' AS product_name,
            CAST(2.5 AS DECIMAL(38,9)) AS price;
        CREATE TABLE raw.raw_events AS SELECT 1 AS id;
        """
    )
    con.close()


def snapshot() -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        env = dict(os.environ, HOME=str(tmp / "home"), DAGSTER_HOME=str(tmp / "dagster_home"))
        (tmp / "dagster_home").mkdir()
        (tmp / "home").mkdir()
        for var in list(env):
            if var.startswith("ORCHESTRATION_UTILS_") or var in ("SLACK_WEBHOOK_URL",):
                env.pop(var)
        sources = [(m, "dbt", CORPUS / m / "manifest.json") for m in MANIFESTS]
        sources += [("demo", "dbt", demo_manifest()), ("demo_sqlmesh", "sqlmesh", DEMO_SQLMESH)]
        for name, kind, src in sources:
            flag = "--manifest-path" if kind == "dbt" else "--project-path"
            for tool, extra in (
                ("airflow-dag-gen", ["--schedule", "daily", "--project-dir", "proj"]),
                ("airflow-dag-gen", ["--schedule", "hourly", "--mode", "bigquery"]),
                ("dagster-asset-gen", ["--project-dir", "proj"]),
            ):
                if kind == "sqlmesh" and "--mode" in extra:
                    continue
                dest = tmp / "out" / f"{name}-{tool}-{len(out)}"
                key = f"{tool} {name} {' '.join(extra)}"
                cmd = [str(BIN / tool), "--project-type", kind, flag, str(src)]
                cmd += ["--output-dir", str(dest), *extra]
                out[key] = run(cmd, tmp, env) | {"files": tree(dest)}
                check = run([*cmd, "--check"], tmp, env)
                out[key + " --check"] = check
                shutil.rmtree(dest, ignore_errors=True)

        db = tmp / "shop.duckdb"
        warehouse(db)
        wh = ["--warehouse", f"duckdb:///{db}", "--as-of", AS_OF]
        demo = REPO / "orchestration_utils" / "demo"
        cli = {
            "health config": [
                "pipeline-health-monitor",
                "--config",
                str(demo / "health-config.json"),
                *wh,
            ],
            "health table": [
                "pipeline-health-monitor",
                "--table",
                "shop.marts.fct_orders",
                "--check-freshness",
                "--timestamp-column",
                "ordered_at",
                *wh,
            ],
            "health manifest": [
                "pipeline-health-monitor",
                "--table",
                "shop.marts.fct_orders",
                "--check-freshness",
                "--manifest",
                str(demo_manifest()),
                *wh,
            ],
            "health failures": ["pipeline-health-monitor", "--check-failures", *wh],
            "health cost": ["pipeline-health-monitor", "--cost-report", *wh],
            "health bad flag": ["pipeline-health-monitor", "--check-failures", "--hours", "-1"],
            "sla evaluate": [
                "sla-tracker",
                "--config",
                str(demo / "sla-config.json"),
                "--no-alerts",
                "--state-dir",
                str(tmp / "state"),
                *wh,
            ],
            "sla report json": [
                "sla-tracker",
                "--config",
                str(demo / "sla-config.json"),
                "--report",
                "--state-dir",
                str(tmp / "state"),
                *wh,
            ],
            "sla report md": [
                "sla-tracker",
                "--config",
                str(demo / "sla-config.json"),
                "--report",
                "--format",
                "markdown",
                "--state-dir",
                str(tmp / "state"),
                *wh,
            ],
            "sla bad config": ["sla-tracker", "--config", str(demo / "health-config.json")],
            "airflow bad manifest": [
                "airflow-dag-gen",
                "--project-type",
                "dbt",
                "--manifest-path",
                str(demo / "health-config.json"),
                "--output-dir",
                str(tmp / "x"),
            ],
            "dagster bad dir": [
                "dagster-asset-gen",
                "--project-type",
                "dbt",
                "--manifest-path",
                str(demo_manifest()),
                "--output-dir",
                str(db),
            ],
        }
        for key, (tool, *args) in cli.items():
            out[key] = run([str(BIN / tool), *args], tmp, env)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--compare", type=Path, help="an earlier snapshot: exit 1 on any difference")
    args = p.parse_args()
    now = snapshot()
    args.out.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    files = sum(len(v.get("files", {})) for v in now.values())
    print(f"{len(now)} runs, {files} generated files -> {args.out}")
    if args.compare:
        # An earlier snapshot may hold raw durations.
        before = json.loads(elapsed(args.compare.read_text()))
        differ = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
        for key in differ:
            print(f"DIFFERS: {key}")
        print("identical" if not differ else f"{len(differ)} of {len(now)} runs differ")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
