import os

import pytest

from orchestration_utils_tests.health.bigquery_servers import Emulator, RecordedBigQuery


@pytest.fixture(scope="session")
def bq_emulator(tmp_path_factory):
    os.environ["NO_GCE_CHECK"] = "True"  # the client must never probe a metadata server
    emulator = Emulator(tmp_path_factory.mktemp("bqemulator"))
    yield emulator
    emulator.stop()


@pytest.fixture
def recorded_bigquery():
    os.environ["NO_GCE_CHECK"] = "True"
    server = RecordedBigQuery()
    yield server
    server.close()
