"""Warehouse URLs: `duckdb:///abs/path/file.duckdb` or `bigquery://PROJECT?location=US[&endpoint=URL]`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from orchestration_utils.errors import redact_url
from orchestration_utils.warehouse.base import PROJECT_PATTERN

_LOCATION = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_PROJECT = re.compile(PROJECT_PATTERN)


@dataclass(frozen=True)
class WarehouseUrl:
    kind: str  # duckdb | bigquery
    path: Path | None = None
    project: str | None = None
    location: str = "US"
    endpoint: str | None = None  # an emulator, reached with anonymous credentials

    def __str__(self) -> str:  # never carries a secret: credentials come from the environment
        if self.kind == "duckdb":
            return f"duckdb://{self.path}"
        tail = f"&endpoint={redact_url(self.endpoint)}" if self.endpoint else ""
        return f"bigquery://{self.project}?location={self.location}{tail}"


def parse_warehouse_url(raw: str) -> WarehouseUrl:
    """Raises ValueError with the reason (the URL redacted); callers add where it came from."""
    url = redact_url(raw)  # for the messages
    parts = urlsplit(raw)
    if parts.scheme == "duckdb":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"{url!r}: a DuckDB URL is duckdb:///absolute/path/file.duckdb")
        return WarehouseUrl("duckdb", path=Path(parts.path))
    if parts.scheme == "bigquery":
        if not _PROJECT.fullmatch(parts.netloc):
            raise ValueError(f"{url!r}: expected bigquery://PROJECT?location=US")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = set(query) - {"location", "endpoint"}
        if unknown:
            raise ValueError(f"{url!r}: unknown parameter {min(unknown)!r} (location, endpoint)")
        location = query.get("location", "US")
        if not _LOCATION.fullmatch(location):
            raise ValueError(f"{url!r}: malformed location {location!r}")
        endpoint = query.get("endpoint") or None
        if endpoint:
            server = urlsplit(endpoint)
            if server.scheme not in ("http", "https") or not server.hostname:
                raise ValueError(f"{url!r}: endpoint must be an http(s) URL")
            try:
                server.port  # noqa: B018 -- urllib checks the port only when it is read
            except ValueError:
                raise ValueError(f"{url!r}: endpoint has a malformed port") from None
        return WarehouseUrl("bigquery", project=parts.netloc, location=location, endpoint=endpoint)
    raise ValueError(
        f"{url!r}: unknown warehouse; use duckdb:///path/file.duckdb or bigquery://PROJECT"
    )
