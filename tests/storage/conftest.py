"""Fixtures for the storage tests: one ``store`` per backend, each on a fresh place."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from datamill.storage import STORAGES, Storage

BACKENDS = [
    "lakehouse",
    pytest.param("postgres", marks=pytest.mark.postgres),
    "duckdb",
    pytest.param("cassandra", marks=pytest.mark.cassandra),
]

# Checks a backend's model cannot meet, with the reason (tests/storage/test_conformance.py skips them)
CANNOT = {
    "cassandra": {
        "round_trip_keeps_values_and_types": "CQL timestamps keep milliseconds and the check's have microseconds; "
        "Cassandra refuses them rather than truncate (test_cassandra.py round-trips every type at ms precision)",
    },
}


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Storage:
    """A storage of ``kind`` that no other test shares."""
    cls = STORAGES.load(kind)
    if kind == "lakehouse":
        return cls(cls.Options(path="warehouse"), project_dir=tmp_path)
    if kind == "duckdb":
        return cls(cls.Options(path="w.duckdb"), project_dir=tmp_path)
    if kind == "cassandra":  # one keyspace per test; tables written without keys get a generated key
        url = request.getfixturevalue("cassandra_url")
        return cls(cls.Options(url=f"{url}/t_{uuid.uuid4().hex[:12]}", row_id=True), project_dir=tmp_path)
    url = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"  # one schema per test: tests never see each other's tables
    return cls(cls.Options(url=url, schema=schema), project_dir=tmp_path)


def _drop_schema(store: Storage) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(store.options.url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(store.options.db_schema)))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """Every storage backend in turn (the conformance suite runs on each)."""
    s = make_store(request.param, tmp_path, request)
    yield s
    s.close()
    if request.param == "postgres":
        _drop_schema(s)
    if request.param == "cassandra":
        with s:  # reconnects after the check closed it
            if s.options.keyspace in s._keyspaces():
                s._run(f'DROP KEYSPACE "{s.options.keyspace}"')
