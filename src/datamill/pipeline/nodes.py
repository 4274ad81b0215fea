"""Pipeline nodes: what each kind of node reads, how it fingerprints, how it runs.

A node kind implements :class:`Node`; the runner only knows this interface, so
later stages (models, monitors) add kinds without touching the runner.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from datamill.config.schema import DatasetSpec, SourceSpec
from datamill.engine.sql import referenced_tables
from datamill.exceptions import ConfigError, PipelineError
from datamill.pipeline.progress import count_rows
from datamill.pipeline.records import NodeRun
from datamill.sources import SOURCES, ReadContext, RetryRead

if TYPE_CHECKING:
    from datamill.pipeline.runner import RunContext

__all__ = ["DatasetNode", "Node", "SourceNode", "quarantine_table_name"]

_MAX_READS = 4  # a CSV may need a re-read per column whose type changes half-way


def quarantine_table_name(name: str) -> str:
    """Where the rows a node set aside are kept."""
    return f"{name}__quarantine"


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Node(ABC):
    name: str
    kind = "node"

    @abstractmethod
    def deps(self) -> list[str]:
        """Tables this node reads."""

    @abstractmethod
    def fingerprint(self, ctx: RunContext) -> str | None:
        """Changes when the node's inputs or config change; ``None``: always run."""

    @abstractmethod
    def execute(self, ctx: RunContext, record: NodeRun) -> None:
        """Run the node, filling ``record``; raise a DatamillError on failure."""


@dataclass
class SourceNode(Node):
    """Ingest a source into a table of the same name."""

    spec: SourceSpec = None  # type: ignore[assignment]
    kind = "source"

    def source(self, ctx: RunContext) -> Any:
        cls = SOURCES.load(self.spec.type)
        options = self.spec.parsed or cls.Options.model_validate(self.spec.options)
        return cls(self.name, options, project_dir=ctx.root)

    def deps(self) -> list[str]:
        return []

    def fingerprint(self, ctx: RunContext) -> str | None:
        own = self.source(ctx).fingerprint()
        return None if own is None else _digest(self.spec.on_bad_rows, own)

    def execute(self, ctx: RunContext, record: NodeRun) -> None:
        source = self.source(ctx)
        read = ReadContext(
            origin=self.name, on_bad_rows=self.spec.on_bad_rows, run_id=ctx.run_id,
            on_progress=lambda done: ctx.progress.fraction(self.name, done),
        )
        for attempt in range(_MAX_READS):
            read.reset()
            ctx.progress.start(self.name, f"ingest {self.name}" + (" (re-read)" if attempt else ""))
            try:
                result = self._ingest(ctx, source, read)
                break
            except RetryRead:
                continue
        else:  # pragma: no cover - a source that keeps asking is a bug in the source
            raise PipelineError(f"source '{self.name}' asked to be re-read {_MAX_READS} times; giving up")
        record.rows_out = result.rows_written
        record.rows_quarantined = read.quarantined
        record.rows_skipped = read.skipped
        record.rows_in = result.rows_written + read.quarantined + read.skipped
        record.output_version = result.version
        record.warnings.extend(read.warnings)
        if read.skipped:
            record.warnings.append(f"{read.skipped} malformed rows skipped (on_bad_rows: skip)")
        if read.quarantined:
            ctx.storage.write(quarantine_table_name(self.name), read.quarantine_table(), mode="append")
            record.warnings.append(
                f"{read.quarantined} malformed rows kept in table {quarantine_table_name(self.name)}"
            )


    def _ingest(self, ctx: RunContext, source: Any, read: ReadContext) -> Any:
        """One read of the source into storage: as Parquet files where it can, else streamed."""
        staging = ctx.root / ".datamill" / "tmp" / f"{ctx.run_id}-{self.name}"
        staging.mkdir(parents=True, exist_ok=True)
        try:
            files = source.read_to_parquet(read, staging)
            if files is not None:
                result = ctx.storage.write_parquet(self.name, files, mode="overwrite")
                ctx.progress.advance(self.name, result.rows_written)
                return result
            reader = count_rows(source.read(read), lambda n: ctx.progress.advance(self.name, n))
            return ctx.storage.write(self.name, reader, mode="overwrite")
        finally:
            shutil.rmtree(staging, ignore_errors=True)


@dataclass
class DatasetNode(Node):
    """A transform over other tables: SQL on the engine, or a Python function on Arrow."""

    spec: DatasetSpec = None  # type: ignore[assignment]
    kind = "dataset"

    def inputs(self) -> list[str]:
        """Tables the dataset's body reads."""
        if self.spec.from_:
            return [self.spec.from_]
        if self.spec.sql:
            return referenced_tables(self.spec.sql)
        return list(self.spec.inputs)

    def check_tables(self) -> list[str]:
        """Tables its checks read (relationship targets)."""
        return [c.build().target[0] for c in self.spec.checks if "relationship" in (c.model_extra or {})]

    def deps(self) -> list[str]:
        return list(dict.fromkeys([*self.inputs(), *self.check_tables()]))

    def fingerprint(self, ctx: RunContext) -> str | None:
        versions = {dep: ctx.storage.version(dep) for dep in self.deps()}
        return _digest(self.spec.model_dump(mode="json"), versions)

    def execute(self, ctx: RunContext, record: NodeRun) -> None:
        all_scans = {dep: ctx.storage.scan(dep) for dep in self.deps()}
        record.input_versions = {dep: scan.version for dep, scan in all_scans.items()}
        scans = {dep: all_scans[dep] for dep in self.inputs()}
        record.rows_in = sum(scan.count_rows() for scan in scans.values())
        ctx.progress.start(self.name, f"build {self.name}")
        if self.spec.clean is not None or self.spec.checks:
            reader = self._clean(ctx, record, scans, all_scans)
        elif self.spec.python:
            reader = _as_reader(self._call_python(ctx, scans), self.name)
        else:
            reader = ctx.engine.sql(self._query(), scans).to_reader()
        reader = count_rows(reader, lambda n: ctx.progress.advance(self.name, n))
        result = ctx.storage.write(self.name, reader, mode=self.spec.write.mode, keys=self.spec.write.keys)
        record.rows_out = result.rows_written
        record.output_version = result.version

    def _query(self) -> str:
        return self.spec.sql or f'select * from "{self.spec.from_}"'

    def _clean(self, ctx: RunContext, record: NodeRun, scans: dict[str, Any], all_scans: dict[str, Any]) -> Any:
        """Run the ``clean:`` steps and ``checks:``; returns the reader of the rows to write."""
        from datamill.exceptions import QualityError
        from datamill.quality import run_quality, save_record

        if self.spec.from_:
            base, owned = scans[self.spec.from_], False
        elif self.spec.python:
            from datamill.engine.base import ArrowScan

            base, owned = ArrowScan(self.name, _as_reader(self._call_python(ctx, scans), self.name).read_all()), False
        else:
            base, owned = ctx.engine.materialize(ctx.engine.sql(self._query(), scans)), True
        steps = self.spec.clean.steps() if self.spec.clean is not None else []
        checks = [c.build() for c in self.spec.checks]
        try:
            result = run_quality(
                ctx.engine, base, steps, checks, dataset=self.name, run_id=ctx.run_id,
                others={t: all_scans[t] for t in self.check_tables()}, allow_empty=self.spec.allow_empty,
            )
        finally:
            if owned:
                ctx.engine.release(base)
        q = result.record
        record.rows_in = q.rows_in
        record.rows_quarantined = q.rows_quarantined + q.rows_duplicates
        record.warnings += q.warnings
        if q.rows_duplicates:
            record.warnings.append(f"{q.rows_duplicates:,} duplicate rows removed (kept in {quarantine_table_name(self.name)})")
        if q.rows_quarantined:
            record.warnings.append(f"{q.rows_quarantined:,} rows quarantined by cleaning and checks")
        if result.quarantine.num_rows:
            ctx.storage.write(quarantine_table_name(self.name), result.quarantine, mode="append")
        save_record(ctx.root, q)
        fatal = [r for r in result.failed_checks if r.severity == "fail"]
        if fatal:
            result.close()
            raise QualityError(
                f"dataset '{self.name}': {len(fatal)} check(s) with severity fail failed: "
                + "; ".join(f"{r.name}: {r.message}" for r in fatal)
                + f" (the table keeps its previous version; failing rows are in {quarantine_table_name(self.name)})"
            )
        return _closing(result.relation().to_reader(), result.close)

    def _call_python(self, ctx: RunContext, scans: dict[str, Any]) -> Any:
        module_name, _, func_name = (self.spec.python or "").partition(":")
        if str(ctx.root) not in sys.path:
            sys.path.insert(0, str(ctx.root))
        try:
            func = getattr(importlib.import_module(module_name), func_name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"dataset '{self.name}': cannot load python: {self.spec.python} ({exc}); "
                f"the module must be importable from {ctx.root}"
            ) from exc
        return func(**{dep: scan.to_arrow() for dep, scan in scans.items()})


def _closing(reader: pa.RecordBatchReader, close: Any) -> pa.RecordBatchReader:
    """A reader that calls ``close`` once it is drained (or abandoned)."""

    def batches():  # noqa: ANN202
        try:
            yield from reader
        finally:
            close()

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def _as_reader(result: Any, name: str) -> pa.RecordBatchReader:
    """Accept what a user function may return: Arrow, pandas or Polars."""
    if isinstance(result, pa.RecordBatchReader):
        return result
    if not isinstance(result, pa.Table):
        if hasattr(result, "to_arrow"):  # polars
            result = result.to_arrow()
        elif type(result).__module__.startswith("pandas"):
            result = pa.Table.from_pandas(result, preserve_index=False)
        else:
            raise PipelineError(
                f"dataset '{name}': the python function returned {type(result).__name__}; "
                "return a pyarrow Table, a pandas or a Polars DataFrame"
            )
    return pa.RecordBatchReader.from_batches(result.schema, result.to_batches())
