"""Run records and node state: many processes at once, each keeping only what it ran."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

from datamill.pipeline.records import RunStore

WRITERS, NODES, ROUNDS = 4, 3, 40


def _update_nodes(root: str, writer: int) -> None:
    """As a run, a stream or a monitor does: read every node's state, replace its own nodes', many times."""
    store = RunStore(Path(root))
    for round_ in range(ROUNDS):
        seen = store.state()
        assert all(isinstance(entry, dict) for entry in seen.values())  # never half a record
        for node in range(NODES):
            store.save_node_state(f"w{writer}_n{node}", {"round": round_, "writer": writer, "version": round_})
        store.save_node_state("shared", {"round": round_, "writer": writer, "version": round_})


def test_processes_updating_different_nodes_at_once_keep_every_last_record(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_update_nodes, args=(str(tmp_path), w)) for w in range(WRITERS)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=240)
        assert p.exitcode == 0
    state = RunStore(tmp_path).state()
    expected = {f"w{w}_n{n}": {"round": ROUNDS - 1, "writer": w, "version": ROUNDS - 1}
                for w in range(WRITERS) for n in range(NODES)}
    assert {k: v for k, v in state.items() if k != "shared"} == expected
    assert state["shared"]["round"] == ROUNDS - 1 and state["shared"]["writer"] in range(WRITERS)
    assert not list((tmp_path / ".datamill" / "state").glob(".tmp-*"))  # nothing left half-written


def test_an_old_state_json_counts_for_nodes_without_their_own_record(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.root.mkdir()
    store.state_file.write_text(json.dumps({"orders": {"version": 3}, "revenue": {"version": 1}}))
    store.save_node_state("revenue", {"version": 2})
    assert store.state() == {"orders": {"version": 3}, "revenue": {"version": 2}}
    assert store.node_state("orders") == {"version": 3} and store.node_state("revenue") == {"version": 2}
    assert store.node_state("nobody") is None


def test_any_node_name_gets_its_own_file(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    names = ["plain", "a/b", ".hidden", "..", "ünï code", "x%2Fy"]
    for i, name in enumerate(names):
        store.save_node_state(name, {"version": i})
    assert store.state() == {name: {"version": i} for i, name in enumerate(names)}
    assert all(p.parent == store.state_dir for p in store.state_dir.iterdir())
