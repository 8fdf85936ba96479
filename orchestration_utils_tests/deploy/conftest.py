"""A private PostgreSQL server for the deployment tests: Debian's `postgresql` package
(`make postgres`), a cluster in a temp dir, on 127.0.0.1 and a free port, gone after the session."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

PG_USER = "dagster"
PG_PASSWORD = "s3cret pass/word"  # spaces and a slash: the instance must quote it in the URL


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def connect(self, db_name: str):
        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=db_name
        )

    def create_database(self, db_name: str) -> str:
        with contextlib.closing(self.connect("postgres")) as conn:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{db_name}"')  # a fixed test name, not input
        return db_name

    def env(self, db_name: str) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": db_name,
        }


def postgres_bin_dir() -> Path | None:
    """The newest installed server's binaries (Debian keeps them off the PATH)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    return candidates[-1].parent if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user() -> list[str]:
    """PostgreSQL refuses to run as root: drop to the package's `postgres` user."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="session")
def postgres_server():
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        message = "no PostgreSQL server in /usr/lib/postgresql: run `make postgres`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # CI must run these tests, never skip them
        pytest.skip(message)
    # Not pytest's tmp_path: its parents are private to root, and the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="orchestration_utils_pg_"))
    data = root / "data"
    password_file = root / "password"
    password_file.write_text(PG_PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(password_file, "postgres", "postgres")
    run = _as_server_user()
    subprocess.run(
        [
            *run,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            PG_USER,
            f"--pwfile={password_file}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} -c fsync=off"
    )
    subprocess.run(
        [
            *run,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        server = PostgresServer(host="127.0.0.1", port=port, user=PG_USER, password=PG_PASSWORD)
        _wait_until_accepting(server)
        yield server
    finally:
        subprocess.run(
            [*run, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_accepting(server: PostgresServer) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            server.connect("postgres").close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
