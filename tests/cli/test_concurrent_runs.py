"""Two ``datamill run`` processes at once on one project: neither loses what the other recorded."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli.test_cli import DATAMILL, cli
from tests.cli.test_csv_run import last_run


class _Gate(ThreadingHTTPServer):
    daemon_threads = True
    arrived: threading.Event
    release: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Gate

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.arrived.set()  # the run is inside this node now
        self.server.release.wait(240)
        body = json.dumps([{"id": 1, "name": "a"}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def gate() -> Iterator[tuple[str, _Gate]]:
    """An HTTP source that answers only when the test says so."""
    server = _Gate(("127.0.0.1", 0), _Handler)
    server.arrived, server.release = threading.Event(), threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server
    server.release.set()
    server.shutdown()
    server.server_close()


def test_a_run_finishing_during_another_keeps_its_node_state(gate: tuple[str, _Gate], tmp_path: Path) -> None:
    """Run B starts, then run A runs ``orders`` to the end while B waits in ``api``; B ends last.

    A state saved whole by B (read when B started) would drop what A recorded, and
    ``orders`` would run again next time instead of being up to date.
    """
    base, server = gate
    (tmp_path / "orders.csv").write_text("id,amount\n1,10.5\n2,4.5\n")
    (tmp_path / "datamill.yaml").write_text(
        "name: both\nsources:\n  orders: {type: csv, path: orders.csv}\n"
        f"  api: {{type: http, url: '{base}/items', timeout: 300}}\n"
    )
    env = {**os.environ, "COLUMNS": "160"}
    slow = subprocess.Popen([*DATAMILL, "run", "--select", "api"], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert server.arrived.wait(240), "the run of api never asked the server"
        fast = cli("run", "--select", "orders", cwd=tmp_path)
        assert fast.returncode == 0, fast.stdout + fast.stderr
        assert last_run(tmp_path)["nodes"]["orders"]["status"] == "ok"
    finally:
        server.release.set()
        out, _ = slow.communicate(timeout=300)
    assert slow.returncode == 0, out
    again = cli("run", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    nodes = last_run(tmp_path)["nodes"]
    assert nodes["orders"]["status"] == "up_to_date", nodes["orders"]
    assert nodes["api"]["status"] in ("up_to_date", "unchanged"), nodes["api"]
