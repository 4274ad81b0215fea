"""``datamill sql --serve``: a real server process, queried with psql and psycopg."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from datamill._ports import free_port

psycopg = pytest.importorskip("psycopg")
PSQL = shutil.which("psql") or "/usr/bin/psql"
PASSWORD = "open-sesame"


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout  # generous: a loaded 2-core box starts Python slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the server did not listen on {port} within {timeout} s")


@pytest.fixture()
def server(shop: Path) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "datamill", "sql", "--serve", "--port", str(port)],
        cwd=shop, env={**os.environ, "DATAMILL_SQL_PASSWORD": PASSWORD},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait_for_port(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=60)


def psql(port: int, sql: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PSQL, "-h", "127.0.0.1", "-p", str(port), "-U", "analyst", "-d", "shop", "-X", "-A", "-t", "-F", "|",
         "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "30", "PGGSSENCMODE": "disable"},
    )


def connect(port: int, password: str = PASSWORD):
    return psycopg.connect(host="127.0.0.1", port=port, user="analyst", password=password, dbname="shop",
                           connect_timeout=30)


@pytest.mark.skipif(not Path(PSQL).exists(), reason="needs psql")
def test_psql_reads_a_table(server: int) -> None:
    out = psql(server, "select id, customer, day from orders order by id")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["1|ann|2024-01-01", "2|bob|2024-02-29", "3||", "4|zoë 東京|1999-12-31"]


@pytest.mark.skipif(not Path(PSQL).exists(), reason="needs psql")
def test_psql_write_is_refused_with_a_clear_error(server: int) -> None:
    for sql in ("insert into orders (id) values (9)", "create table t as select 1", "copy orders to '/tmp/o.csv'"):
        out = psql(server, sql)
        assert out.returncode != 0
        assert "refused" in out.stderr and "read-only" in out.stderr, out.stderr
    assert psql(server, "select count(*) from orders").stdout.strip() == "4"


@pytest.mark.skipif(not Path(PSQL).exists(), reason="needs psql")
def test_psql_with_a_wrong_password_is_refused(server: int) -> None:
    out = psql(server, "select 1", password="wrong")
    assert out.returncode != 0
    assert "password authentication failed" in out.stderr


def test_psycopg_parameterised_query(server: int) -> None:
    import datetime as dt

    with connect(server) as conn:
        rows = conn.execute("select id, customer from orders where amount > %s and customer <> %s order by id",
                            (5, "ann")).fetchall()
        assert rows == [(4, "zoë 東京")]
        dated = conn.execute("select id from orders where day >= %s order by id", (dt.date(2024, 1, 1),)).fetchall()
        assert dated == [(1,), (2,)]
        evil = conn.execute("select count(*) from orders where customer = %s", ("x' or '1'='1",)).fetchone()
        assert evil == (0,)
        assert conn.execute("select count(*) from numbers").fetchone() == (100_000,)
        tables = conn.execute("select table_name from information_schema.tables order by 1").fetchall()
        assert tables == [("numbers",), ("orders",)]  # what BI tools list


def test_psycopg_sees_refusals_and_syntax_errors_by_sqlstate(server: int) -> None:
    with connect(server) as conn:
        conn.autocommit = True
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="refused"):
            conn.execute("drop table orders")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="reads only the project's tables"):
            conn.execute("select * from read_csv('/etc/passwd')")
        with pytest.raises(psycopg.errors.SyntaxError, match="line 2, column"):
            conn.execute("select id\nfrom orders where")
        assert conn.execute("select count(*) from orders where id > %s", (1,)).fetchone() == (3,)  # still usable


def test_a_cancel_request_stops_the_running_statement(server: int) -> None:
    import threading

    with connect(server) as conn:
        conn.autocommit = True
        done = threading.Event()

        def cancel_until_done() -> None:  # no guess at when the query starts: cancel until it has stopped
            while not done.wait(0.05):
                conn.cancel_safe()

        canceller = threading.Thread(target=cancel_until_done)
        canceller.start()
        try:
            with pytest.raises(psycopg.errors.QueryCanceled, match="cancelled"):
                conn.execute("select count(*) from range(1000000000000) a")
        finally:
            done.set()
            canceller.join()
        assert conn.execute("select count(*) from orders").fetchone() == (4,)  # the session goes on


def test_psycopg_with_a_wrong_password_is_refused(server: int) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(server, password="nope")


def test_serving_beyond_localhost_needs_a_secret(shop: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "datamill", "sql", "--serve", "--host", "0.0.0.0",
                          "--port", str(free_port())], cwd=shop, capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if not k.startswith("DATAMILL_SQL_")})
    assert out.returncode != 0
    assert "--password or --token" in out.stderr and "Traceback" not in out.stderr
