"""A quality SLA's query, in the warehouse's own dialect: the seed writes BigQuery SQL (backticks,
`COUNTIF`), which sqlglot transpiles for DuckDB. Three-part names stay three-part: on DuckDB,
`project.dataset.table` is `catalog.schema.table`, the file's stem being the catalog, as for every
table id the warehouse reads."""

from __future__ import annotations


class QuerySqlError(ValueError):
    """The query cannot be made into one statement of the warehouse's dialect: that SLA's ERROR."""


def warehouse_dialect(warehouse_url: str) -> str:
    return "duckdb" if warehouse_url.startswith("duckdb:") else "bigquery"


def for_warehouse(query: str, dialect: str | None, warehouse_url: str) -> str:
    """`dialect` None: the query is sent as written."""
    target = warehouse_dialect(warehouse_url)
    if dialect is None or dialect == target:
        return query
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, SqlglotError

    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise QuerySqlError(
                f"the quality query must be one SELECT statement, got {len(statements)} statement(s)"
            )
        return statements[0].sql(dialect=target, unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise QuerySqlError(f"cannot transpile the {dialect} query to {target}: {reason}") from None
    except RecursionError:
        raise QuerySqlError(
            f"cannot transpile the {dialect} query to {target}: nested too deeply"
        ) from None
