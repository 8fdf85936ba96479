"""dagster-gcp's BigQuery resource, able to reach an emulator."""

from collections.abc import Iterator
from contextlib import contextmanager

from dagster_gcp import BigQueryResource
from google.cloud import bigquery

from orchestration_utils.warehouse.bigquery import emulator_client


class EndpointBigQueryResource(BigQueryResource):
    """Plus an `endpoint` (an emulator) reached with anonymous credentials: the stock resource
    always asks google.auth for credentials, which an emulator has none of."""

    endpoint: str | None = None

    @contextmanager
    def get_client(self) -> Iterator[bigquery.Client]:
        if not self.endpoint:
            with super().get_client() as client:
                yield client
            return
        assert self.project and self.location  # WarehouseResource.open sets both from the URL
        yield emulator_client(self.project, self.location, self.endpoint)
