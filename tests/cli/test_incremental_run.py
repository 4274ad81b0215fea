"""``datamill run`` twice: a source whose content did not change gets no new version and rebuilds nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.cli.test_cli import cli
from tests.cli.test_csv_run import last_run, sql_rows
from tests.sources.conftest import ITEMS, http_server  # noqa: F401 - the fixture

ORDERS = "order_id,country,amount\n1,DE,10.5\n2,FR,4.5\n3,DE,20.0\n"


def run(project: Path, env: dict | None = None) -> dict[str, tuple[str, int | None]]:
    """``datamill run``; each node's status and output version."""
    out = cli("run", cwd=project, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    return {name: (n["status"], n["output_version"]) for name, n in last_run(project)["nodes"].items()}


def later(path: Path, seconds: float = 10) -> None:
    """Move the file's modification time forward, as an editor's save or ``touch`` would."""
    stamp = time.time() + seconds
    os.utime(path, (stamp, stamp))


def test_touching_a_csv_rebuilds_nothing_and_changing_a_byte_rebuilds_its_dependants(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text(ORDERS)
    (tmp_path / "datamill.yaml").write_text(
        "name: shop\nsources:\n  orders: {type: csv, path: orders.csv}\n"
        "datasets:\n"
        "  revenue:\n    sql: select country, sum(amount) as revenue from orders group by country\n"
        "  top:\n    sql: select country from revenue order by revenue desc limit 1\n"
    )
    assert run(tmp_path) == {"orders": ("ok", 0), "revenue": ("ok", 0), "top": ("ok", 0)}

    later(data)  # touch: same bytes, new time
    assert run(tmp_path) == {"orders": ("up_to_date", 0), "revenue": ("up_to_date", 0), "top": ("up_to_date", 0)}

    data.write_text(ORDERS.replace("10.5", "10.6"))  # one byte, same size
    later(data, 20)
    assert run(tmp_path) == {"orders": ("ok", 1), "revenue": ("ok", 1), "top": ("ok", 1)}
    assert sql_rows(tmp_path, "select revenue from revenue where country = 'DE'") == ["30.6"]
    history = cli("tables", "orders", cwd=tmp_path)
    assert history.returncode == 0 and history.stdout.count("overwrite") == 2  # versions 0 and 1, no more


@pytest.mark.parametrize("etag", [True, False], ids=["etag", "no-etag"])
def test_an_http_source_with_the_same_answer_gets_no_new_version(etag: bool, http_server, tmp_path: Path) -> None:  # noqa: F811
    base, server = http_server
    server.etag = etag
    server.payload = ITEMS[:3]
    (tmp_path / "datamill.yaml").write_text(
        f"name: api\nsources:\n  api: {{type: http, url: '{base}/data'}}\n"
        "datasets:\n  names:\n    sql: select string_agg(name, ',' order by id) as names from api\n"
    )
    assert run(tmp_path) == {"api": ("ok", 0), "names": ("ok", 0)}

    assert run(tmp_path) == {"api": ("unchanged", 0), "names": ("up_to_date", 0)}
    api = last_run(tmp_path)["nodes"]["api"]
    if etag:  # answered 304: no body read at all
        assert server.not_modified == 1 and api["rows_in"] is None
    else:  # read in full, then found equal to what is stored
        assert server.not_modified == 0 and (api["rows_in"], api["rows_out"]) == (3, 3)
    assert api["warnings"] == []

    server.payload = [*ITEMS[:3], {"id": 99, "name": "new"}]
    assert run(tmp_path) == {"api": ("ok", 1), "names": ("ok", 1)}
    assert sql_rows(tmp_path, "select names from names") == ['"n1,n2,n3,new"']

    assert run(tmp_path) == {"api": ("unchanged", 1), "names": ("up_to_date", 1)}
    assert cli("run", "--full-refresh", cwd=tmp_path).returncode == 0
    assert last_run(tmp_path)["nodes"]["api"]["output_version"] == 2  # --full-refresh writes anyway


@pytest.mark.postgres
def test_a_sql_source_with_the_same_rows_gets_no_new_version(postgres_url: str, tmp_path: Path) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("drop table if exists incr_accounts")
        conn.execute("create table incr_accounts as select g as id, 'a' || g as name from generate_series(1, 50) g")
    (tmp_path / "datamill.yaml").write_text(
        "name: crm\nsources:\n  accounts: {type: sql, url: '${CRM_URL}', query: 'select * from incr_accounts'}\n"
        "datasets:\n  n:\n    sql: select count(*) as n from accounts\n"
    )
    env = {"CRM_URL": postgres_url}
    assert run(tmp_path, env) == {"accounts": ("ok", 0), "n": ("ok", 0)}
    assert run(tmp_path, env) == {"accounts": ("unchanged", 0), "n": ("up_to_date", 0)}
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("update incr_accounts set name = 'changed' where id = 7")
    assert run(tmp_path, env) == {"accounts": ("ok", 1), "n": ("ok", 1)}
