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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from datamill.config.schema import DatasetSpec, ModelSpec, SourceSpec
from datamill.engine.sql import referenced_tables
from datamill.exceptions import ConfigError, EngineError, PipelineError
from datamill.pipeline.progress import count_rows
from datamill.pipeline.records import NodeRun
from datamill.sources import SOURCES, ReadContext, RetryRead

if TYPE_CHECKING:
    from datamill.pipeline.runner import RunContext

__all__ = ["DatasetNode", "ModelNode", "Node", "SourceNode", "quarantine_table_name"]

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

    def is_current(self, ctx: RunContext, previous: dict[str, Any], fingerprint: str | None) -> bool:
        """Whether the last run's output still stands (same fingerprint, table unchanged since)."""
        return (
            fingerprint is not None
            and previous.get("fingerprint") == fingerprint
            and previous.get("version") is not None
            and ctx.storage.version(self.name) == previous.get("version")
        )


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
            try:
                return referenced_tables(self.spec.sql)
            except EngineError as exc:
                raise ConfigError(f"dataset '{self.name}', sql: {exc}") from None
        return list(self.spec.inputs)

    def check_tables(self) -> list[str]:
        """Tables its checks read (relationship targets)."""
        return [c.build().target[0] for c in self.spec.checks if "relationship" in (c.model_extra or {})]

    def deps(self) -> list[str]:
        return list(dict.fromkeys([*self.inputs(), *self.check_tables()]))

    def fingerprint(self, ctx: RunContext) -> str | None:
        versions = {dep: ctx.storage.version(dep) for dep in self.deps()}
        code = code_digest(self.spec.python, ctx.root) if self.spec.python else None
        return _digest(self.spec.model_dump(mode="json"), versions, code)

    def execute(self, ctx: RunContext, record: NodeRun) -> None:
        all_scans = {dep: ctx.storage.scan(dep) for dep in self.deps()}
        record.input_versions = {dep: scan.version for dep, scan in all_scans.items()}
        scans = {dep: all_scans[dep] for dep in self.inputs()}
        record.rows_in = sum(scan.count_rows() for scan in scans.values())
        ctx.progress.start(self.name, f"build {self.name}")
        mode = "overwrite" if ctx.full_refresh else self.spec.write.mode
        if self.spec.python and self.spec.clean is None and not self.spec.checks:
            reader = count_rows(_as_reader(self._call_python(ctx, scans), self.name),
                                lambda n: ctx.progress.advance(self.name, n))
            result = ctx.storage.write(self.name, reader, mode=mode, keys=self.spec.write.keys)
        else:
            close = None
            if self.spec.clean is not None or self.spec.checks:
                relation, close = self._clean(ctx, record, scans, all_scans)
            else:
                relation = ctx.engine.sql(self._query(), scans)
            try:
                result = write_relation(
                    ctx.storage, self.name, relation, mode=mode, keys=self.spec.write.keys,
                    staging=ctx.root / ".datamill" / "tmp" / f"{ctx.run_id}-{self.name}",
                    on_rows=lambda n: ctx.progress.advance(self.name, n),
                )
            finally:
                if close is not None:
                    close()
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
        except BaseException:
            if owned:
                ctx.engine.release(base)
            raise

        def close() -> None:  # the cleaned rows may still read `base` lazily: free it once written
            result.close()
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
        if result.fatal:
            close()
            raise QualityError(
                result.fatal_message(quarantine_table_name(self.name)) + "; the table keeps its previous version"
            )
        return result.relation(), close

    def _call_python(self, ctx: RunContext, scans: dict[str, Any]) -> Any:
        func = load_function(self.spec.python or "", ctx.root, self.name)
        try:
            return func(**{dep: scan.to_arrow() for dep, scan in scans.items()})
        except Exception as exc:  # the user's code failed: say where, not "a bug in datamill"
            import traceback

            frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(str(ctx.root))]
            where = f" ({Path(frames[-1].filename).name} line {frames[-1].lineno})" if frames else ""
            raise PipelineError(
                f"dataset '{self.name}': python: {self.spec.python} raised {type(exc).__name__}: {exc}{where}"
            ) from exc


@dataclass
class ModelNode(Node):
    """Train a ``models:`` entry on its ``from:`` table; retrains when the table or the spec changes."""

    spec: ModelSpec = None  # type: ignore[assignment]
    project: str = ""
    kind = "model"

    def deps(self) -> list[str]:
        return [self.spec.from_]

    def fingerprint(self, ctx: RunContext) -> str | None:
        return _digest(self.spec.model_dump(mode="json", by_alias=True), ctx.storage.version(self.spec.from_))

    def is_current(self, ctx: RunContext, previous: dict[str, Any], fingerprint: str | None) -> bool:
        from datamill.ml.project import load_model_record

        record = load_model_record(ctx.root, self.name)
        return bool(fingerprint and record and record.get("fingerprint") == fingerprint
                    and previous.get("fingerprint") == fingerprint)

    def execute(self, ctx: RunContext, record: NodeRun) -> None:
        from datamill.ml.project import train_model

        record.input_versions = {self.spec.from_: ctx.storage.version(self.spec.from_)}
        ctx.progress.start(self.name, f"train {self.name}", total=None)

        def progress(stage: str, done: int, total: int | None, detail: str) -> None:
            if total:
                ctx.progress.fraction(self.name, {"defaults": 0.0, "tune": 0.3, "refit": 0.8}.get(stage, 0.9)
                                      + (0.3 if stage in ("defaults", "tune") else 0.1) * done / total)

        result = train_model(ctx.root, self.project, self.name, self.spec, ctx.storage, progress=progress,
                             fingerprint=record.fingerprint)
        record.rows_in = ctx.storage.scan(self.spec.from_).count_rows()
        record.warnings += result.warnings
        record.summary = (f"best {result.best_name}: test {result.metric} {result.test_score:.4f} "
                          f"(cv {result.cv_mean:.4f} ± {result.cv_std:.4f}; MLflow run {result.run_id})")


def _module_file(module_name: str, root: Path) -> Path | None:
    base = root.joinpath(*module_name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def load_function(target: str, root: Path, dataset: str) -> Any:
    """Load ``module:function`` afresh: a project's module is read from its file every run.

    Importing through ``sys.modules`` would keep the first version of a module
    for the whole process (a notebook that edits ``transforms.py`` would not see
    the edit) and mix up two projects that both have a ``transforms.py``.
    """
    import importlib.util

    module_name, _, func_name = target.partition(":")
    file = _module_file(module_name, root)
    try:
        if file is None:
            module = importlib.import_module(module_name)  # an installed package
        else:
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))  # so the module can import its siblings
            unique = f"_datamill_project_{hashlib.sha1(str(file).encode()).hexdigest()[:8]}_{module_name}"
            spec = importlib.util.spec_from_file_location(unique, file)
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        return getattr(module, func_name)
    except (ImportError, AttributeError, SyntaxError) as exc:
        raise ConfigError(
            f"dataset '{dataset}': cannot load python: {target} ({type(exc).__name__}: {exc}); "
            f"the module must be a .py file in {root} or an installed package"
        ) from exc


def code_digest(target: str, root: Path) -> str | None:
    """A digest of the transform's source file, so editing the code rebuilds the dataset."""
    module_name = target.partition(":")[0]
    file = _module_file(module_name, root)
    if file is None:
        try:
            file = Path(importlib.import_module(module_name).__file__ or "")
        except ImportError:
            return None
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def write_relation(
    storage: Any, name: str, relation: Any, *, mode: str, keys: list[str], staging: Path, on_rows: Any = None
) -> Any:
    """Write an engine's result to storage, as Parquet files adopted in one commit where both can.

    The engine writes Parquet in parallel (DuckDB ``COPY``, Spark's writers) and
    a storage that keeps Parquet (the lakehouse) adopts the files; otherwise the
    rows stream through Arrow. Upserts always stream (they merge row by row).
    """
    if mode != "upsert":
        staging.mkdir(parents=True, exist_ok=True)
        try:
            files = relation.write_parquet(staging)
            if files is not None:
                result = storage.write_parquet(name, files, mode=mode)
                if on_rows is not None:
                    on_rows(result.rows_written)
                return result
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    reader = relation.to_reader()
    if on_rows is not None:
        reader = count_rows(reader, on_rows)
    return storage.write(name, reader, mode=mode, keys=keys)


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
