"""HTTP and JSON sources through ``datamill run``, on every storage, against a real local server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.cli.test_cli import cli
from tests.cli.test_csv_run import balanced, last_run, sql_rows
from tests.sources.conftest import http_server  # noqa: F401 - the fixture

STORAGES = ["lakehouse", pytest.param("postgres", marks=pytest.mark.postgres), "duckdb"]


def storage_line(kind: str, request: pytest.FixtureRequest) -> tuple[str, dict]:
    """The project's ``storage:`` line for ``kind``, and the environment it needs."""
    if kind == "lakehouse":
        return "storage: lakehouse:./warehouse", {}
    if kind == "duckdb":
        return "storage: duckdb:./w.duckdb", {}
    url = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    return f"storage: {{type: postgres, url: '${{PG_URL}}', schema: {schema}}}", {"PG_URL": url}


@pytest.mark.parametrize("kind", STORAGES)
def test_a_later_page_that_widens_a_field_is_read_again_on_every_storage(
    kind: str, http_server, tmp_path: Path, request: pytest.FixtureRequest  # noqa: F811
) -> None:
    base, server = http_server
    storage, env = storage_line(kind, request)
    # page 2 turns 'v' from a number into text and adds a nested field; page 3 is empty
    (tmp_path / "datamill.yaml").write_text(
        f"name: api\n{storage}\n"
        f"sources:\n  api: {{type: http, url: '{base}/drift', paginate: {{page_param: page}}}}\n"
        "datasets:\n  n:\n    sql: select count(*) as n, max(v) as v from api\n"
    )
    run = cli("run", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    node = last_run(tmp_path)["nodes"]["api"]
    assert node["status"] == "ok" and node["rows_out"] == 2 and balanced(node)
    assert "RetryRead" not in run.stdout
    assert sql_rows(tmp_path, "select id, v, tags from api order by id", env) == ['1,"10",', '2,"ten","{""a"": [1, 2]}"']
    assert server.hits["/drift"] >= 5  # read twice: the first read learned the wider schema


@pytest.mark.parametrize("kind", STORAGES)
def test_ndjson_with_a_malformed_line_deep_in_the_file_on_every_storage(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    storage, env = storage_line(kind, request)
    lines = [json.dumps({"id": i, "v": i}) for i in range(300_000)]
    lines[250_000] = '{"id": 250000, "v": '  # cut short
    lines[280_000] = json.dumps({"id": 280_000, "v": "text now", "extra": True})
    (tmp_path / "events.ndjson").write_text("\n".join(lines) + "\n")
    (tmp_path / "datamill.yaml").write_text(
        f"name: ev\n{storage}\nsources:\n  events: {{type: ndjson, path: events.ndjson, on_bad_rows: quarantine}}\n"
    )
    run = cli("run", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    node = last_run(tmp_path)["nodes"]["events"]
    assert (node["rows_in"], node["rows_out"], node["rows_quarantined"]) == (300_000, 299_999, 1)
    assert sql_rows(tmp_path, "select line from events__quarantine", env) == ["250001"]
    assert sql_rows(tmp_path, "select v, extra from events where id = 280000", env) == ['"text now",true']


def test_a_next_path_that_matches_nothing_on_the_first_page_is_a_config_error(http_server, tmp_path: Path) -> None:  # noqa: F811
    base, _ = http_server
    (tmp_path / "datamill.yaml").write_text(
        "name: api\nsources:\n"
        f"  api: {{type: http, url: '{base}/next', records: $.data, paginate: {{next: $.links.next}}}}\n"
        f"  cur: {{type: http, url: '{base}/cursor', records: $.items, "
        "paginate: {cursor_param: cursor, cursor: $.meta.cursor}}\n"
    )
    run = cli("run", cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    nodes = last_run(tmp_path)["nodes"]
    assert nodes["api"]["status"] == "failed"
    assert "paginate: next: $.links.next matches nothing on the first page" in nodes["api"]["error"]
    assert "no key 'links' at $ (found: data, next)" in nodes["api"]["error"]
    assert "paginate: cursor: $.meta.cursor matches nothing on the first page" in nodes["cur"]["error"]
    assert "no key 'cursor' at $.meta (found: next_cursor)" in nodes["cur"]["error"]
