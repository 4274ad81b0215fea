"""Batch scoring: a registered model over a stored table, on the project's engine, into storage.

Used by the ``predictions:`` node kind (:class:`~datamill.pipeline.nodes.PredictionsNode`)
and by ``datamill predict``. The model comes from the model store (MLflow's
registry) by reference, ``NAME``, ``NAME@ALIAS`` or ``NAME/VERSION``; the rows
stream through :class:`~datamill.ml.batch.BatchScorer` on the engine
(:meth:`~datamill.engine.Engine.map_batches`): in process on DuckDB, a batch at
a time, and on Spark's executors, so a table too big for one machine is
scored where it lies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datamill.exceptions import ConfigError
from datamill.ml.batch import BatchScorer
from datamill.registry import ModelStore, ModelVersion

__all__ = ["Scored", "describe", "load_scorer", "predict_recorded", "resolve_model", "score_table"]


def resolve_model(root: Path, ref: str, tracking_uri: str | None = None) -> tuple[ModelStore, ModelVersion]:
    """The model store and the version ``ref`` names (a ModelError when it names none)."""
    store = ModelStore.for_project(root, tracking_uri)
    return store, store.resolve(ref)


def load_scorer(store: ModelStore, mv: ModelVersion) -> BatchScorer:
    """A scorer for version ``mv``: its fitted model, and the input columns its signature names."""
    inputs = None
    signature = mv.signature
    if signature is not None and signature.inputs is not None and signature.inputs.has_input_names():
        inputs = {name: getattr(t, "name", str(t))
                  for name, t in zip(signature.inputs.input_names(), signature.inputs.input_types(), strict=True)}
    return BatchScorer(store.load(mv), name=mv.name, version=mv.version, inputs=inputs)


@dataclass
class Scored:
    """What scoring a table wrote."""

    model: ModelVersion
    table: str
    output: str
    input_version: int | None
    rows_in: int
    rows_out: int
    output_version: int | None


def score_table(engine: Any, storage: Any, scorer: BatchScorer, mv: ModelVersion, table: str, output: str, *,
                staging: Path, on_rows: Callable[[int], None] | None = None) -> Scored:
    """Score every row of ``table`` and write the result as ``output`` (a new version of it).

    Rows in = rows out: nothing is dropped, and a row the model cannot score
    fails the whole write (the output keeps its previous version).
    """
    from datamill.exceptions import PipelineError
    from datamill.pipeline._balance import check_written, keep_previous
    from datamill.pipeline.nodes import write_relation

    if table not in storage.list():
        from datamill._registry import did_you_mean

        tables = storage.list()
        raise ConfigError(f"no table '{table}' in storage to score{did_you_mean(table, tables)}; tables: "
                          f"{', '.join(tables) or 'none yet (run `datamill run`)'}")
    scan = storage.scan(table)
    rows_in = scan.count_rows()
    quoted = engine.dialect.ident("_dm_input")
    relation = engine.sql_generated(f"SELECT * FROM {quoted}", {"_dm_input": scan}, dialect=engine.dialect.name)
    scorer.check(relation.schema, table)
    scored = engine.map_batches(relation, scorer, scorer.output_schema(relation.schema))
    before = storage.version(output)
    result, sent = write_relation(storage, output, scored, mode="overwrite", keys=[], staging=staging,
                                  on_rows=on_rows)
    check_written(storage, f"predictions '{output}'", sent, result, before)
    if sent != rows_in:  # counted on the way out, never derived
        raise PipelineError(f"predictions '{output}': {rows_in:,} rows in table '{table}' but {sent:,} scored; "
                            + keep_previous(storage, output, before))
    return Scored(model=mv, table=table, output=output, input_version=scan.version, rows_in=rows_in,
                  rows_out=result.rows_written, output_version=result.version)


def describe(mv: ModelVersion) -> str:
    """``churn v3 (@champion)``: the version that scored, and the alias that chose it."""
    return f"{mv.name} v{mv.version}" + (f" (@{mv.alias})" if mv.alias else "")


def predict_recorded(root: Path, project: str, engine: Any, storage: Any, model: str, table: str, output: str, *,
                     tracking_uri: str | None = None, progress: Any = None, run_id: str | None = None) -> Scored:
    """Resolve ``model``, score ``table`` into ``output``, and leave a run record of it (``datamill predict``).

    The record has one node, ``output`` of kind ``predictions``: its rows,
    versions, engine work and the model version that scored, or its error.
    """
    import time

    from datamill.exceptions import DatamillError
    from datamill.pipeline.records import NodeRun, RunRecord, RunStore, new_run_id

    record = RunRecord(run_id=run_id or new_run_id(), project=project, selection=[output])
    node = record.nodes[output] = NodeRun(name=output, kind="predictions", started=record.started)
    store_runs, start = RunStore(root), time.perf_counter()
    if progress is not None:
        progress.start(output, f"score {table} with {model}")
    try:
        with engine.job_counter(output) as jobs:
            store, mv = resolve_model(root, model, tracking_uri)
            scored = score_table(engine, storage, load_scorer(store, mv), mv, table, output,
                                 staging=root / ".datamill" / "tmp" / f"{record.run_id}-{output}",
                                 on_rows=None if progress is None else lambda n: progress.advance(output, n))
    except BaseException as exc:
        node.status = record.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        node.error = str(exc) if isinstance(exc, DatamillError) else f"{type(exc).__name__}: {exc}"
        if progress is not None:
            progress.finish(output, node.status)
        raise
    else:
        node.status = record.status = "ok"
        node.rows_in, node.rows_out, node.output_version = scored.rows_in, scored.rows_out, scored.output_version
        node.input_versions = {table: scored.input_version}
        node.summary = f"{scored.rows_out:,} rows of {table} scored by {describe(mv)}"
        node.engine_jobs = jobs.jobs
        if progress is not None:
            progress.finish(output, "ok", f"{scored.rows_out:,} rows")
        return scored
    finally:
        node.ended = record.ended = _now()
        node.seconds = round(time.perf_counter() - start, 3)
        store_runs.save(record)


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
