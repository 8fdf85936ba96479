"""BigQuery on 127.0.0.1 for tests: the `bqemulator` package (its own venv), and a small server of
recorded-shape responses for what no emulator does (INFORMATION_SCHEMA.JOBS with bytes billed, a
`lastModifiedTime` that moves, streaming buffers, 5xx and hanging responses)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EMULATOR_VENV = Path(os.environ.get("ORCHESTRATION_UTILS_BQEMU_VENV", REPO / ".venv-bqemu"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """`bqemulator start` on a free port, with the DuckDB spatial extension it loads at startup
    installed from its PyPI package into a private HOME (the machine may have no network)."""

    def __init__(self, workdir: Path, project: str = "test"):
        python = EMULATOR_VENV / "bin" / "python"
        assert python.exists(), (
            f"no BigQuery emulator venv at {EMULATOR_VENV}: run `make bqemu-venv`"
        )
        home = workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HOME": str(home)}
        subprocess.run(
            [
                str(python),
                "-c",
                (
                    "import duckdb, duckdb_extension_spatial as s, pathlib;"
                    "p = next(pathlib.Path(s.__file__).parent.rglob('spatial.duckdb_extension'));"
                    "duckdb.connect().execute(f\"INSTALL '{p}'\")"
                ),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        self.port = free_port()
        self.project = project
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = (workdir / "emulator.log").open("w")
        self.process = subprocess.Popen(
            [
                str(EMULATOR_VENV / "bin" / "bqemulator"),
                "start",
                "--rest-port",
                str(self.port),
                "--grpc-port",
                str(free_port()),
                "--project",
                project,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(
                    f"{self.endpoint}/bigquery/v2/projects/{project}/datasets", timeout=2
                )
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"bqemulator did not start; see {self.log.name}") from None
                time.sleep(0.2)

    def client(self):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.endpoint},
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()


Handler = Callable[[str, str, dict | None], tuple[int, dict] | None]


class RecordedBigQuery:
    """Answers the REST calls google-cloud-bigquery makes, from handlers a test registers.

    Shapes follow the REST reference (tables.get, jobs.insert, jobs.getQueryResults); a
    handler returning None means "hang until the client times out"."""

    def __init__(self):
        self.requests: list[tuple[str, str]] = []
        self.handlers: list[tuple[str, str, Handler]] = []
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self, method: str):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                path = self.path.split("?")[0].removeprefix("/bigquery/v2")
                server.requests.append((method, path))
                for want_method, prefix, handler in server.handlers:
                    if method == want_method and path.startswith(prefix):
                        answer = handler(method, path, body)
                        if answer is None:
                            time.sleep(5)
                            return
                        status, payload = answer
                        data = json.dumps(payload).encode()
                        self.send_response(status)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def on(self, method: str, prefix: str, handler: Handler) -> None:
        self.handlers.insert(0, (method, prefix, handler))

    def serve_query(
        self, project: str, schema: list[dict], rows: list[list], bytes_billed: int
    ) -> None:
        """A query job that is DONE at once: jobs.insert, then jobs.getQueryResults."""
        state = {"n": 0}

        def insert(method, path, body):
            state["n"] += 1
            job_id = body["jobReference"]["jobId"]
            return 200, {
                "kind": "bigquery#job",
                "id": f"{project}:US.{job_id}",
                "jobReference": {"projectId": project, "jobId": job_id, "location": "US"},
                "configuration": body["configuration"],
                "status": {"state": "DONE"},
                "statistics": {
                    "creationTime": "1",
                    "query": {
                        "totalBytesBilled": str(bytes_billed),
                        "totalBytesProcessed": str(bytes_billed),
                    },
                },
            }

        def results(method, path, body):
            job_id = path.rsplit("/", 1)[1]
            return 200, {
                "kind": "bigquery#getQueryResultsResponse",
                "jobReference": {"projectId": project, "jobId": job_id, "location": "US"},
                "schema": {"fields": schema},
                "totalRows": str(len(rows)),
                "rows": [{"f": [{"v": v} for v in row]} for row in rows],
                "jobComplete": True,
                "totalBytesProcessed": str(bytes_billed),
                "cacheHit": False,
            }

        self.on("POST", f"/projects/{project}/jobs", insert)
        self.on("GET", f"/projects/{project}/queries/", results)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


RATE_LIMITED = {
    "error": {
        "code": 403,
        "message": "Exceeded rate limits: too many api requests per user per method",
        "errors": [{"reason": "rateLimitExceeded", "domain": "usageLimits"}],
    }
}
ACCESS_DENIED = {
    "error": {
        "code": 403,
        "message": "Access Denied: Table p:d0.INFORMATION_SCHEMA.TABLES: User does not have "
        "permission to query table p:d0.INFORMATION_SCHEMA.TABLES, or perhaps it does not exist.",
        "errors": [{"reason": "accessDenied", "domain": "global"}],
    }
}
_VIEWS_DATASET = re.compile(r"`p`\.`(\w+)`\.INFORMATION_SCHEMA\.TABLES")


def serve_scale(
    server: RecordedBigQuery,
    now: datetime,
    days: list[str],
    renamed: str | None = None,
    streamed: tuple[str, str] | None = None,
    views_allowed: bool = True,
) -> None:
    """Project `p`, any number of datasets `dN` of tables `tM` (`id INT64 NOT NULL`, `ts TIMESTAMP`,
    700 rows, day-partitioned on `ts`, modified at `now`); `renamed` ("d0.t7") has `ts` renamed
    `loaded_at`, `streamed` is listed in the streaming timeline. Answers tables.get, the metadata
    views (or 403 accessDenied), STREAMING_TIMELINE, MAX() and PARTITIONS queries from their own
    parameters. The first tables.get and the first query are refused with 403 rateLimitExceeded."""
    lock = threading.Lock()
    jobs: dict[str, tuple[list[dict], list[list]]] = {}
    first = {"get": True, "query": True}
    modified_ms = str(int(now.timestamp() * 1000))
    string = {"type": "STRING", "mode": "NULLABLE"}
    integer = {"type": "INTEGER", "mode": "NULLABLE"}

    def limited(kind: str) -> bool:
        with lock:
            was, first[kind] = first[kind], False
        return was

    def column(dataset: str, table: str) -> str:
        return "loaded_at" if f"{dataset}.{table}" == renamed else "ts"

    def table(method, path, body):
        if limited("get"):
            return 403, RATE_LIMITED
        dataset, name = path.split("/")[4], path.split("/")[6]
        ts = column(dataset, name)
        return 200, {
            "kind": "bigquery#table",
            "type": "TABLE",
            "numRows": "700",
            "tableReference": {"projectId": "p", "datasetId": dataset, "tableId": name},
            "schema": {
                "fields": [
                    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
                    {"name": ts, "type": "TIMESTAMP", "mode": "NULLABLE"},
                ]
            },
            "timePartitioning": {"type": "DAY", "field": ts},
            "lastModifiedTime": modified_ms,
        }

    def answer(query: dict) -> tuple[int, tuple[list[dict], list[list]] | dict]:
        sql = query["query"]
        params = {p["name"]: p["parameterValue"] for p in query.get("queryParameters", ())}
        if "STREAMING_TIMELINE" in sql:
            schema = [{"name": "dataset_id", **string}, {"name": "table_id", **string}]
            return 200, (schema, [list(streamed)] if streamed else [])
        if views := _VIEWS_DATASET.search(sql):
            if not views_allowed:
                return 403, ACCESS_DENIED
            dataset = views.group(1)
            names = ("table_name", "table_type", "ddl", "row_count", "last_modified_time")
            names += ("column_name", "data_type", "is_nullable", "is_partitioning_column")
            schema = [{"name": n, **string} for n in names]
            rows = []
            for v in params["tables"]["arrayValues"]:
                name, ts = v["value"], column(dataset, v["value"])
                ddl = (
                    f"CREATE TABLE `p.{dataset}.{name}`\n(\n  id INT64 NOT NULL,\n  {ts} TIMESTAMP\n)\n"
                    f"PARTITION BY DATE({ts});"
                )
                head = [name, "BASE TABLE", ddl, "700", modified_ms]
                rows.append([*head, "id", "INT64", "NO", "NO"])
                rows.append([*head, ts, "TIMESTAMP", "YES", "YES"])
            return 200, (schema, rows)
        if "INFORMATION_SCHEMA.PARTITIONS" in sql:
            schema = [
                {"name": "table_name", **string},
                {"name": "partition_id", **string},
                {"name": "total_rows", **integer},
            ]
            return 200, (
                schema,
                [[v["value"], d, "100"] for v in params["tables"]["arrayValues"] for d in days],
            )
        fresh = (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S+00")
        schema = [{"name": "t", **string}, {"name": "m", **string}]
        return 200, (
            schema,
            [[v["value"], fresh] for k, v in params.items() if k.startswith("table")],
        )

    def insert(method, path, body):
        if limited("query"):
            return 403, RATE_LIMITED
        status, result = answer(body["configuration"]["query"])
        if status != 200:
            return status, result
        job_id = body["jobReference"]["jobId"]
        with lock:
            jobs[job_id] = result
        return 200, {
            "kind": "bigquery#job",
            "jobReference": {"projectId": "p", "jobId": job_id, "location": "US"},
            "configuration": body["configuration"],
            "status": {"state": "DONE"},
            "statistics": {
                "creationTime": "1",
                "query": {"totalBytesBilled": "0", "totalBytesProcessed": "0"},
            },
        }

    def results(method, path, body):
        job_id = path.rsplit("/", 1)[1]
        schema, rows = jobs[job_id]
        return 200, {
            "kind": "bigquery#getQueryResultsResponse",
            "jobComplete": True,
            "jobReference": {"projectId": "p", "jobId": job_id, "location": "US"},
            "schema": {"fields": schema},
            "totalRows": str(len(rows)),
            "rows": [{"f": [{"v": v} for v in row]} for row in rows],
        }

    server.on("GET", "/projects/p/datasets/", table)
    server.on("POST", "/projects/p/jobs", insert)
    server.on("GET", "/projects/p/queries/", results)
