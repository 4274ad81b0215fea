"""Run the DAG in dependency order, skipping what is up to date, recording everything.

A failing node stops only the nodes that depend on it; the others finish. The
run record is saved after every node, so even a killed run leaves a trace.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from datamill.config.schema import ProjectConfig
from datamill.exceptions import DatamillError
from datamill.pipeline.dag import Dag, select
from datamill.pipeline.nodes import DatasetNode, ModelNode, Node, PredictionsNode, SourceNode
from datamill.pipeline.progress import Progress
from datamill.pipeline.records import NodeRun, RunRecord, RunStore, new_run_id
from datamill.sources import FileDigests

__all__ = ["RunContext", "build_nodes", "build_dag", "run_pipeline"]


@dataclass
class RunContext:
    """What a node may use while it runs."""

    root: Path
    storage: Any
    engine: Any
    run_id: str
    progress: Progress = field(default_factory=Progress)
    full_refresh: bool = False  # rebuild: append and upsert datasets are overwritten too
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # each node's state after its last run
    file_digests: FileDigests | None = None  # digests of source files, kept between runs


def build_nodes(config: ProjectConfig) -> dict[str, Node]:
    from datamill.config.streaming import is_streaming_source, streaming_datasets
    from datamill.pipeline._streaming import StreamingNode

    nodes: dict[str, Node] = {}
    streams = streaming_datasets(config)
    for name, spec in config.sources.items():
        if is_streaming_source(spec):
            readers = ", ".join(d for d, s in streams.items() if s == name) or "a dataset with from: " + name
            nodes[name] = StreamingNode(name=name, hint=f"streaming: read by `datamill stream` ({readers})")
        else:
            nodes[name] = SourceNode(name=name, spec=spec)
    for name, spec in config.datasets.items():
        if name in streams:
            nodes[name] = StreamingNode(name=name, reads=[streams[name]], hint=f"streaming: run `datamill stream {name}`")
            continue
        nodes[name] = DatasetNode(name=name, spec=spec)
    for name, spec in config.models.items():
        nodes[name] = ModelNode(name=name, spec=spec, project=config.name)
    for name, spec in config.predictions.items():
        nodes[name] = PredictionsNode(name=name, spec=spec, trained_here=spec.model_name in config.models)
    return nodes


def build_dag(nodes: dict[str, Node], existing_tables: Iterable[str]) -> Dag:
    return Dag.build({name: node.deps() for name, node in nodes.items()}, existing_tables)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _run_node(node: Node, ctx: RunContext, record: NodeRun, state: dict[str, Any], full_refresh: bool) -> None:
    record.fingerprint = node.fingerprint(ctx)
    previous = state.get(node.name, {})
    if not full_refresh and node.is_current(ctx, previous, record.fingerprint):
        record.status = "up_to_date"
        record.output_version = previous["version"]
        return
    node.execute(ctx, record)
    if record.status == "pending":  # a node may say "unchanged" itself
        record.status = "ok"
    state[node.name] = {**node.remember(), "fingerprint": record.fingerprint, "version": record.output_version}


def run_pipeline(
    config: ProjectConfig,
    root: Path,
    storage: Any,
    engine: Any,
    *,
    selection: Iterable[str] = (),
    full_refresh: bool = False,
    progress: Progress | None = None,
    run_id: str | None = None,
) -> RunRecord:
    """Run the selected nodes (all when ``selection`` is empty) and return the run record.

    ``run_id``: the id to record the run under (default: a new one), e.g. to match a log's name.
    """
    nodes = build_nodes(config)
    dag = build_dag(nodes, storage.list())
    chosen = select(dag, selection) if selection else dag.order()
    store = RunStore(root)
    state = store.state()
    record = RunRecord(
        run_id=run_id or new_run_id(), project=config.name, selection=list(selection), full_refresh=full_refresh
    )
    ctx = RunContext(
        root=root, storage=storage, engine=engine, run_id=record.run_id,
        progress=progress or Progress(), full_refresh=full_refresh, state=state,
        file_digests=FileDigests(store.root / "file-digests.json"),
    )
    for name in chosen:
        record.nodes[name] = NodeRun(name=name, kind=nodes[name].kind)
    store.save(record)
    try:
        for name in chosen:
            # another process (a stream, a monitor, another run) may have run it since we started
            latest = store.node_state(name)
            if latest is None:
                state.pop(name, None)
            else:
                state[name] = latest
            _step(nodes[name], dag, ctx, record, state, full_refresh)
            store.save(record)
            if state.get(name) is not latest:  # it ran: its state is new
                store.save_node_state(name, state[name])
    except KeyboardInterrupt:
        record.status = "interrupted"
        for node_run in record.nodes.values():
            if node_run.status == "pending":
                node_run.status = "interrupted"
        raise
    else:
        record.status = "failed" if record.failed else "ok"
    finally:
        record.ended = _now()
        store.save(record)
    return record


def _step(node: Node, dag: Dag, ctx: RunContext, record: RunRecord, state: dict[str, Any], full_refresh: bool) -> None:
    node_run = record.nodes[node.name]
    broken = [d for d in dag.deps[node.name] if d in record.nodes and record.nodes[d].status in ("failed", "blocked")]
    if broken:
        node_run.status = "blocked"
        node_run.error = f"not run: upstream {', '.join(broken)} failed"
        ctx.progress.finish(node.name, "blocked", node_run.error)
        return
    node_run.started = _now()
    start = time.perf_counter()
    jobs = None
    try:
        with ctx.engine.job_counter(node.name) as jobs:
            _run_node(node, ctx, node_run, state, full_refresh)
    except DatamillError as exc:
        node_run.status = "failed"
        node_run.error = str(exc)
    except KeyboardInterrupt:
        node_run.status = "interrupted"
        node_run.error = "interrupted: the table keeps its previous version"
        raise
    except Exception as exc:  # a bug, or an error a backend failed to translate
        node_run.status = "failed"
        node_run.error = (
            f"internal error {type(exc).__name__}: {exc} (a bug in datamill or a backend; "
            "`datamill --debug runs RUN_ID` shows the traceback)"
        )
        node_run.traceback = traceback.format_exc()
    finally:
        node_run.engine_jobs = jobs.jobs if jobs is not None else None  # counted when the block closed
        node_run.ended = _now()
        node_run.seconds = round(time.perf_counter() - start, 3)
    rows = f"{node_run.rows_out:,} rows" if node_run.rows_out is not None else ""
    detail = node_run.error or node_run.summary or rows
    ctx.progress.finish(node.name, node_run.status, detail)
