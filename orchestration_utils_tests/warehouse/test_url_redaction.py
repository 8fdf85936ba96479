"""A user and password or a token in a warehouse URL is a secret: it never reaches a report, a
log line or an error message (kind: secrets in output). The endpoint keeps them for the client."""

import json

import pytest

from orchestration_utils.cli.pipeline_health_monitor import main
from orchestration_utils.errors import ProjectError, RunHistoryError, WarehouseError, redact_url
from orchestration_utils.warehouse.url import parse_warehouse_url

SECRET = "s3cret"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (f"http://alice:{SECRET}@127.0.0.1:9050", "http://***@127.0.0.1:9050"),
        (f"https://h/x?access_token={SECRET}&page=2", "https://h/x?access_token=***&page=2"),
        (
            f"bigquery://p?location=EU&endpoint=http://bob:{SECRET}@h:1",
            "bigquery://p?location=EU&endpoint=http://***@h:1",
        ),
        ("http://127.0.0.1:9050", "http://127.0.0.1:9050"),
    ],
)
def test_redact_url_hides_credentials_and_keeps_the_rest(raw, shown):
    assert redact_url(raw) == shown


def test_a_parsed_url_keeps_the_endpoint_for_the_client_but_prints_it_redacted():
    url = parse_warehouse_url(f"bigquery://p?endpoint=http://alice:{SECRET}@127.0.0.1:1")
    assert url.endpoint == f"http://alice:{SECRET}@127.0.0.1:1"
    assert SECRET not in str(url)


@pytest.mark.parametrize(
    "raw",
    [
        f"bigquery://alice:{SECRET}@my-project",
        f"bigquery://p?location=EU&password={SECRET}",
        f"postgres://alice:{SECRET}@db/x",
    ],
)
def test_an_error_about_a_url_does_not_repeat_its_secret(raw):
    with pytest.raises(ValueError) as raised:
        parse_warehouse_url(raw)
    assert SECRET not in str(raised.value)


def test_the_health_report_and_log_never_carry_the_endpoint_password(tmp_path, capsys):
    config = tmp_path / "health.json"
    config.write_text(
        json.dumps({"tables": [{"table_id": "p.ds.t", "row_count": {"min_rows": 1}}]})
    )
    warehouse = f"bigquery://p?location=US&endpoint=http://alice:{SECRET}@127.0.0.1:1"
    assert main(["--config", str(config), "--warehouse", warehouse]) == 1  # the check ERRORs
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["warehouse"] == "bigquery://p?location=US&endpoint=http://***@127.0.0.1:1"
    assert report["checks"][0]["status"] == "ERROR"
    assert SECRET not in out + err


@pytest.mark.parametrize(
    "error",
    [
        WarehouseError(
            f"InvalidURL: Failed to parse: http://alice:{SECRET}@127.0.0.1:9/bigquery/v2"
        ),
        WarehouseError(f"HTTP 400: GET https://h/x?access_token={SECRET}, retry"),
        ProjectError("ORCHESTRATION_UTILS_ARTIFACTS_URL", f"'s3://alice:{SECRET}@bucket/x': nope"),
        RunHistoryError(f"GET http://admin:{SECRET}@airflow:8080/api/v2/dags: 500"),
    ],
    ids=["warehouse", "token", "artifacts", "airflow"],
)
def test_no_error_a_user_sees_carries_a_url_secret(error):
    """A client library's error quotes the request URL; whatever raised it, the line is redacted."""
    assert SECRET not in str(error) and "***" in str(error)


def test_an_endpoint_with_a_malformed_port_is_refused_at_start_redacted(tmp_path, capsys):
    config = tmp_path / "health.json"
    config.write_text(
        json.dumps({"tables": [{"table_id": "p.ds.t", "row_count": {"min_rows": 1}}]})
    )
    warehouse = f"bigquery://p?location=US&endpoint=http://alice:{SECRET}@127.0.0.1:99999"
    assert main(["--config", str(config), "--warehouse", warehouse]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "endpoint has a malformed port" in err and SECRET not in err
