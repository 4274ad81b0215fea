"""Real services for the tests: a PostgreSQL server and a Spark session.

Each starts on a free port in a temporary folder and stops when the test
session ends. Nothing here is mocked.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql "
            "(fix: run scripts/test, which installs Debian's postgresql package)"
        )
    return Path(found[-1]).parent


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throw-away PostgreSQL server; yield its URL (database ``datamill``)."""
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="datamill-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    log = root / "server.log"

    def run(*cmd: str) -> None:
        subprocess.run([*as_user, *cmd], check=True, capture_output=True)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "datamill", "--auth=trust", "-E", "UTF8", "--no-sync")
    run(
        str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
        "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
        "start",
    )
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "datamill", "datamill")
        yield f"postgresql://datamill@127.0.0.1:{port}/datamill"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def spark_session():  # -> pyspark.sql.SparkSession
    """One local Spark session for the whole test run (it takes 15 s to start)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from datamill.engine.spark import get_or_create_session

    return get_or_create_session("local[2]")
