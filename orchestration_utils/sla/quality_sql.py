"""A quality SLA's query, in the warehouse's own dialect: the seed writes BigQuery SQL (backticks,
`COUNTIF`), which sqlglot transpiles for DuckDB. Three-part names stay three-part: on DuckDB,
`project.dataset.table` is `catalog.schema.table`, the file's stem being the catalog, as for every
table id the warehouse reads.

Every query, whatever its dialect, is parsed and must be one read-only SELECT: the warehouse
receives the statement sqlglot checked (regenerated from its tree), never the text as written,
so the check and the warehouse cannot read two different things."""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

# Statements, even nested (a CTE's INSERT ... RETURNING, SELECT ... INTO), that write, reach past
# the warehouse or change the session. `Command` is sqlglot's fallback for syntax it does not model
# (LOAD, CALL, EXPORT ...): unknown is refused too. Names, so sqlglot loads only when a query runs.
_SIDE_EFFECTS = (
    "DDL",
    "DML",
    "Alter",
    "Analyze",
    "Attach",
    "Cache",
    "Command",
    "Comment",
    "Commit",
    "Copy",
    "Describe",
    "Detach",
    "Drop",
    "Export",
    "Grant",
    "Insert",
    "Install",
    "Into",
    "Kill",
    "LoadData",
    "Merge",
    "Pragma",
    "Refresh",
    "Revoke",
    "Rollback",
    "Set",
    "Summarize",
    "Transaction",
    "TruncateTable",
    "Uncache",
    "Use",
)


class QuerySqlError(ValueError):
    """The query cannot be made into one statement of the warehouse's dialect: that SLA's ERROR."""


def warehouse_dialect(warehouse_url: str) -> str:
    return "duckdb" if warehouse_url.startswith("duckdb:") else "bigquery"


@cache
def _side_effects() -> tuple[type[exp.Expr], ...]:
    from sqlglot import exp

    return tuple(getattr(exp, name) for name in _SIDE_EFFECTS)


def _kind(statement: exp.Expr) -> str:
    """How a user would name the statement: `COPY`, `INSTALL`, `LOAD` (a Command's keyword)."""
    from sqlglot import exp

    if isinstance(statement, exp.Command):
        return str(statement.this).split()[0].upper() if statement.this else "unknown"
    if isinstance(statement, exp.Into):
        return "SELECT ... INTO"
    return statement.key.upper()


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'AEIOU' else 'a'} {kind}"


def for_warehouse(query: str, dialect: str | None, warehouse_url: str) -> str:
    """The query as the warehouse runs it. `dialect` None: written in the warehouse's dialect.
    Raises QuerySqlError unless it is exactly one SELECT (a set operation or WITH ... SELECT)
    with no statement inside it that writes or has side effects."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ErrorLevel, SqlglotError

    target = warehouse_dialect(warehouse_url)
    source = dialect or target
    sqlglot_logger = logging.getLogger("sqlglot")
    level = sqlglot_logger.level
    sqlglot_logger.setLevel(logging.ERROR)  # "falling back to parsing as a Command": refused below
    try:
        statements = [s for s in sqlglot.parse(query, read=source) if s is not None]
        if len(statements) != 1:
            kinds = "; ".join(_kind(s) for s in statements) or "nothing"
            raise QuerySqlError(
                f"the quality query must be one SELECT statement, got {len(statements)} "
                f"statements ({kinds})"
            )
        statement = statements[0]
        if not isinstance(statement, exp.Query):
            raise QuerySqlError(
                f"the quality query must be one SELECT statement, got {_a(_kind(statement))} "
                "statement"
            )
        nested = next((n for n in statement.walk() if isinstance(n, _side_effects())), None)
        if nested is not None:
            raise QuerySqlError(
                f"the quality query must only read, but contains {_a(_kind(nested))} statement"
            )
        return statement.sql(dialect=target, unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        if source == target:
            raise QuerySqlError(f"cannot parse the {source} query: {reason}") from None
        raise QuerySqlError(f"cannot transpile the {source} query to {target}: {reason}") from None
    except RecursionError:
        raise QuerySqlError(f"cannot parse the {source} query: nested too deeply") from None
    finally:
        sqlglot_logger.setLevel(level)
