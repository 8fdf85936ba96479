"""The code location's resources: where artifacts go, the warehouse (DuckDB directly, BigQuery through dagster-gcp's
resource), and the SLAs' alert channels and Airflow credentials, whose secrets come only through
`dg.EnvVar`.

dagster-gcp and google-cloud-bigquery are imported only when a BigQuery warehouse is opened:
importing them costs seconds on every code location load, and the embedded default is DuckDB."""

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_slack import SlackResource

from orchestration_utils.alerts.notify import Channels
from orchestration_utils.alerts.pagerduty import EVENTS_URL, PagerDutySettings
from orchestration_utils.alerts.slack import API_URL, SlackSettings
from orchestration_utils.dagster_defs.artifact_store import ArtifactStore
from orchestration_utils.runs.airflow import AirflowCredentials
from orchestration_utils.warehouse.base import Warehouse
from orchestration_utils.warehouse.connect import connect
from orchestration_utils.warehouse.url import parse_warehouse_url


class ArtifactsResource(dg.ConfigurableResource):
    """Where runs write: generated code into `output_dir` (`ORCHESTRATION_UTILS_ARTIFACTS_DIR` or
    `<home>/artifacts`), reports into the store, which is `url` when set
    (`ORCHESTRATION_UTILS_ARTIFACTS_URL`: object storage, so files outlive the run pod; generated
    code is mirrored there too) and `output_dir` otherwise."""

    output_dir: str
    url: str | None = None

    def subdir(self, *parts: str) -> Path:
        return Path(self.output_dir).joinpath(*parts)

    def store(self) -> ArtifactStore:
        return ArtifactStore(self.url or self.output_dir)


@functools.cache
def artifacts_resource(output_dir: str, url: str | None = None) -> ArtifactsResource:
    """One resource object per place: the code location's parts each bind `artifacts`, and
    Dagster merges definitions only when a key's resource is the very same object."""
    return ArtifactsResource(output_dir=output_dir, url=url)


def publish(artifacts: ArtifactsResource, out: Path, name: str) -> dict[str, dg.MetadataValue]:
    """Generated files mirrored into the store when it is not the local directory."""
    if not artifacts.url:
        return {}
    names = artifacts.store().mirror(out, name)
    return {
        "stored_at": dg.MetadataValue.path(str(artifacts.store().target(name))),
        "files_stored": dg.MetadataValue.int(len(names)),
    }


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
            warehouse = connect(url, self.max_bytes_billed, self.timeout_seconds)
            try:
                yield warehouse
            finally:
                warehouse.close()
            return
        from orchestration_utils.dagster_defs.bigquery_resource import EndpointBigQueryResource

        resource = EndpointBigQueryResource(
            project=url.project,
            location=url.location,
            endpoint=url.endpoint,
            gcp_credentials=self.gcp_credentials,
        )
        with resource.get_client() as client:
            yield connect(url, self.max_bytes_billed, self.timeout_seconds, client=client)


# --- alerting and run history for the SLAs: secrets only through dg.EnvVar ----------------------


def env_secret(name: str, default: str = "") -> dg.EnvVar | str:
    """`dg.EnvVar(name)` when the variable is set where the code location loads (its run workers
    load it too, with the same environment), else `default`: an optional secret left unset means
    "not configured", where a bare EnvVar would fail every run. The value itself is read by
    Dagster when the resource is built, never by an op and never stored in the definitions."""
    return dg.EnvVar(name) if os.environ.get(name) else default


class SlackAlertsResource(SlackResource):
    """dagster-slack's `SlackResource` (`token`, a bot token; `get_client()` a slack_sdk WebClient)
    with an incoming webhook beside it; either may be empty (Slack not configured)."""

    token: str = ""
    webhook_url: str = ""
    api_url: str = API_URL

    def settings(self) -> SlackSettings:
        return SlackSettings(self.webhook_url, self.token, self.api_url)


class PagerDutyAlertsResource(dg.ConfigurableResource):
    """PagerDuty Events v2: `routing_key` (empty: not configured), `events_url` for EU accounts."""

    routing_key: str = ""
    events_url: str = EVENTS_URL

    def settings(self) -> PagerDutySettings:
        return PagerDutySettings(self.routing_key, self.events_url)


class AirflowApiResource(dg.ConfigurableResource):
    """Credentials of the Airflow 3 API that completion-time SLAs on Airflow DAGs read."""

    token: str = ""
    username: str = ""
    password: str = ""

    def credentials(self) -> AirflowCredentials:
        return AirflowCredentials(self.token, self.username, self.password)


def alert_channels(slack: SlackAlertsResource, pagerduty: PagerDutyAlertsResource) -> Channels:
    return Channels(slack.settings(), pagerduty.settings())


def sla_resources() -> dict[str, dg.ConfigurableResource]:
    """What the SLA run and sensors are handed: SLACK_WEBHOOK_URL, SLACK_BOT_TOKEN, SLACK_API_URL,
    PAGERDUTY_ROUTING_KEY, PAGERDUTY_EVENTS_URL, AIRFLOW_API_TOKEN / AIRFLOW_USERNAME / AIRFLOW_PASSWORD."""
    return {
        "slack": SlackAlertsResource(
            token=env_secret("SLACK_BOT_TOKEN"),
            webhook_url=env_secret("SLACK_WEBHOOK_URL"),
            api_url=env_secret("SLACK_API_URL", API_URL),
        ),
        "pagerduty": PagerDutyAlertsResource(
            routing_key=env_secret("PAGERDUTY_ROUTING_KEY"),
            events_url=env_secret("PAGERDUTY_EVENTS_URL", EVENTS_URL),
        ),
        "airflow_api": AirflowApiResource(
            token=env_secret("AIRFLOW_API_TOKEN"),
            username=env_secret("AIRFLOW_USERNAME"),
            password=env_secret("AIRFLOW_PASSWORD"),
        ),
    }
