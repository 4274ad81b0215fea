"""CSV files through DuckDB's parallel reader, streamed as Arrow batches.

The dialect, header and encoding are sniffed in Python (:mod:`._csv_sniff`) so a
malformed first row cannot derail detection; DuckDB then parses the file in
parallel, sniffs column types, and with ``store_rejects`` keeps every row it
could not parse (line, raw text, error type). After the last batch those rows go
to the :class:`ReadContext` as bad rows. A conversion error means a column's
type changed after DuckDB's sample: the column is remembered as text and
:class:`RetryRead` asks the caller for a fresh read.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from pydantic import field_validator

from datamill._registry import did_you_mean
from datamill.exceptions import SourceError
from datamill.sources._csv_scan import Scan, long_lines, may_hold_long_lines, not_valid, physical_lines, raw_line
from datamill.sources._csv_sniff import DUCKDB_ENCODINGS, Sniffed, sniff
from datamill.sources._files import files_fingerprint, resolve_files, short
from datamill.sources.base import BadRow, ReadContext, RetryRead, Source, SourceOptions

__all__ = ["CsvSource", "CsvOptions"]

BATCH_ROWS = 122_880  # a multiple of DuckDB's 2,048-row vector
MAX_LINE_BYTES = 16 << 20  # a field of several MB (a JSON blob, a base64 image) is data, not a bad row
# DuckDB reads a file in buffers of 16 x max_line_size unless told: 1 GiB for 64 MiB lines, so a file of a few
# hundred MB was one buffer, parsed by one thread and held in memory whole. It keeps about four buffers at a
# time; one longest line each (the least it accepts), but not under 16 MiB, keeps every core busy in bounded
# memory. A line longer than a buffer is not always reported by DuckDB: files that may hold one are checked
# line by line after the read (see `may_hold_long_lines`).
_MIN_BUFFER = 16 << 20
_MAX_LINE_LIMIT = 1 << 30
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}
_TYPES = {
    "bigint": "BIGINT", "int": "BIGINT", "int64": "BIGINT", "integer": "INTEGER", "int32": "INTEGER",
    "smallint": "SMALLINT", "double": "DOUBLE", "float": "DOUBLE", "float64": "DOUBLE", "real": "FLOAT",
    "float32": "FLOAT", "varchar": "VARCHAR", "text": "VARCHAR", "string": "VARCHAR", "str": "VARCHAR",
    "bool": "BOOLEAN", "boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP",
    "datetime": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ", "time": "TIME",
}
_DECIMAL = re.compile(r"^decimal\(\s*\d+\s*,\s*\d+\s*\)$", re.I)
_REASONS = {"UNQUOTED VALUE": "unterminated or misplaced quote"}


# what DuckDB's sniffer may detect besides the arguments given, all carried from its sniff to the read
_CARRIED = frozenset({"auto_detect", "new_line", "skip", "comment", "columns", "dateformat", "timestampformat"})
# One file per thread; a dictionary only for columns with at most 1,000 values in a row group: DuckDB's
# writer otherwise tries one for every column, which costs a CSV of unique ids and numbers ~5% of its ingest
_PARQUET = "FORMAT parquet, PER_THREAD_OUTPUT true, DICTIONARY_SIZE_LIMIT 1000"
_INT_TYPES = ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT")
_WIDEN = "datamill-widen:"
_WIDER_WORDS = {
    "VARCHAR": ("text", "text"),
    "DOUBLE": ("fractional numbers", "DOUBLE"),
    "DECIMAL(38,0)": ("integers beyond 64 bits", "DECIMAL(38,0)"),
}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _strict_int(column: str) -> str:
    """``column`` (text) as BIGINT, or an error carrying :data:`_WIDEN` for a value that is not an integer.

    DuckDB's cast takes ``40000.5`` (as 40001), ``1e3``, ``0x1F``, ``0b101`` and
    ``1_000``. A value is kept when it is the canonical text of the number it
    casts to (one comparison, cheaper than looking for each of those forms),
    or else plain digits with a sign, leading zeros or spaces.
    """
    c = _ident(column)
    marker = _lit(_WIDEN + column + "\x1f")
    cast = f"try_cast({c} AS BIGINT)"
    return (
        f"CASE WHEN {cast}::VARCHAR = {c} THEN {cast} WHEN {c} IS NULL THEN NULL "
        f"WHEN regexp_full_match({c}, '\\s*[+-]?[0-9]+\\s*') THEN coalesce({cast}, error({marker} || {c})) "
        f"ELSE error({marker} || {c}) END AS {c}"
    )


@dataclass
class _Reject:
    """One row DuckDB (or the long-line scan) could not parse."""

    file: str
    line: int
    column: str | None
    kind: str  # DuckDB's error_type
    raw: str
    message: str


def _type_name(name: str) -> str:
    if _DECIMAL.match(name.strip()):
        return name.strip().upper()
    found = _TYPES.get(name.strip().lower())
    if found is None:
        raise ValueError(f"unknown type '{name}'{did_you_mean(name.lower(), _TYPES)}; known: {', '.join(sorted(_TYPES))}")
    return found


class CsvOptions(SourceOptions):
    """Keys of a ``type: csv`` source; anything not given is sniffed."""

    path: str
    delimiter: str | None = None
    header: bool | None = None
    encoding: str | None = None
    quote: str = '"'
    columns: dict[str, str] | None = None  # the whole schema, in file order: name -> type
    types: dict[str, str] = {}  # override the sniffed type of some columns
    null_values: list[str] = [""]
    # the longest line (a whole record, quoted newlines included) read as data; longer ones are bad rows
    max_line_bytes: int = MAX_LINE_BYTES

    @field_validator("max_line_bytes", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        return parse_size(value) if isinstance(value, str) else value

    @field_validator("max_line_bytes")
    @classmethod
    def _size_range(cls, value: int) -> int:
        if not 1024 <= value <= _MAX_LINE_LIMIT:
            raise ValueError(f"must be between 1 KiB and 1 GiB, got {value:,} bytes (e.g. 64MiB)")
        return value

    @field_validator("columns", "types")
    @classmethod
    def _known_types(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else {k: _type_name(v) for k, v in value.items()}

    @field_validator("delimiter", "quote")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError(f"must be one character, got {value!r}")
        return value


def parse_size(text: str) -> int:
    """``"64MiB"`` → 67108864: a byte count with an optional unit (KB, MB, GB, KiB, MiB, GiB).

    Examples
    --------
    >>> parse_size("16 MiB"), parse_size("5MB"), parse_size("2048")
    (16777216, 5000000, 2048)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _UNITS:
        raise ValueError(f"'{text}' is not a size: use bytes, or a number with KB, MB, GB, KiB, MiB or GiB")
    return int(float(m.group(1)) * _UNITS[unit])


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _struct(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in mapping.items()) + "}"


def _field_count_reason(raw: str, sniffed: Sniffed) -> str:
    import csv as pycsv

    text = raw.rstrip("\r\n")
    fields = next(pycsv.reader([text], delimiter=sniffed.delimiter, quotechar='"'), [])
    return f"{len(fields)} field{'s' * (len(fields) != 1)}, expected {len(sniffed.names)}"


def _small_buffers(files: list[Path], sniffed: Sniffed) -> bool:
    """Whether the files are read in buffers of one longest line (see ``_MIN_BUFFER``).

    Not UTF-16, whose line ends cannot be told from the bytes of other
    characters, nor gzip, which cannot be looked into without reading it all:
    no quick look can rule out an over-long line there, so DuckDB reads them
    in its own 16 lines' worth, as before (gzip is read by one thread anyway).
    """
    return not sniffed.encoding.startswith("utf-16") and not any(f.name.lower().endswith(".gz") for f in files)


_database: duckdb.DuckDBPyConnection | None = None
_database_lock = threading.Lock()


def _connect() -> duckdb.DuckDBPyConnection:
    """A new connection to the in-memory database this process's CSV reads share.

    Starting a DuckDB database costs ~15 ms, a connection to a running one
    nothing; each connection keeps its own temporary tables (the rejects of
    its read), so reads never see each other's.
    """
    global _database
    with _database_lock:
        if _database is None:
            _database = duckdb.connect()
        return _database.cursor()


@contextlib.contextmanager
def _watch(con: duckdb.DuckDBPyConnection, report: Callable[[float], None] | None) -> Iterator[None]:
    """Poll DuckDB's query progress from a thread while the caller runs a query."""
    if report is None:
        yield
        return
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.25):
            with contextlib.suppress(Exception):
                percent = con.query_progress()
                if percent >= 0:
                    report(percent / 100)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


class CsvSource(Source):
    """Reads one CSV file or a glob of them with the same layout.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "t.csv").write_text("id;name\\n1;ann\\n2;bob\\n")
    >>> src = CsvSource("t", CsvSource.Options(path="t.csv"), project_dir=folder)
    >>> src.read(ReadContext("t")).read_all().to_pydict()
    {'id': [1, 2], 'name': ['ann', 'bob']}
    """

    Options = CsvOptions
    options: CsvOptions

    def __init__(self, name: str, options: CsvOptions, *, project_dir: Path | None = None) -> None:
        super().__init__(name, options, project_dir=project_dir)
        # column -> (type, first line that needed it); learned on a read, kept for retries
        self._retyped: dict[str, tuple[str, int]] = {}

    def _files(self) -> list[Path]:
        return resolve_files(self.project_dir, self.options.path, (".csv", ".tsv", ".txt", ".csv.gz"))

    def fingerprint(self) -> str | None:
        return self._options_digest(files_fingerprint(self._files(), self.digests))

    def _prepare(self, ctx: ReadContext) -> tuple[list[Path], Sniffed]:
        files = self._files()
        ctx.where = files[0].name if len(files) == 1 else f"{self.options.path} ({len(files)} files)"
        for f in files:
            if f.stat().st_size == 0:
                raise SourceError(f"{f} is empty (0 bytes): expected a header and rows (check path:)")
        o = self.options
        sniffed = sniff(files[0], encoding=o.encoding, delimiter=o.delimiter, header=o.header, quote=o.quote)
        for message in sniffed.warnings:
            ctx.warn(message)
        for col, (kind, line) in self._retyped.items():
            what, read_as = _WIDER_WORDS.get(kind, ("other values", kind))
            after = f" after line {line}" if line else " past the rows DuckDB sampled"
            ctx.warn(f"column {col} holds {what}{after}; read as {read_as}")
        return files, sniffed

    def read(self, ctx: ReadContext) -> pa.RecordBatchReader:
        files, sniffed = self._prepare(ctx)
        if sniffed.header_only and len(files) == 1:
            ctx.warn(f"{files[0].name} has a header but no rows: read as an empty table")
            o = self.options
            types = {**dict(zip(sniffed.names, ["VARCHAR"] * len(sniffed.names))), **o.types, **(o.columns or {})}
            con = _connect()
            try:
                schema = con.sql("select " + ", ".join(f"null::{t} as \"{n}\"" for n, t in types.items())).arrow().schema
            finally:
                con.close()
            return pa.RecordBatchReader.from_batches(schema, iter(()))
        return self._open(files, sniffed, ctx)

    def read_to_parquet(self, ctx: ReadContext, folder: Path) -> list[Path] | None:
        """Parse in parallel straight into Parquet files in ``folder`` (DuckDB ``COPY``).

        The fast path for big files: no Arrow round trip through Python. Bad rows
        and type changes are handled exactly as in :meth:`read`.
        """
        files, sniffed = self._prepare(ctx)
        if sniffed.header_only:
            return None  # an empty table: the streaming path says so
        scan = Scan.open(files, sniffed, ctx)
        con = _connect()
        try:
            fallback = self._copy(con, scan.files, sniffed, ctx, folder)
            self._settle(con, sniffed, scan, fallback, ctx)
        finally:
            con.close()
            scan.close()
        return sorted(folder.glob("*.parquet"))

    def _copy(self, con: duckdb.DuckDBPyConnection, scan: list[Path], sniffed: Sniffed, ctx: ReadContext, folder: Path) -> bool:
        """COPY the CSV into Parquet files; return whether our own types were needed."""
        target = _lit(str(folder))
        for auto_detect in (True, False):
            try:
                query = self._strict_query(con, scan, sniffed, auto_detect=auto_detect)
                with _watch(con, ctx.on_progress):
                    con.execute(f"COPY ({query}) TO {target} ({_PARQUET})")
                return not auto_detect
            except duckdb.Error as exc:
                for stale in folder.glob("*.parquet"):
                    stale.unlink()
                if self._widen(exc):
                    raise RetryRead(f"{ctx.where}: an integer column holds other values; read again") from None
                if not auto_detect:
                    raise SourceError(f"{ctx.where}: cannot read as CSV: {short(str(exc).splitlines()[0])} "
                                      "(check delimiter:, quote:, encoding: and types:)") from None
        return True  # pragma: no cover - the loop returns or raises

    def _open(self, files: list[Path], sniffed: Sniffed, ctx: ReadContext) -> pa.RecordBatchReader:
        scan = Scan.open(files, sniffed, ctx)
        con = _connect()
        try:
            try:
                rel = con.sql(self._strict_query(con, scan.files, sniffed, auto_detect=True))
                fallback = False
            except duckdb.Error:
                # DuckDB's sniffer trips over malformed rows near the top: use our types.
                rel = con.sql(self._strict_query(con, scan.files, sniffed, auto_detect=False))
                fallback = True
            reader = rel.to_arrow_reader(BATCH_ROWS) if hasattr(rel, "to_arrow_reader") else rel.fetch_record_batch(BATCH_ROWS)
        except duckdb.Error as exc:
            con.close()
            scan.close()
            raise SourceError(f"{ctx.where}: cannot read as CSV: {short(str(exc).splitlines()[0])} "
                              "(check delimiter:, quote: and encoding:)") from None
        stream = self._stream(con, reader, sniffed, ctx, scan, fallback)
        return pa.RecordBatchReader.from_batches(reader.schema, stream)

    def _strict_query(self, con: duckdb.DuckDBPyConnection, files: list[Path], s: Sniffed, *, auto_detect: bool) -> str:
        """The read query, with integer columns parsed strictly.

        DuckDB reads ``40000.5`` into an integer column by rounding it, silently.
        Integer columns are read as text and cast here instead; a value that is
        not a 64-bit integer stops the read with a marker that :meth:`_widen`
        turns into a re-read with a wider type.
        """
        pinned = set(self.options.types) | set(self.options.columns or {}) | set(self._retyped)
        found = self._duckdb_sniff(con, files, s) if auto_detect else None
        if found is not None:  # sniffed once: the read itself sniffs nothing
            types, settings = found
            ints = [n for n, t in types.items() if t in _INT_TYPES and n not in pinned]
            columns = {n: "VARCHAR" if n in ints else t for n, t in types.items()}
            args = [*self._args(files, s), *settings, f"columns={_struct(columns)}"]
            text = f"select * from read_csv({', '.join(args)})"
            names = list(types)
        else:
            base = self._query(files, s, auto_detect=auto_detect)
            rel = con.sql(base)  # binding runs DuckDB's sniffer on a sample
            ints = [n for n, t in zip(rel.columns, rel.types) if str(t) in _INT_TYPES and n not in pinned]
            if not ints:
                return base
            text = self._query(files, s, auto_detect=auto_detect, as_text=ints)
            names = rel.columns
        if not ints:
            return text
        cols = ", ".join(_strict_int(c) if c in ints else _ident(c) for c in names)
        return f"select {cols} from ({text})"

    def _duckdb_sniff(self, con: duckdb.DuckDBPyConnection, files: list[Path],
                      s: Sniffed) -> tuple[dict[str, str], list[str]] | None:
        """DuckDB's sniff of the file: its column types, and what else it detected as ``read_csv`` arguments.

        Reading with exactly these (``auto_detect=false``) spares the read a
        sniff of its own, which runs on one core before the parallel read
        starts. ``None`` (the read then sniffs itself) for several files, whose
        types DuckDB merges from a few of them; for a schema given in full; and
        when DuckDB detected a setting not carried over here.
        """
        if len(files) != 1 or self.options.columns:
            return None
        args = [*self._args(files, s), *self._detect_args(s)]
        row = con.execute(
            "select Columns, NewLineDelimiter, SkipRows, Comment, DateFormat, TimestampFormat, Prompt "
            f"from sniff_csv({', '.join([_lit(str(files[0])), *args[1:]])})"
        ).fetchall()[0]
        columns, newline, skip, comment, date_format, timestamp_format, prompt = row
        given = {a.split("=", 1)[0] for a in args[1:]}
        if set(re.findall(r"[(,]\s*(\w+)=", prompt)) - given - _CARRIED:
            return None
        detected = {"new_line": newline, "skip": skip, "comment": None if comment == "(empty)" else comment,
                    "dateformat": date_format, "timestampformat": timestamp_format}
        settings = ["auto_detect=false"] + [
            f"{k}={v if isinstance(v, int) else _lit(str(v))}"
            for k, v in detected.items() if v is not None and k not in given
        ]
        return {c["name"]: c["type"] for c in columns}, settings

    def _buffer_bytes(self) -> int:
        return max(self.options.max_line_bytes, _MIN_BUFFER)

    def _widen(self, exc: Exception) -> bool:
        """Remember the wider type a strict integer column needs; True if ``exc`` was that."""
        m = re.search(_WIDEN + r"(.*?)\x1f(.*)", str(exc))
        if not m:
            return False
        column, value = m.group(1), m.group(2).splitlines()[0].strip()
        if re.fullmatch(r"\s*[+-]?\d+\s*", value):
            kind = "DECIMAL(38,0)"
        elif re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", value):
            kind = "DOUBLE"
        else:
            kind = "VARCHAR"
        self._retyped[column] = (kind, 0)
        return True

    def _args(self, files: list[Path], s: Sniffed) -> list[str]:
        """The ``read_csv`` arguments every read of this source passes: the files first."""
        o = self.options
        enc = DUCKDB_ENCODINGS.get(s.encoding, "utf-8")
        args = [
            "[" + ", ".join(_lit(str(f)) for f in files) + "]",
            f"delim={_lit(s.delimiter)}", f"quote={_lit(o.quote)}", f"escape={_lit(o.quote)}",
            f"header={str(s.header).lower()}", f"encoding={_lit(enc)}",
            f"max_line_size={o.max_line_bytes}", "nullstr=[" + ", ".join(map(_lit, o.null_values)) + "]",
            "store_rejects=true",
        ]
        if _small_buffers(files, s):
            args.append(f"buffer_size={self._buffer_bytes()}")
        if s.newline == "\r":
            args.append("new_line='\\r'")
        return args

    def _detect_args(self, s: Sniffed, as_text: list[str] = ()) -> list[str]:  # type: ignore[assignment]
        """Arguments of a read that lets DuckDB detect the types: our names, and the types already known."""
        overrides = {n: t for n, (t, _) in self._retyped.items()} | {c: "VARCHAR" for c in as_text} | self.options.types
        args = ["names=[" + ", ".join(_lit(n) for n in s.names) + "]"]
        return args + [f"types={_struct(overrides)}"] if overrides else args

    def _query(self, files: list[Path], s: Sniffed, *, auto_detect: bool, as_text: list[str] = ()) -> str:  # type: ignore[assignment]
        o = self.options
        args = self._args(files, s)
        if o.columns:
            args += ["auto_detect=false", f"columns={_struct(o.columns)}"]
        elif auto_detect:
            args += self._detect_args(s, as_text)
        else:
            overrides = {n: t for n, (t, _) in self._retyped.items()} | {c: "VARCHAR" for c in as_text} | o.types
            args += ["auto_detect=false", f"columns={_struct(dict(zip(s.names, s.types)) | overrides)}"]
        return f"select * from read_csv({', '.join(args)})"

    def _stream(self, con, reader, sniffed, ctx, scan, fallback) -> Iterator[pa.RecordBatch]:  # noqa: ANN001
        try:
            try:
                yield from reader
            except (duckdb.Error, OSError, pa.ArrowException) as exc:  # pyarrow re-raises DuckDB's as OSError
                if self._widen(exc):
                    raise RetryRead(f"{ctx.where}: an integer column holds other values; read again") from None
                raise SourceError(f"{ctx.where}: CSV read failed: {short(str(exc).splitlines()[0])} "
                                  "(check delimiter:, quote:, encoding: and types:)") from None
            self._settle(con, sniffed, scan, fallback, ctx)
        finally:
            con.close()
            scan.close()

    def _settle(self, con: duckdb.DuckDBPyConnection, sniffed: Sniffed, scan: Scan, fallback: bool,
                ctx: ReadContext) -> None:
        """After a full read: collect what DuckDB rejected and hand it to ``ctx`` (or ask for a re-read)."""
        rejects = self._rejects(con, sniffed, scan)
        # DuckDB drops over-long lines silently when it does not sniff, and lines longer than its buffer
        # even when it does: find them ourselves wherever one may be (a quick look proves most files hold none)
        if fallback or (_small_buffers(scan.files, sniffed) and any(
            may_hold_long_lines(f, self._buffer_bytes(), scan.newline) for f in scan.files
        )):
            rejects += self._unreported_long_lines(scan, rejects)
        self._report(rejects, sniffed, ctx)

    def _rejects(self, con: duckdb.DuckDBPyConnection, sniffed: Sniffed, scan: Scan) -> list[_Reject]:
        rows = con.sql(
            "select s.file_path, e.line, e.line_byte_position, e.column_name, e.error_type, e.csv_line, "
            "e.error_message from reject_errors e join reject_scans s "
            "on e.scan_id = s.scan_id and e.file_id = s.file_id order by s.file_path, e.line"
        ).fetchall()
        lines: dict[str, dict[int, int]] = {}
        if DUCKDB_ENCODINGS.get(sniffed.encoding, "utf-8") in ("utf-8", "latin-1"):
            # DuckDB counts records; people count lines, and quoted newlines differ.
            for path in {r[0] for r in rows}:
                lines[path] = physical_lines(Path(path), [r[2] for r in rows if r[0] == path], scan.newline)
        out = []
        for path, line, pos, column, kind, raw, message in rows:
            if kind in ("INVALID ENCODING", "INVALID UNICODE") and pos is not None:
                # DuckDB shows undecodable bytes as '?': keep the real ones, as \xNN escapes
                raw = raw_line(Path(path), pos, scan.newline, len((raw or "").encode()) + 64)
            physical = lines.get(path, {}).get(pos, line)
            out.append(_Reject(scan.name(path), scan.line(path, physical), column, kind,
                               (raw or "").lstrip("\r\n"), message or ""))
        return out

    def _unreported_long_lines(self, scan: Scan, rejects: list[_Reject]) -> list[_Reject]:
        """The lines over ``max_line_bytes`` DuckDB did not report (a full scan of the files)."""
        limit = self.options.max_line_bytes
        out = []
        for path in map(str, scan.files):
            name = scan.name(path)
            known = {r.line for r in rejects if r.file == name and r.kind == "LINE SIZE OVER MAXIMUM"}
            for copy_line, offset, size in long_lines(Path(path), limit, scan.newline):
                line = scan.line(path, copy_line)
                if line not in known:
                    raw = f"{raw_line(Path(path), offset, scan.newline)}… (cut: the line has {size:,} bytes)"
                    out.append(_Reject(name, line, None, "LINE SIZE OVER MAXIMUM", raw, f"Actual Size:{size} bytes"))
        return out

    def _reason(self, r: _Reject, sniffed: Sniffed) -> str:
        if r.kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
            m = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", r.message)
            if m:
                return f"{m.group(2)} fields, expected {m.group(1)}"
        if r.kind == "LINE SIZE OVER MAXIMUM":
            m = re.search(r"Actual Size:\s*(\d+)", r.message)
            size = f"{int(m.group(1)):,} bytes" if m else "longer than that"
            return f"line is {size}, over max_line_bytes ({self.options.max_line_bytes:,})"
        if r.kind in ("INVALID ENCODING", "INVALID UNICODE"):
            return not_valid(sniffed.encoding)
        if r.kind in _REASONS:
            return _REASONS[r.kind]
        where = f"column {r.column}: " if r.column else ""
        return where + r.message

    def _report(self, rejects: list[_Reject], sniffed: Sniffed, ctx: ReadContext) -> None:
        """Retype columns whose type changed (then retry), else hand bad rows to ``ctx``."""
        pinned = set(self.options.types) | set(self.options.columns or {})
        # A malformed row also fails casts; only well-formed rows say a type changed.
        malformed = {(r.file, r.line) for r in rejects if r.kind != "CAST"}
        changed: dict[str, tuple[str, int]] = {}
        for r in rejects:
            if r.kind == "CAST" and r.column and r.column not in pinned and (r.file, r.line) not in malformed:
                value = re.search(r"Could not convert string \"?'?(.*?)'?\"? to", r.message)
                numeric = bool(value and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value.group(1)))
                was = self._retyped.get(r.column, ("", 0))[0]
                kind = "DOUBLE" if numeric and was != "DOUBLE" and changed.get(r.column, ("DOUBLE",))[0] == "DOUBLE" else "VARCHAR"
                if kind == "DOUBLE" and value and re.fullmatch(r"[+-]?\d+", value.group(1)):
                    kind = "DECIMAL(38,0)"  # integers beyond 64 bits: exact, not rounded to a double
                first = min(r.line, changed.get(r.column, ("", r.line))[1])
                changed[r.column] = (kind, first)
        if changed:
            self._retyped.update(changed)
            cols = ", ".join(sorted(changed))
            raise RetryRead(f"{ctx.where}: column(s) {cols} changed type after DuckDB's sample; read again")
        by_line: dict[tuple[str, int], list[_Reject]] = {}
        for r in rejects:  # DuckDB may list one row once per problem
            by_line.setdefault((r.file, r.line), []).append(r)
        for (file, line), found in by_line.items():
            ctx.where = file
            structural = [r for r in found if r.kind != "CAST"] or found
            if any(r.kind in ("MISSING COLUMNS", "TOO MANY COLUMNS") for r in structural):
                # DuckDB reports a ragged row once per missing/extra field: count them once, from the text
                reason = _field_count_reason(found[0].raw, sniffed)
                ctx.bad_row(BadRow(line, reason, found[0].raw, None))
                continue
            reason = "; ".join(dict.fromkeys(self._reason(r, sniffed) for r in structural))
            ctx.bad_row(BadRow(line, reason, found[0].raw, found[0].column))
