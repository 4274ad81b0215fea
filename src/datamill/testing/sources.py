"""The source conformance suite: what every source backend must do, built-in or third-party.

A backend is tested through a :class:`SourceCase`, which knows how to put a few
rows (and some malformed records) where its source reads them, and how to point
a source at an input that does not exist. :func:`check_source` then runs every
check in :data:`SOURCE_CHECKS` on it:

- the rows come back as Arrow record batches, each with the reader's schema,
  with the values that were written;
- two reads give the same schema;
- ``on_bad_rows`` ``fail`` raises :class:`~datamill.exceptions.BadRowsError`,
  ``quarantine`` and ``skip`` account for every record: rows in = out +
  quarantined + skipped, quarantined rows in
  :data:`~datamill.sources.QUARANTINE_SCHEMA` with their reason;
- the fingerprint (when the source has one) and the digest of the records read
  are stable across two reads and change when one value changes;
- a missing or unreachable input is a :class:`~datamill.exceptions.SourceError`
  that names it;
- a source that writes Parquet itself (``read_to_parquet``) gives the same rows
  as its reader; one that leaves a ``memo`` either honours it
  (:class:`~datamill.sources.Unchanged`) or reads the same rows again.

With pytest, one test per check and backend::

    from datamill.testing.sources import SOURCE_CHECKS, check_source

    @pytest.mark.parametrize("check", SOURCE_CHECKS)
    def test_my_source(check, tmp_path):
        check_source(MyCase(tmp_path), checks=[check])

The module imports no test framework: failures are plain :class:`AssertionError`
with a message naming the backend and the check.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from datamill.exceptions import BadRowsError, SourceError
from datamill.sources import QUARANTINE_SCHEMA, SOURCES, ReadContext, RetryRead, Source, Unchanged
from datamill.sources import RecordsDigest

__all__ = ["CHANGED", "ROWS", "SOURCE_CHECKS", "FileSourceCase", "SourceCase", "check_source"]

#: The rows every case writes: an integer key, text with a null, a float.
ROWS: list[dict[str, Any]] = [
    {"id": 1, "name": "ann", "score": 1.5},
    {"id": 2, "name": None, "score": 2.0},
    {"id": 3, "name": "cy", "score": -0.25},
    {"id": 4, "name": "dee", "score": 10.0},
]
#: ``ROWS`` with one value changed.
CHANGED: list[dict[str, Any]] = [*ROWS[:2], {**ROWS[2], "score": 9.75}, ROWS[3]]
_BAD = 2
_MAX_READS = 4


class SourceCase(ABC):
    """How the suite makes inputs for one source backend."""

    #: The backend's name, in messages.
    name: str = "source"
    #: Whether the backend's inputs can hold records it cannot read (a CSV line with too
    #: many fields, an NDJSON line that is not JSON). ``False`` skips the bad-rows checks.
    bad_rows: bool = True

    @abstractmethod
    def source(self, rows: Sequence[dict[str, Any]], *, bad: int = 0) -> Source:
        """A source reading ``rows`` (columns ``id``, ``name``, ``score``), with ``bad`` malformed records among them.

        Called again with other rows, the case must replace the data *in the same
        place* (same path, same URL, same table), so fingerprints can be compared.
        """

    @abstractmethod
    def missing(self) -> Source:
        """A source whose input does not exist or cannot be reached."""

    #: Text the error for :meth:`missing` must contain (a file name, a host).
    missing_hint: str = ""

    def close(self) -> None:
        """Free what the case made (servers, folders)."""


class FileSourceCase(SourceCase):
    """A case for a file source: subclasses write the file; the suite does the rest.

    Parameters
    ----------
    type
        The source type, as registered (``type:`` in the project file).
    suffix
        The file name's ending, e.g. ``.csv``.
    options
        Further options of the source.
    """

    def __init__(self, type: str, suffix: str, folder: Path | None = None, **options: Any) -> None:  # noqa: A002
        self.name = type
        self.type = type
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="datamill-conformance-"))
        self._own = folder is None
        self.file = f"data{suffix}"
        self.options = options
        self.missing_hint = f"nothing{suffix}"

    @abstractmethod
    def write(self, path: Path, rows: Sequence[dict[str, Any]], bad: int) -> None:
        """Write ``rows`` and ``bad`` malformed records to ``path``."""

    def _make(self, path: str) -> Source:
        cls = SOURCES.load(self.type)
        return cls(self.name, cls.Options(path=path, **self.options), project_dir=self.folder)

    def source(self, rows: Sequence[dict[str, Any]], *, bad: int = 0) -> Source:
        self.write(self.folder / self.file, rows, bad)
        return self._make(self.file)

    def missing(self) -> Source:
        return self._make(self.missing_hint)

    def close(self) -> None:
        if self._own:
            shutil.rmtree(self.folder, ignore_errors=True)


# -- helpers -----------------------------------------------------------------------


def _expect(condition: bool, case: SourceCase, check: str, message: str) -> None:
    if not condition:
        raise AssertionError(f"{case.name}: {check}: {message}")


def _drain(source: Source, ctx: ReadContext) -> pa.Table:
    """Read ``source`` fully, re-reading on :class:`RetryRead` as the pipeline does."""
    for _ in range(_MAX_READS):
        ctx.reset()
        try:
            reader = source.read(ctx)
            batches = list(reader)
            for batch in batches:
                if not batch.schema.equals(reader.schema):
                    raise AssertionError(
                        f"{source.name}: a batch's schema differs from the reader's:\n{batch.schema}\nvs\n{reader.schema}"
                    )
            return pa.Table.from_batches(batches, schema=reader.schema)
        except RetryRead:
            continue
    raise AssertionError(f"{source.name}: still asks to be re-read after {_MAX_READS} reads")


def _plain(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as (id, name, score) in id order, numbers as Python numbers, for comparing values."""
    out = []
    for row in table.to_pylist():
        score = row.get("score")
        out.append({"id": int(row["id"]), "name": row.get("name"),
                    "score": None if score is None else float(score)})
    return sorted(out, key=lambda r: r["id"])


def _same(got: list[dict[str, Any]], want: Sequence[dict[str, Any]]) -> bool:
    if len(got) != len(want):
        return False
    for g, w in zip(got, sorted(want, key=lambda r: r["id"])):
        if g["id"] != w["id"] or g["name"] != w["name"] or not math.isclose(g["score"], w["score"]):
            return False
    return True


def _digest(table: pa.Table) -> str:
    digest = RecordsDigest(table.schema)
    digest.update_all(table.to_batches())
    digest.close()
    return digest.hexdigest()


# -- the checks --------------------------------------------------------------------


def check_reads_arrow_batches(case: SourceCase) -> None:
    """The rows come back as Arrow batches with the reader's schema and the written values."""
    source = case.source(ROWS)
    reader = source.read(ReadContext(source.name))
    _expect(isinstance(reader, pa.RecordBatchReader), case, "reads_arrow_batches",
            f"read() returned {type(reader).__name__}, not a pyarrow.RecordBatchReader")
    reader.close()
    table = _drain(source, ReadContext(source.name))
    _expect({"id", "name", "score"} <= set(table.column_names), case, "reads_arrow_batches",
            f"columns {table.column_names}, expected id, name and score")
    got = _plain(table)
    _expect(_same(got, ROWS), case, "reads_arrow_batches", f"rows {got}, expected {ROWS}")


def check_schema_is_stable(case: SourceCase) -> None:
    """Two reads, by one source object and by a fresh one, give the same schema."""
    source = case.source(ROWS)
    first = _drain(source, ReadContext(source.name)).schema
    again = _drain(source, ReadContext(source.name)).schema
    fresh = _drain(case.source(ROWS), ReadContext(source.name)).schema
    _expect(first.equals(again) and first.equals(fresh), case, "schema_is_stable",
            f"schemas differ between reads:\n{first}\n---\n{again}\n---\n{fresh}")


def check_bad_rows_fail(case: SourceCase) -> None:
    """``on_bad_rows: fail`` stops the read with a BadRowsError naming where."""
    if not case.bad_rows:
        return
    source = case.source(ROWS, bad=_BAD)
    try:
        _drain(source, ReadContext(source.name, on_bad_rows="fail"))
    except BadRowsError as exc:
        _expect("on_bad_rows" in str(exc), case, "bad_rows_fail", f"the error does not name on_bad_rows: {exc}")
        return
    raise AssertionError(f"{case.name}: bad_rows_fail: {_BAD} malformed records read without an error")


def check_bad_rows_quarantine(case: SourceCase) -> None:
    """``quarantine`` keeps every malformed record, with its reason: rows in = out + quarantined."""
    if not case.bad_rows:
        return
    source = case.source(ROWS, bad=_BAD)
    ctx = ReadContext(source.name, on_bad_rows="quarantine", run_id="r1")
    table = _drain(source, ctx)
    _expect(table.num_rows + ctx.quarantined + ctx.skipped == len(ROWS) + _BAD, case, "bad_rows_quarantine",
            f"{table.num_rows} out + {ctx.quarantined} quarantined + {ctx.skipped} skipped "
            f"!= {len(ROWS) + _BAD} in")
    _expect(ctx.quarantined == _BAD and ctx.skipped == 0, case, "bad_rows_quarantine",
            f"{ctx.quarantined} quarantined, {ctx.skipped} skipped; expected {_BAD} quarantined")
    _expect(_same(_plain(table), ROWS), case, "bad_rows_quarantine", "the good rows changed")
    kept = ctx.quarantine_table()
    _expect(kept.schema.equals(QUARANTINE_SCHEMA), case, "bad_rows_quarantine", "quarantine schema differs")
    _expect(all(r["reason"] and r["raw"] is not None for r in kept.to_pylist()), case, "bad_rows_quarantine",
            f"quarantined rows without reason or raw text: {kept.to_pylist()}")


def check_bad_rows_skip(case: SourceCase) -> None:
    """``skip`` counts every malformed record and keeps none."""
    if not case.bad_rows:
        return
    source = case.source(ROWS, bad=_BAD)
    ctx = ReadContext(source.name, on_bad_rows="skip")
    table = _drain(source, ctx)
    _expect((ctx.skipped, ctx.quarantined, table.num_rows) == (_BAD, 0, len(ROWS)), case, "bad_rows_skip",
            f"{table.num_rows} out, {ctx.skipped} skipped, {ctx.quarantined} quarantined; "
            f"expected {len(ROWS)}, {_BAD}, 0")


def check_fingerprint_follows_content(case: SourceCase) -> None:
    """Fingerprint (if any) and records digest: equal for the same data, different after one value changed."""
    first = case.source(ROWS)
    fp1, d1 = first.fingerprint(), _digest(_drain(first, ReadContext(first.name)))
    again = case.source(ROWS)  # the same data written again: a new modification time, the same content
    fp2, d2 = again.fingerprint(), _digest(_drain(again, ReadContext(again.name)))
    _expect(fp1 == fp2, case, "fingerprint_follows_content", f"the same data gave fingerprints {fp1} and {fp2}")
    _expect(d1 == d2, case, "fingerprint_follows_content", "the same data gave different records digests")
    changed = case.source(CHANGED)
    fp3, d3 = changed.fingerprint(), _digest(_drain(changed, ReadContext(changed.name)))
    _expect(fp1 is None or fp3 != fp1, case, "fingerprint_follows_content",
            "the fingerprint did not change when a value did")
    _expect(d3 != d1, case, "fingerprint_follows_content", "the records digest did not change when a value did")


def check_missing_input_is_a_source_error(case: SourceCase) -> None:
    """A missing or unreachable input is a SourceError naming it, never another exception."""
    source = case.missing()
    try:
        _drain(source, ReadContext(source.name))
    except SourceError as exc:
        text = str(exc)
        _expect(case.missing_hint in text, case, "missing_input_is_a_source_error",
                f"the error does not name {case.missing_hint!r}: {text}")
        _expect("Traceback" not in text and text.strip() != "", case, "missing_input_is_a_source_error",
                f"not a message: {text!r}")
        return
    except Exception as exc:  # noqa: BLE001 - the point is which type it is
        raise AssertionError(
            f"{case.name}: missing_input_is_a_source_error: raised {type(exc).__name__}: {exc}, not a SourceError"
        ) from exc
    raise AssertionError(f"{case.name}: missing_input_is_a_source_error: a missing input read without an error")


def check_parquet_path_matches_read(case: SourceCase) -> None:
    """A source that writes Parquet itself gives the same rows and bad rows as its reader."""
    import pyarrow.parquet as pq

    source = case.source(ROWS, bad=_BAD if case.bad_rows else 0)
    folder = Path(tempfile.mkdtemp(prefix="datamill-conformance-"))
    try:
        ctx = ReadContext(source.name, on_bad_rows="quarantine")
        files: list[Path] | None = None
        for _ in range(_MAX_READS):
            ctx.reset()
            try:
                files = source.read_to_parquet(ctx, folder)
                break
            except RetryRead:
                continue
        else:
            raise AssertionError(f"{case.name}: parquet_path_matches_read: still asks to be re-read")
        if files is None:
            return
        table = pa.concat_tables([pq.read_table(f) for f in files]) if files else None
        _expect(table is not None and _same(_plain(table), ROWS), case, "parquet_path_matches_read",
                "read_to_parquet gave other rows than read()")
        streamed = ReadContext(source.name, on_bad_rows="quarantine")
        _drain(source, streamed)
        _expect(ctx.quarantined == streamed.quarantined, case, "parquet_path_matches_read",
                f"{ctx.quarantined} bad rows through read_to_parquet, {streamed.quarantined} through read()")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check_memo_is_honoured(case: SourceCase) -> None:
    """A source that leaves a memo either proves nothing changed (Unchanged) or reads the same rows."""
    source = case.source(ROWS)
    first = ReadContext(source.name)
    table = _drain(source, first)
    if not first.memo:
        return
    again = ReadContext(source.name, remembered=dict(first.memo))
    try:
        second = _drain(source, again)
    except Unchanged:
        return
    _expect(_same(_plain(second), _plain(table)), case, "memo_is_honoured", "a read with the memo gave other rows")


#: Every check, by name: ``check_source(case, checks=[name])`` runs one.
SOURCE_CHECKS: dict[str, Callable[[SourceCase], None]] = {
    "reads_arrow_batches": check_reads_arrow_batches,
    "schema_is_stable": check_schema_is_stable,
    "bad_rows_fail": check_bad_rows_fail,
    "bad_rows_quarantine": check_bad_rows_quarantine,
    "bad_rows_skip": check_bad_rows_skip,
    "fingerprint_follows_content": check_fingerprint_follows_content,
    "missing_input_is_a_source_error": check_missing_input_is_a_source_error,
    "parquet_path_matches_read": check_parquet_path_matches_read,
    "memo_is_honoured": check_memo_is_honoured,
}


def check_source(case: SourceCase, *, checks: Iterable[str] | None = None) -> None:
    """Run the conformance checks (all, or the ones named) on one source backend.

    Raises
    ------
    AssertionError
        Naming the backend, the check and what went wrong.
    KeyError
        For a check name that does not exist.
    """
    names = list(SOURCE_CHECKS) if checks is None else list(checks)
    unknown = [n for n in names if n not in SOURCE_CHECKS]
    if unknown:
        raise KeyError(f"unknown source check(s) {', '.join(unknown)}; known: {', '.join(SOURCE_CHECKS)}")
    for name in names:
        SOURCE_CHECKS[name](case)
