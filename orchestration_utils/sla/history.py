"""The CLI's state directory: every evaluation and the alert state, in SQLite.

Each write is its own transaction (WAL, synchronous=FULL), so a killed process loses nothing
it recorded; history older than the longest window is pruned, so the file stays flat. Alerting
(read the incidents, decide, send, save) happens under an exclusive lock on `sla-alerts.lock`,
so two processes on one state directory never both send the same page; the kernel releases
the lock when its holder dies, even by kill -9."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from orchestration_utils.sla.budget import Sample
from orchestration_utils.sla.evaluate import SlaResult, recorded_ok

_SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
    sla TEXT NOT NULL, at REAL NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL, result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS evaluations_sla_at ON evaluations (sla, at);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class AlertStateBusy(Exception):
    pass


class StateStore:
    def __init__(self, state_dir: Path):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / "sla-state.sqlite"
        self.lock_path = state_dir / "sla-alerts.lock"
        # Delivery threads save the outbox; `deliver` serializes those writes.
        self._db = sqlite3.connect(
            self.path, isolation_level=None, timeout=30, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def record(self, results: Sequence[SlaResult], at: datetime, retention: timedelta) -> None:
        rows = [
            (r.name, at.timestamp(), str(r.status), r.message, orjson.dumps(r.to_json()).decode())
            for r in results
        ]
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT INTO evaluations VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute(
                "DELETE FROM evaluations WHERE at < ?", ((at - retention).timestamp(),)
            )

    def samples(self, sla_name: str, since: datetime) -> list[Sample]:
        rows = self._db.execute(
            "SELECT at, status FROM evaluations WHERE sla = ? AND at >= ? ORDER BY at",
            (sla_name, since.timestamp()),
        )
        return [Sample(datetime.fromtimestamp(at, UTC), recorded_ok(status)) for at, status in rows]

    def load(self, key: str) -> object | None:
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def save(self, key: str, value: object) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO kv VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, orjson.dumps(value).decode()),
            )

    @contextmanager
    def alert_lock(self, timeout_seconds: float) -> Iterator[None]:
        """Raises `AlertStateBusy` when another process holds it for longer than `timeout_seconds`."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout_seconds
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise AlertStateBusy(
                            f"another sla-tracker holds {self.lock_path}"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the lock

    def close(self) -> None:
        self._db.close()
