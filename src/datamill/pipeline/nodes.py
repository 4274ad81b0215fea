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

from datamill.config.schema import DatasetSpec, PredictionSpec, SourceSpec, quarantine_table_name
from datamill.engine.sql import referenced_tables
from datamill.exceptions import ConfigError, EngineError, PipelineError
from datamill.pipeline._balance import Tally, check_balance, check_written, parquet_rows
from datamill.pipeline._staging import Staged, digest_files, stage
from datamill.pipeline.progress import count_rows
from datamill.pipeline.records import NodeRun
from datamill.sources import SOURCES, ReadContext, RetryRead, Unchanged
from datamill.sources import RecordsDigest

if TYPE_CHECKING:
    from datamill.ml.spec import ModelSpec
    from datamill.pipeline.runner import RunContext

__all__ = ["DatasetNode", "ModelNode", "Node", "PredictionsNode", "SourceNode"]

_MAX_READS = 4  # a CSV may need a re-read per column whose type changes half-way


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

    def remember(self) -> dict[str, Any]:
        """What the node keeps in the state for its next run, besides its fingerprint and version."""
        return {}

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
    """Ingest a source into a table of the same name.

    A source whose content did not change gets no new version, so nothing
    downstream rebuilds: file sources say so through their fingerprint (a digest
    of the files' bytes), others (APIs, databases) through cheap signals kept in
    the state (HTTP ETags: :class:`Unchanged`) or, failing those, a digest of
    the records read, compared with the last stored one before anything is written.
    """

    spec: SourceSpec = None  # type: ignore[assignment]
    kind = "source"

    def __post_init__(self) -> None:
        self._keep: dict[str, Any] = {}

    def source(self, ctx: RunContext) -> Any:
        cls = SOURCES.load(self.spec.type)
        options = self.spec.parsed or cls.Options.model_validate(self.spec.options)
        source = cls(self.name, options, project_dir=ctx.root)
        source.digests = ctx.file_digests
        return source

    def deps(self) -> list[str]:
        return []

    def fingerprint(self, ctx: RunContext) -> str | None:
        source = self.source(ctx)
        own = source.fingerprint()
        if ctx.file_digests is not None:
            ctx.file_digests.save()
        return None if own is None else _digest(self.spec.on_bad_rows, own)

    def remember(self) -> dict[str, Any]:
        return self._keep

    def execute(self, ctx: RunContext, record: NodeRun) -> None:
        source = self.source(ctx)
        before = ctx.storage.version(self.name)
        last = self._last(ctx)
        read = ReadContext(
            origin=self.name, on_bad_rows=self.spec.on_bad_rows, run_id=ctx.run_id,
            on_progress=lambda done: ctx.progress.fraction(self.name, done), remembered=dict(last.get("memo", {})),
        )
        # nothing cheap says whether the content changed: digest the records as they are read
        by_content = record.fingerprint is None
        staging = ctx.root / ".datamill" / "tmp" / f"{ctx.run_id}-{self.name}"
        try:
            try:
                settled = self._settle(ctx, source, read, staging, by_content)
            except Unchanged:  # cheap signals (HTTP 304) proved it: nothing was read
                if not last:
                    raise PipelineError(
                        f"source '{self.name}' said it is unchanged, but no stored version is known "
                        "(a bug in the source: raise Unchanged only when ctx.remembered proves it)"
                    ) from None
                self._unchanged(record, last, read)
                return
            if settled.digest is not None and settled.digest == last.get("content"):
                self._unchanged(record, last, read, rows=settled.rows)
                return
            result, sent = settled.write(ctx.storage, self.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        record.content = settled.digest
        self._keep = {"memo": dict(read.memo)} if read.memo else {}
        if settled.digest is not None:
            self._keep["content"] = settled.digest
        record.rows_out = result.rows_written
        self._count(record, read, sent)  # rows in: the rows read, as counted, plus those set aside
        record.output_version = result.version
        check_written(ctx.storage, f"source '{self.name}'", sent, result, before)
        if read.quarantined:
            write_checked(ctx.storage, f"source '{self.name}'", quarantine_table_name(self.name),
                          read.quarantine_table())
            record.warnings.append(
                f"{read.quarantined} malformed rows kept in table {quarantine_table_name(self.name)}"
            )

    def _last(self, ctx: RunContext) -> dict[str, Any]:
        """What the last stored read left in the state, if the table is still that version."""
        last = ctx.state.get(self.name, {})
        if ctx.full_refresh or last.get("version") is None or ctx.storage.version(self.name) != last["version"]:
            return {}
        return last

    def _count(self, record: NodeRun, read: ReadContext, rows: int) -> None:
        record.rows_quarantined = read.quarantined
        record.rows_skipped = read.skipped
        record.rows_in = rows + read.quarantined + read.skipped
        record.warnings.extend(read.warnings)
        if read.skipped:
            record.warnings.append(f"{read.skipped} malformed rows skipped (on_bad_rows: skip)")

    def _unchanged(self, record: NodeRun, last: dict[str, Any], read: ReadContext, rows: int | None = None) -> None:
        """Keep the stored version: the source holds what it held when that was written."""
        record.status = "unchanged"
        record.output_version = last["version"]
        record.content = last.get("content")
        self._keep = {k: v for k, v in last.items() if k in ("content", "memo")}
        if read.memo:
            self._keep["memo"] = dict(read.memo)
        if rows is not None:  # read in full, then found equal to what is stored
            record.rows_out = rows
            self._count(record, read, rows)

    def _settle(self, ctx: RunContext, source: Any, read: ReadContext, staging: Path, by_content: bool) -> _Settled:
        """Read the source, re-reading when it asks to (:class:`RetryRead`), before storage sees it.

        A source may learn half-way that it must read again (a column's type
        changed after DuckDB's sample, a later API page widened a field). Reading
        it to its end into staging files first means that happens before storage
        is touched: storage never sees a half-read source, and no backend needs
        to know the retry protocol. A source that never re-reads and needs no
        digest streams straight into storage.
        """
        for attempt in range(_MAX_READS):
            read.reset()
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True, exist_ok=True)
            ctx.progress.start(self.name, f"ingest {self.name}" + (" (re-read)" if attempt else ""))
            try:
                return self._read_once(ctx, source, read, staging, by_content)
            except RetryRead:
                continue
        raise PipelineError(  # pragma: no cover - a source that keeps asking is a bug in the source
            f"source '{self.name}' asked to be re-read {_MAX_READS} times; giving up"
        )

    def _read_once(self, ctx: RunContext, source: Any, read: ReadContext, staging: Path, by_content: bool) -> _Settled:
        advance = lambda n: ctx.progress.advance(self.name, n)  # noqa: E731
        files = source.read_to_parquet(read, staging)
        if files is not None:  # the source wrote Parquet itself: a lakehouse adopts the files as they are
            digest = digest_files(files) if by_content else None
            return _Settled(files=files, digest=_close(digest, read), rows=digest.rows if digest else None,
                            on_rows=advance)
        reader = count_rows(source.read(read), advance)
        if not (by_content or source.rereads):
            return _Settled(reader=reader)
        digest = RecordsDigest(reader.schema) if by_content else None
        staged = stage(reader, staging, digest)
        return _Settled(staged=staged, digest=_close(digest, read), rows=staged.rows)


def _close(digest: RecordsDigest | None, read: ReadContext) -> str | None:
    """The digest's final value, with the rows set aside folded in (they are content too)."""
    if digest is None:
        return None
    for bad in read.bad_rows:
        digest.add(bad.line, bad.reason, bad.raw, bad.column)
    digest.add("skipped", read.skipped)
    digest.close()
    return digest.hexdigest()


@dataclass
class _Settled:
    """One complete read of a source, ready to be written: Parquet files, a staged file, or a live stream."""

    files: list[Path] | None = None
    staged: Staged | None = None
    reader: pa.RecordBatchReader | None = None
    digest: str | None = None
    rows: int | None = None
    on_rows: Any = None

    def write(self, storage: Any, name: str) -> tuple[Any, int]:
        """Write the rows as ``name``; returns the storage's result and the rows sent, counted on the way."""
        if self.files is not None:
            sent = parquet_rows(self.files)
            result = storage.write_parquet(name, self.files, mode="overwrite")
            if self.on_rows is not None:
                self.on_rows(result.rows_written)
            return result, sent
        tally = Tally()
        reader = count_rows(self.staged.reader() if self.staged is not None else self.reader, tally)
        result = storage.write(name, reader, mode="overwrite")
        return result, tally.rows


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
        before = ctx.storage.version(self.name)
        quality = None
        if self.spec.python and self.spec.clean is None and not self.spec.checks:
            tally = Tally(lambda n: ctx.progress.advance(self.name, n))
            reader = count_rows(_as_reader(self._call_python(ctx, scans), self.name), tally)
            result = ctx.storage.write(self.name, reader, mode=mode, keys=self.spec.write.keys)
            sent = tally.rows
        else:
            close = None
            if self.spec.clean is not None or self.spec.checks:
                relation, close, quality = self._clean(ctx, record, scans, all_scans)
            else:
                relation = ctx.engine.sql(self._query(), scans)
            try:
                result, sent = write_relation(
                    ctx.storage, self.name, relation, mode=mode, keys=self.spec.write.keys,
                    staging=ctx.root / ".datamill" / "tmp" / f"{ctx.run_id}-{self.name}",
                    on_rows=lambda n: ctx.progress.advance(self.name, n),
                )
            finally:
                if close is not None:
                    close()
        record.rows_out = result.rows_written
        record.output_version = result.version
        if quality is None:
            check_written(ctx.storage, f"dataset '{self.name}'", sent, result, before)
            return
        from datamill.quality import save_record

        quality.rows_out = result.rows_written  # measured from the commit, never rows in minus removed
        save_record(ctx.root, quality)
        check_balance(ctx.storage, f"dataset '{self.name}'", quality, result, before)

    def _query(self) -> str:
        return self.spec.sql or f'select * from "{self.spec.from_}"'

    def _clean(self, ctx: RunContext, record: NodeRun, scans: dict[str, Any], all_scans: dict[str, Any]) -> Any:
        """Run the ``clean:`` steps and ``checks:``; returns the rows to write, a closer and the cleaning record.

        The record is saved once the rows are written (its rows out come from the commit).
        """
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
        try:
            if result.quarantine.num_rows:
                write_checked(ctx.storage, f"dataset '{self.name}'", quarantine_table_name(self.name), result.quarantine)
            if result.fatal:
                q.rows_out = result.count_rows()  # the rows that would have been written
                save_record(ctx.root, q)
        except BaseException:
            close()
            raise
        if result.fatal:
            close()
            raise QualityError(
                result.fatal_message(quarantine_table_name(self.name)) + "; the table keeps its previous version"
            )
        return result.relation(), close, q

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
        """Current when the registry's newest version of the model was trained with this fingerprint."""
        if not (fingerprint and previous.get("fingerprint") == fingerprint):
            return False  # decided without opening the model store
        from datamill.registry import FINGERPRINT_TAG, ModelStore

        tags = ModelStore.for_project(ctx.root, self.spec.tracking_uri).latest_tags(self.name)
        return tags is not None and tags.get(FINGERPRINT_TAG) == fingerprint

    def execute(self, ctx: RunContext, record: NodeRun) -> None:
        from datamill.registry import train_and_register

        record.input_versions = {self.spec.from_: ctx.storage.version(self.spec.from_)}
        ctx.progress.start(self.name, f"train {self.name}", total=None)

        def progress(stage: str, done: int, total: int | None, detail: str) -> None:
            if total:
                ctx.progress.fraction(self.name, {"defaults": 0.0, "tune": 0.3, "refit": 0.8}.get(stage, 0.9)
                                      + (0.3 if stage in ("defaults", "tune") else 0.1) * done / total)

        from datamill.monitor.reference import reference_hook

        result = train_and_register(ctx.root, self.project, self.name, self.spec, ctx.storage, progress=progress,
                                    fingerprint=record.fingerprint, by="datamill run",
                                    after_register=reference_hook(ctx.engine, ctx.storage))
        record.rows_in = ctx.storage.scan(self.spec.from_).count_rows()
        record.warnings += result.warnings
        record.summary = (f"best {result.best_name}: test {result.metric} {result.test_score:.4f} "
                          f"(cv {result.cv_mean:.4f} ± {result.cv_std:.4f}; registered {result.model_version.ref}; "
                          f"MLflow run {result.run_id})")


@dataclass
class PredictionsNode(Node):
    """Score a ``predictions:`` entry's ``from:`` table with a registered model, into a table of its own name.

    It reads the table and, where this project trains the model (``models:``),
    that model's node. The version its model reference resolves to is part of
    its fingerprint: moving an alias, or a newly registered version of a bare
    ``NAME``, scores the table again.
    """

    spec: PredictionSpec = None  # type: ignore[assignment]
    trained_here: bool = False  # the model is a models: entry of this project: train it first
    kind = "predictions"

    def __post_init__(self) -> None:
        self._resolved: Any = None  # (store, version), resolved once per run by fingerprint()

    def deps(self) -> list[str]:
        return [self.spec.from_, *([self.spec.model_name] if self.trained_here else [])]

    def fingerprint(self, ctx: RunContext) -> str | None:
        from datamill.pipeline.predictions import resolve_model

        self._resolved = resolve_model(ctx.root, self.spec.model, self.spec.tracking_uri)
        mv = self._resolved[1]
        return _digest(self.spec.model_dump(mode="json", by_alias=True), ctx.storage.version(self.spec.from_),
                       mv.name, mv.version, mv.run_id)

    def execute(self, ctx: RunContext, record: NodeRun) -> None:
        from datamill.pipeline.predictions import describe, load_scorer, resolve_model, score_table

        store, mv = self._resolved or resolve_model(ctx.root, self.spec.model, self.spec.tracking_uri)
        ctx.progress.start(self.name, f"score {self.name} with {describe(mv)}")
        scored = score_table(
            ctx.engine, ctx.storage, load_scorer(store, mv), mv, self.spec.from_, self.name,
            staging=ctx.root / ".datamill" / "tmp" / f"{ctx.run_id}-{self.name}",
            on_rows=lambda n: ctx.progress.advance(self.name, n),
        )
        record.input_versions = {self.spec.from_: scored.input_version}
        record.rows_in, record.rows_out, record.output_version = scored.rows_in, scored.rows_out, scored.output_version
        record.summary = f"{scored.rows_out:,} rows scored by {describe(mv)}"


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
    Returns the storage's result and the rows sent to it (counted, not derived).
    """
    if mode != "upsert":
        staging.mkdir(parents=True, exist_ok=True)
        try:
            files = relation.write_parquet(staging)
            if files is not None:
                sent = parquet_rows(files)
                result = storage.write_parquet(name, files, mode=mode)
                if on_rows is not None:
                    on_rows(result.rows_written)
                return result, sent
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    tally = Tally(on_rows)
    result = storage.write(name, count_rows(relation.to_reader(), tally), mode=mode, keys=keys)
    return result, tally.rows


def write_checked(storage: Any, node: str, name: str, table: pa.Table) -> Any:
    """Append ``table`` (rows set aside) to ``name`` and fail ``node`` unless the commit holds them all."""
    before = storage.version(name)
    result = storage.write(name, table, mode="append")
    check_written(storage, node, table.num_rows, result, before)
    return result


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
