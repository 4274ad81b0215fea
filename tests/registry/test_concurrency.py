"""Several processes on one SQLite store at once: never "database is locked", no move lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from datamill.registry import ModelStore
from tests.registry.conftest import register

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from datamill.registry import ModelStore

    root, me, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    store = ModelStore.for_project(root)
    store.models()  # opened (MLflow imported) before the start, so all write at once
    while not go.exists():
        time.sleep(0.01)
    for i in range(5):
        folder = root / f"src-{me}-{i}"
        folder.mkdir()
        mv = store.register("shared", folder.as_uri())
        store.promote("shared", mv.version, "champion", by=me, reason=f"round {i}")
    print("ok")
""")

READER = textwrap.dedent("""
    import sqlite3, sys, time
    from pathlib import Path

    db, holding, done = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN")
    con.execute("SELECT count(*) FROM registered_models").fetchall()  # a read transaction, left open
    holding.touch()
    deadline = time.monotonic() + 90
    while not done.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    con.execute("COMMIT")
    print("released by the test" if done.exists() else "gave up waiting")
""")


def _fresh(tmp_path: Path) -> ModelStore:
    from datamill.ml import tracking

    tracking._fresh_store(*tracking.project_tracking(tmp_path))
    return ModelStore.for_project(tmp_path)


def test_four_processes_register_and_promote_at_once(tmp_path: Path) -> None:
    store = _fresh(tmp_path)
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"p{k}", str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(4)]
    time.sleep(0.5)
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0 and out.strip() == "ok", err[-2000:]
        assert "locked" not in err
    assert [v.version for v in store.versions("shared")] == list(range(20, 0, -1))
    history = store.history("shared", "champion")
    assert len(history) == 20  # every move kept: one tag per event, keys that never collide
    assert sorted((e.by, e.reason) for e in history) == sorted((f"p{k}", f"round {i}") for k in range(4) for i in range(5))


def test_a_long_read_never_blocks_a_promotion(tmp_path: Path) -> None:
    store = _fresh(tmp_path)
    register(store, "churn", 2, tmp_path)
    holding, done = tmp_path / "holding", tmp_path / "done"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(tmp_path / ".datamill" / "mlflow.db"), str(holding),
                               str(done)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not holding.exists():
            assert reader.poll() is None, reader.communicate()
            time.sleep(0.05)
        store.promote("churn", 2, "champion")  # a server polling, the UI reading: the writer goes on
        assert store.resolve("churn@champion").version == 2
    finally:
        done.touch()
        out, err = reader.communicate(timeout=120)
    assert out.strip() == "released by the test", err  # the promotion ended while the read was still open
