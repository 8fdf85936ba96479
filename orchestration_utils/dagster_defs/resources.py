"""The warehouse as a Dagster resource: DuckDB directly, BigQuery through dagster-gcp's resource.

dagster-gcp and google-cloud-bigquery are imported only when a BigQuery warehouse is opened:
importing them costs seconds on every code location load, and the embedded default is DuckDB."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from orchestration_utils.warehouse.base import Warehouse
from orchestration_utils.warehouse.url import parse_warehouse_url


class WarehouseResource(dg.ConfigurableResource):
    """`url`: duckdb:///path/file.duckdb or bigquery://PROJECT?location=US[&endpoint=...].
    `gcp_credentials`: a base64 service-account key, from the environment (`dg.EnvVar`), never config."""

    url: str
    max_bytes_billed: int = 10 * 1024**3
    timeout_seconds: float = 60.0
    gcp_credentials: str | None = None

    @contextmanager
    def open(self) -> Iterator[Warehouse]:
        url = parse_warehouse_url(self.url)
        if url.kind == "duckdb":
            from orchestration_utils.warehouse.duckdb import DuckDBWarehouse

            warehouse = DuckDBWarehouse(url.path, timeout_seconds=self.timeout_seconds)
            try:
                yield warehouse
            finally:
                warehouse.close()
            return
        from orchestration_utils.dagster_defs.bigquery_resource import EndpointBigQueryResource
        from orchestration_utils.warehouse.bigquery import BigQueryWarehouse

        resource = EndpointBigQueryResource(project=url.project, location=url.location, endpoint=url.endpoint,
                                            gcp_credentials=self.gcp_credentials)
        with resource.get_client() as client:
            yield BigQueryWarehouse(url.project, url.location, url.endpoint, client=client,
                                    max_bytes_billed=self.max_bytes_billed, timeout_seconds=self.timeout_seconds)
