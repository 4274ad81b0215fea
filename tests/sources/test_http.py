"""HttpSource against a real HTTP server running in a thread."""

from __future__ import annotations

import pytest

from datamill.exceptions import ConfigError, SourceError
from datamill.sources.base import ReadContext
from datamill.sources.http import HttpSource
from tests.sources.conftest import ITEMS, drain


def source(**options) -> HttpSource:
    options.setdefault("backoff", 0.01)
    return HttpSource("api", HttpSource.Options(**options))


def test_top_level_list(http_server) -> None:
    base, _ = http_server
    t = drain(source(url=f"{base}/list"), ReadContext("api"))
    assert t.to_pylist() == ITEMS[:3]


def test_next_link_pagination(http_server) -> None:
    base, server = http_server
    reader = source(url=f"{base}/next", records="$.data", paginate={"next": "$.next"}).read(ReadContext("api"))
    batches = list(reader)
    assert [b.num_rows for b in batches] == [3, 3, 1]
    assert [r["id"] for b in batches for r in b.to_pylist()] == list(range(1, 8))
    assert server.hits["/next"] == 3


def test_page_number_pagination_stops_on_empty_page(http_server) -> None:
    base, server = http_server
    paginate = {"page_param": "page", "start": 1, "size_param": "per_page", "size": 3}
    t = drain(source(url=f"{base}/pages", records="$.data", paginate=paginate), ReadContext("api"))
    assert t.column("id").to_pylist() == list(range(1, 8))
    assert server.hits["/pages"] == 4  # 3 + 3 + 1, then the empty page


def test_cursor_pagination(http_server) -> None:
    base, _ = http_server
    paginate = {"cursor_param": "cursor", "cursor": "$.meta.next_cursor"}
    t = drain(source(url=f"{base}/cursor", records="$.items", paginate=paginate), ReadContext("api"))
    assert t.column("name").to_pylist() == [f"n{i}" for i in range(1, 8)]


def test_500_three_times_then_200_succeeds(http_server) -> None:
    base, server = http_server
    t = drain(source(url=f"{base}/flaky"), ReadContext("api"))
    assert t.to_pylist() == ITEMS[:2]
    assert server.hits["/flaky"] == 4


def test_429_honours_retry_after(http_server) -> None:
    base, server = http_server
    assert drain(source(url=f"{base}/limited"), ReadContext("api")).num_rows == 1
    assert server.hits["/limited"] == 2


def test_gives_up_after_retries(http_server) -> None:
    base, server = http_server
    with pytest.raises(SourceError, match=r"failed after 3 attempts: returned 503 Service Unavailable: 'maintenance'"):
        source(url=f"{base}/down", retries=2).read(ReadContext("api"))
    assert server.hits["/down"] == 3


def test_404_fails_at_once_with_body(http_server) -> None:
    base, server = http_server
    with pytest.raises(SourceError, match=r"GET .*/nope returned 404 Not Found: .*no such route.*check url"):
        source(url=f"{base}/nope").read(ReadContext("api"))
    assert server.hits["/nope"] == 1


def test_html_instead_of_json(http_server) -> None:
    base, _ = http_server
    with pytest.raises(SourceError) as err:
        source(url=f"{base}/html").read(ReadContext("api"))
    assert str(err.value) == f"GET {base}/html returned text/html, not JSON: '<html><body>Login</body></html>' (check url)"


def test_timeout_is_retried_then_reported(http_server) -> None:
    base, server = http_server
    with pytest.raises(SourceError, match="failed after 2 attempts: timed out after 0.2 s"):
        source(url=f"{base}/slow", timeout=0.2, retries=1).read(ReadContext("api"))


def test_connection_refused(http_server) -> None:
    with pytest.raises(SourceError, match="cannot connect"):
        source(url="http://127.0.0.1:1/x", retries=0).read(ReadContext("api"))


def test_schema_widens_across_pages_with_retry(http_server) -> None:
    base, _ = http_server
    paginate = {"page_param": "page"}
    src = source(url=f"{base}/drift", paginate=paginate)
    t = drain(src, ReadContext("api"))
    assert t.schema.names == ["id", "v", "tags"]
    assert t.to_pylist() == [
        {"id": 1, "v": "10", "tags": None},
        {"id": 2, "v": "ten", "tags": '{"a": [1, 2]}'},
    ]


def test_auth_env_sends_bearer_token_and_masks_secrets(http_server, monkeypatch) -> None:
    base, server = http_server
    monkeypatch.setenv("API_TOKEN", "s3cret")
    assert drain(source(url=f"{base}/secure", auth_env="API_TOKEN"), ReadContext("api")).num_rows == 1
    assert server.auth[-1] == "Bearer s3cret"
    monkeypatch.setenv("API_TOKEN", "wrong")
    with pytest.raises(SourceError, match=r"returned 401 .*check auth_env") as err:
        source(url=f"{base}/secure", auth_env="API_TOKEN", params={"api_key": "k1"}).read(ReadContext("api"))
    assert "k1" not in str(err.value) and "api_key=%2A%2A%2A" in str(err.value)


def test_missing_records_path(http_server) -> None:
    base, _ = http_server
    with pytest.raises(SourceError, match=r"records: \$.rows not found: no key 'rows' at \$ \(found: data, next\)"):
        source(url=f"{base}/next", records="$.rows").read(ReadContext("api"))


def test_object_body_without_records_hint(http_server) -> None:
    base, _ = http_server
    with pytest.raises(SourceError, match=r"the body is a JSON dict, not a list of records \(keys: data, next\)"):
        source(url=f"{base}/next").read(ReadContext("api"))


def test_max_pages_cap(http_server) -> None:
    base, _ = http_server
    with pytest.raises(SourceError, match=r"still more pages after max_pages \(2\)"):
        drain(source(url=f"{base}/next", records="$.data", paginate={"next": "$.next"}, max_pages=2), ReadContext("api"))


def test_a_later_page_without_the_next_key_is_the_last(http_server) -> None:
    base, _ = http_server
    t = drain(source(url=f"{base}/omits", records="$.data", paginate={"next": "$.next"}), ReadContext("api"))
    assert t.column("id").to_pylist() == list(range(1, 8))


def test_a_next_path_missing_on_the_first_page_is_a_config_error(http_server) -> None:
    base, server = http_server
    with pytest.raises(ConfigError, match=r"paginate: next: \$.next_page matches nothing on the first page: "
                                          r"no key 'next_page' at \$ \(found: data, next\)"):
        drain(source(url=f"{base}/next", records="$.data", paginate={"next": "$.next_page"}), ReadContext("api"))
    assert server.hits["/next"] == 1


def test_etags_are_remembered_and_a_304_means_unchanged(http_server) -> None:
    from datamill.sources.base import Unchanged

    base, server = http_server
    server.etag = True
    src = source(url=f"{base}/data", params={"api_key": "k1"})
    first = ReadContext("api")
    assert drain(src, first).num_rows == 3
    [page] = first.memo["pages"]
    assert page["etag"] and "k1" not in page["url"]  # the state file holds no secret
    again = ReadContext("api", remembered=first.memo)
    with pytest.raises(Unchanged):
        src.read(again)
    assert server.not_modified == 1 and again.memo == first.memo
    server.payload = ITEMS[:4]  # the ETag changes: read in full
    assert drain(src, ReadContext("api", remembered=first.memo)).num_rows == 4
