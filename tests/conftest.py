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
def spark():
    """The one Spark session shared by every Spark test."""
    session = services.spark_session()
    yield session
    session.stop()


@pytest.fixture()
def project_dir(tmp_path: Path) -> Path:
    """An empty folder to build a project in."""
    return tmp_path
