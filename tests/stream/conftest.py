"""Stream test helpers: a project on a topic, ``datamill stream`` as a subprocess, what the table holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kafka_broker import FAST_GROUP, KafkaBroker

DATAMILL = [sys.executable, "-m", "datamill"]


def unique(prefix: str) -> str:
    """A topic or group name no other test uses (the session's broker is shared)."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def write_project(folder: Path, broker: KafkaBroker, topic: str, *, source: dict[str, Any] | None = None,
                  dataset: dict[str, Any] | None = None, storage: str | None = None, engine: str | None = None,
                  name: str = "events_clean") -> Path:
    """A project with kafka source ``events`` on ``topic`` and streaming dataset ``name`` on it."""
    folder.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "name": "streams",
        # a group of its own: tests share the session's broker, and a group's state outlives a test
        "sources": {"events": {"type": "kafka", "brokers": broker.bootstrap, "topic": topic,
                               "group": unique("datamill.tests"), "consumer": dict(FAST_GROUP), **(source or {})}},
        "datasets": {name: {"from": "events", **(dataset or {})}},
    }
    if storage:
        config["storage"] = storage
    if engine:
        config["engine"] = engine
    (folder / "datamill.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", **extra}


def stream(project: Path, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess:
    """Run ``datamill stream ARGS`` in ``project`` to its end."""
    return subprocess.run([*DATAMILL, "stream", *args], cwd=project, env=env(**extra), capture_output=True,
                          text=True, timeout=timeout)


def start_stream(project: Path, *args: str, log_name: str = "stream.log", **extra: str) -> subprocess.Popen:
    """Start ``datamill stream ARGS`` in ``project``; output goes to ``log_name`` (appended)."""
    log = open(project / log_name, "a")  # noqa: SIM115 - the child keeps it
    try:
        return subprocess.Popen([*DATAMILL, "stream", *args], cwd=project, env=env(**extra), stdout=log,
                                stderr=subprocess.STDOUT, text=True)
    finally:
        log.close()


def table(project: Path, name: str) -> Any:
    """Table ``name`` of the project (an Arrow table), read in this process."""
    import datamill

    with datamill.Project(project) as p:
        return p.storage.read(name) if p.storage.exists(name) else None


def json_values(ids: range, poison_every: int | None = None) -> list[str]:
    out = []
    for i in ids:
        if poison_every and i % poison_every == poison_every - 1:
            out.append("{not json " + str(i))
        else:
            out.append(json.dumps({"id": i, "amount": i % 97, "name": f"n{i}"}))
    return out


@pytest.fixture()
def topic(kafka: KafkaBroker) -> str:
    """A fresh 4-partition topic on the session's broker."""
    name = unique("events")
    kafka.create_topic(name, 4)
    return name
