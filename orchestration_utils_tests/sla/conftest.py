import duckdb
import pytest


@pytest.fixture
def warehouse(tmp_path):
    """shop.duckdb: orders (newest row 2026-05-01 10:00, one negative amount of two) and customers."""
    path = tmp_path / "shop.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.orders AS SELECT * FROM (VALUES (1, 10.0, TIMESTAMP '2026-05-01 10:00:00'), "
        "(2, -5.0, TIMESTAMP '2026-05-01 09:00:00')) t(id, amount, ts)"
    )
    con.execute(
        "CREATE TABLE marts.customers AS SELECT 1 AS id, TIMESTAMP '2026-05-01 10:00:00' AS ts"
    )
    con.close()
    return path
