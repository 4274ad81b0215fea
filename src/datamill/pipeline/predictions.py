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
from datamill.pipeline._model_store import ModelStore, ModelVersion

__all__ = ["Scored", "describe", "load_scorer", "resolve_model", "score_table"]


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
