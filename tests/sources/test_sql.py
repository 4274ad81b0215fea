"""SqlSource against the real PostgreSQL server of the test session."""

from __future__ import annotations

import pytest

from datamill.exceptions import SourceError
from datamill.sources.base import ReadContext
from datamill.sources.sql import SqlSource
from tests.services import free_port
from tests.sources.conftest import drain

pytestmark = pytest.mark.postgres


def source(url: str, query: str) -> SqlSource:
    return SqlSource("crm", SqlSource.Options(url=url, query=query))


def test_query_streams_batches(postgres_url: str) -> None:
    q = "select g as id, 'n' || g as name, g * 0.5 as half from generate_series(1, 200000) g"
    reader = source(postgres_url, q).read(ReadContext("crm"))
    assert reader.schema.names == ["id", "name", "half"]
    total, first = 0, None
    for batch in reader:
        first = first or batch.slice(0, 1).to_pylist()[0]
        total += batch.num_rows
    assert total == 200_000
    assert first["id"] == 1 and first["name"] == "n1"
    assert source(postgres_url, q).fingerprint() is None


def test_sql_error_names_query_and_message(postgres_url: str) -> None:
    with pytest.raises(SourceError) as err:
        drain(source(postgres_url, "select * from no_such_table\nwhere 1 = 1"), ReadContext("crm"))
    text = str(err.value)
    assert "'select * from no_such_table'" in text
    assert 'relation "no_such_table" does not exist' in text


def test_server_down_masks_password() -> None:
    url = f"postgresql://me:hunter2@127.0.0.1:{free_port()}/db"
    with pytest.raises(SourceError) as err:
        source(url, "select 1").read(ReadContext("crm"))
    text = str(err.value)
    assert text.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}: connection refused")
    assert "hunter2" not in text and "me:***@" in text
