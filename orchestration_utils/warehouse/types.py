"""Column types in one vocabulary (BigQuery's standard names), so that DuckDB columns, BigQuery
fields and dbt's declared `data_type`s compare equal when they mean the same thing."""

from __future__ import annotations

import re

from orchestration_utils.warehouse.base import Field

_CANONICAL = {
    "INT64": "INT64",
    "INT": "INT64",
    "INTEGER": "INT64",
    "BIGINT": "INT64",
    "SMALLINT": "INT64",
    "TINYINT": "INT64",
    "HUGEINT": "INT64",
    "UBIGINT": "INT64",
    "UINTEGER": "INT64",
    "USMALLINT": "INT64",
    "UTINYINT": "INT64",
    "UHUGEINT": "INT64",
    "BYTEINT": "INT64",
    "LONG": "INT64",
    "FLOAT64": "FLOAT64",
    "FLOAT": "FLOAT64",
    "DOUBLE": "FLOAT64",
    "REAL": "FLOAT64",
    "FLOAT4": "FLOAT64",
    "FLOAT8": "FLOAT64",
    "NUMERIC": "NUMERIC",
    "DECIMAL": "NUMERIC",
    "BIGNUMERIC": "BIGNUMERIC",
    "BIGDECIMAL": "BIGNUMERIC",
    "STRING": "STRING",
    "VARCHAR": "STRING",
    "TEXT": "STRING",
    "CHAR": "STRING",
    "BPCHAR": "STRING",
    "UUID": "STRING",
    "BOOL": "BOOL",
    "BOOLEAN": "BOOL",
    "BYTES": "BYTES",
    "BLOB": "BYTES",
    "BYTEA": "BYTES",
    "DATE": "DATE",
    "TIME": "TIME",
    "DATETIME": "DATETIME",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMPTZ": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "TIMESTAMP_S": "TIMESTAMP",
    "TIMESTAMP_MS": "TIMESTAMP",
    "TIMESTAMP_NS": "TIMESTAMP",
    "RECORD": "RECORD",
    "STRUCT": "RECORD",
    "JSON": "JSON",
    "GEOGRAPHY": "GEOGRAPHY",
    "INTERVAL": "INTERVAL",
}


def canonical_type(declared: str) -> str:
    """`decimal(38,2)` → NUMERIC, `varchar` → STRING, `INT64` → INT64; unknown types upper-cased.

    Precision and length are dropped: they differ between a dbt declaration and what the
    warehouse reports without the data changing shape."""
    base = re.sub(r"\s*\(.*\)\s*$", "", declared.strip()).upper()
    return _CANONICAL.get(base, base)


def parse_duckdb_type(name: str, data_type: str, nullable: bool = True) -> Field:
    """A DuckDB column (`STRUCT(a INTEGER, b VARCHAR[])`, `INTEGER[]`) as a BigQuery-style field."""
    data_type = data_type.strip()
    if data_type.endswith("[]"):
        inner = parse_duckdb_type(name, data_type[:-2])
        return Field(name, inner.type, "REPEATED", inner.fields)
    mode = "NULLABLE" if nullable else "REQUIRED"
    if data_type.upper().startswith("STRUCT(") and data_type.endswith(")"):
        members = [_split_member(m) for m in _split_top_level(data_type[7:-1])]
        return Field(name, "RECORD", mode, tuple(parse_duckdb_type(n, t) for n, t in members))
    return Field(name, canonical_type(data_type), mode)


def _split_top_level(body: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return [p.strip() for p in parts if p.strip()]


def _split_member(member: str) -> tuple[str, str]:
    if member.startswith('"'):
        end = member.index('"', 1)
        return member[1:end], member[end + 1 :].strip()
    name, _, data_type = member.partition(" ")
    return name, data_type.strip()


def bigquery_field(api: dict) -> Field:
    """A `schema.fields[]` entry of the tables.get resource."""
    return Field(
        api["name"],
        canonical_type(api.get("type", "STRING")),
        api.get("mode") or "NULLABLE",
        tuple(bigquery_field(f) for f in api.get("fields", ())),
    )
