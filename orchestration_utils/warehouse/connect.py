"""The one way to open a warehouse from its URL, for the CLIs and the code location's resource.

The warehouse modules are imported only for the kind opened: the BigQuery client costs seconds to
import, and the embedded default is DuckDB."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestration_utils.warehouse.base import Warehouse
from orchestration_utils.warehouse.url import WarehouseUrl

if TYPE_CHECKING:
    from google.cloud import bigquery


def connect(
    url: WarehouseUrl,
    max_bytes_billed: int,
    timeout_seconds: float,
    client: bigquery.Client | None = None,
) -> Warehouse:
    """`client`: a BigQuery client made elsewhere (dagster-gcp's resource, in the code location);
    without it the warehouse makes its own. The caller closes the warehouse."""
    if url.kind == "duckdb":
        from orchestration_utils.warehouse.duckdb import DuckDBWarehouse

        assert url.path is not None  # parse_warehouse_url gives every DuckDB URL a path
        return DuckDBWarehouse(url.path, timeout_seconds=timeout_seconds)
    from orchestration_utils.warehouse.bigquery import BigQueryWarehouse

    assert url.project is not None  # and every BigQuery URL a project
    return BigQueryWarehouse(
        url.project,
        url.location,
        url.endpoint,
        client=client,
        max_bytes_billed=max_bytes_billed,
        timeout_seconds=timeout_seconds,
    )
