"""Sniffing a CSV file's encoding, dialect, header and column types from a sample.

DuckDB sniffs too, but its sniffer gives up on a file whose first rows are
malformed (a ragged row, an unterminated quote, a 100 MB line), which is exactly
when a clear answer matters. This sniffer reads the first MiB with Python's
``csv`` module, never fails on bad rows, and decides what DuckDB is then told.
Internal: may change.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from datamill.exceptions import SourceError

SAMPLE_BYTES = 1 << 20
# Python's csv module refuses fields over 128 KiB by default; a sample may hold a 1 MiB one.
csv.field_size_limit(max(csv.field_size_limit(), 2 * SAMPLE_BYTES))
DELIMITERS = (",", ";", "\t", "|")
# DuckDB reads these itself; any other encoding is transcoded to UTF-8 first.
DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "latin-1": "latin-1"}
_ALIASES = {"utf8": "utf-8", "utf-8-sig": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1",
            "iso8859-1": "latin-1", "utf16": "utf-16", "utf-16le": "utf-16", "utf-16be": "utf-16"}
_INT = re.compile(r"^[+-]?\d{1,18}$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|nan)$", re.I)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TS = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


@dataclass
class Sniffed:
    """What the sample says about a file."""

    encoding: str  # a Python codec name
    delimiter: str
    header: bool
    names: list[str]
    types: list[str]  # DuckDB type names, for when DuckDB's own sniffer gives up
    header_only: bool = False
    warnings: list[str] = field(default_factory=list)
    newline: str = "\n"  # "\r" for old Mac files (Excel's "CSV (Macintosh)")


def open_bytes(file: Path):  # noqa: ANN201 - a binary file object
    """``file`` opened for reading bytes, decompressed when its name ends in ``.gz``."""
    return gzip.open(file, "rb") if file.name.lower().endswith(".gz") else open(file, "rb")


# Leading bytes of files people point a CSV source at by mistake.
_MAGIC = [
    (b"PK\x03\x04", "a ZIP archive (an .xlsx or .ods workbook?): export it as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Office file (.xls?): export it as CSV"),
    (b"%PDF", "a PDF document"),
    (b"PAR1", "a Parquet file: use type: parquet"),
    (b"\x1f\x8b", "gzip-compressed: name it .csv.gz so it is decompressed"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"SQLite format 3", "a SQLite database"),
]
# C0 control characters other than tab, newline, carriage return and form feed
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def binary_reason(sample: bytes) -> str | None:
    """Why ``sample`` (a file's first bytes) is not text, or ``None`` when it may be.

    Examples
    --------
    >>> binary_reason(b"id,name\\n1,ann\\n") is None
    True
    >>> binary_reason(b"PK\\x03\\x04rest")
    'a ZIP archive (an .xlsx or .ods workbook?): export it as CSV'
    """
    for magic, what in _MAGIC:
        if sample.startswith(magic):
            return what
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    head = sample[:65536]
    controls = len(_CONTROL.findall(head))
    if controls >= 4 and controls > 0.05 * len(head):
        nul = head.count(0)
        if nul > 0.3 * len(head) and (head[1::2].count(0) > 0.9 * nul or head[0::2].count(0) > 0.9 * nul):
            return "UTF-16 text without a byte-order mark: set encoding: utf-16"
        return f"binary data ({controls:,} control bytes in its first {len(head):,})"
    return None


def normalize_encoding(name: str) -> str:
    """``UTF8`` → ``utf-8``; unknown names raise :class:`SourceError`."""
    key = name.strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    try:
        codecs.lookup(key)
    except LookupError:
        raise SourceError(f"unknown encoding '{name}' (use e.g. utf-8, latin-1, cp1252, utf-16)") from None
    return key


def _detect_encoding(sample: bytes, file: Path, warnings: list[str]) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError as exc:
        bad = exc.start
    # A UTF-8 file with a few stray bytes: reading it all as cp1252 would garble
    # every accent; read it as UTF-8 and let the rows with the stray bytes be bad rows.
    text = sample.decode("utf-8", errors="surrogateescape")
    stray = sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
    wide = sum(1 for ch in text if ch >= "\x80" and not "\udc80" <= ch <= "\udcff")
    if wide > stray:
        warnings.append(
            f"{file.name} is UTF-8 with {stray:,} byte(s) that are not (first 0x{sample[bad]:02X} at offset {bad}): "
            "their rows are bad rows (set encoding: if the file is in another encoding)"
        )
        return "utf-8"
    # Bytes 0x80-0x9F are control characters in latin-1 but letters and
    # punctuation (€, “, ”) in Windows-1252, the usual origin of such files.
    guess = "cp1252" if re.search(rb"[\x80-\x9f]", sample) else "latin-1"
    try:
        sample.decode(guess)
    except UnicodeDecodeError:
        guess = "latin-1"
    warnings.append(
        f"{file.name} is not valid UTF-8 (byte 0x{sample[bad]:02X} at offset {bad}); "
        f"read as {guess} (set encoding: to be sure)"
    )
    return guess


_BOOLEAN = re.compile(r"^(?:[tT][rR][uU][eE]|[fF][aA][lL][sS][eE])$")
_KINDS = [("BIGINT", _INT), ("DOUBLE", _FLOAT), ("BOOLEAN", _BOOLEAN), ("DATE", _DATE), ("TIMESTAMP", _TS)]


def _every(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` (``^...$``) repeated over values joined by NUL: one regex pass for a whole column."""
    body = pattern.pattern.removeprefix("^").removesuffix("$")
    return re.compile(f"(?:{body})(?:\\x00(?:{body}))*", pattern.flags)


_EVERY = [(name, _every(pattern)) for name, pattern in _KINDS]


def value_type(values: list[str]) -> str:
    """The narrowest DuckDB type that every non-empty value fits.

    Examples
    --------
    >>> value_type(["1", " -2 ", ""]), value_type(["1", "2.5"]), value_type(["TRUE", "false"]), value_type(["a"])
    ('BIGINT', 'DOUBLE', 'BOOLEAN', 'VARCHAR')
    """
    seen = [v for v in map(str.strip, values) if v]
    if not seen:
        return "VARCHAR"
    joined = "\x00".join(seen)
    if joined.count("\x00") == len(seen) - 1:  # no value holds a NUL itself
        return next((name for name, every in _EVERY if every.fullmatch(joined)), "VARCHAR")
    return next((name for name, one in _KINDS if all(one.fullmatch(v) for v in seen)), "VARCHAR")


def _pick_delimiter(text: str, quote: str) -> str:
    """The candidate that splits the most lines into the same number (>1) of fields."""
    best, best_score = ",", (-1.0, 0)
    for cand in DELIMITERS:
        counts = Counter(len(r) for r in csv.reader(io.StringIO(text), delimiter=cand, quotechar=quote) if r)
        if not counts:
            continue
        fields, hits = counts.most_common(1)[0]
        if fields < 2:
            continue
        score = (hits / sum(counts.values()), fields)
        if score > best_score:
            best, best_score = cand, score
    return best


def _fits(kind: str, value: str) -> bool:
    value = value.strip()
    if not value:
        return True
    got = value_type([value])
    return got == kind or (kind, got) in (("DOUBLE", "BIGINT"), ("TIMESTAMP", "DATE"))


def _has_header(rows: list[list[str]]) -> bool:
    """DuckDB's rule: the first row is a header if it does not fit the types below it."""
    first, rest = rows[0], rows[1:]
    if not rest:
        return True
    width = len(first)
    typed = False
    for i in range(width):
        kind = value_type([r[i] for r in rest if len(r) == width])
        if kind != "VARCHAR":
            typed = True
            if not _fits(kind, first[i]):
                return True
    if typed:
        return False
    # All text: a header is a row of non-empty names that never recur as values.
    return all(
        v.strip() and all(len(r) != width or r[i] != v for r in rest) for i, v in enumerate(first)
    )


def dedupe(names: list[str]) -> tuple[list[str], list[str]]:
    """Rename repeated (and empty) column names: ``a, a`` → ``a, a_2``; returns names and renames."""
    out: list[str] = []
    renamed: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(names):
        name = raw.strip() or f"column{i}"
        base, n = name, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        if name != raw:
            renamed.append(f"'{raw}' → '{name}'")
        seen.add(name)
        out.append(name)
    return out, renamed


_TYPE_ROWS = 5_000
_DELIMITER_CHARS = 64 << 10


def _head(text: str, chars: int) -> str:
    """``text`` up to the first line end after ``chars`` characters."""
    end = text.find("\n", chars)
    return text if end < 0 else text[:end]


def sniff(file: Path, *, encoding: str | None, delimiter: str | None, header: bool | None, quote: str) -> Sniffed:
    """Sniff ``file`` from its first MiB; options given by the user always win."""
    with open_bytes(file) as fh:
        try:
            sample = fh.read(SAMPLE_BYTES)
            whole = len(sample) < SAMPLE_BYTES or not fh.read(1)
        except (OSError, EOFError) as exc:  # a corrupt .gz
            raise SourceError(f"{file.name} cannot be decompressed: {exc} (check path:)") from None
    warnings: list[str] = []
    enc = normalize_encoding(encoding) if encoding else None
    if enc is None or not enc.startswith(("utf-16", "utf-32")):
        why = binary_reason(sample)
        if why is not None:
            raise SourceError(f"{file.name} is not a CSV file: it is {why} (check path:)")
    enc = enc or _detect_encoding(sample, file, warnings)
    text = codecs.getincrementaldecoder(enc)(errors="replace").decode(sample, final=whole)
    text = text.lstrip("\ufeff")
    newline = "\r" if "\r" in text and "\n" not in text else "\n"
    if newline == "\r":  # old Mac line ends: Python's csv module wants \n
        text = text.replace("\r", "\n")
    if not whole:
        cut = max(text.rfind("\n"), 0)
        if cut == 0:
            raise SourceError(
                f"{file.name} line 1 is longer than {SAMPLE_BYTES:,} bytes: is it really a CSV file? "
                "(check path:, delimiter: and encoding:)"
            )
        text = text[:cut]
    try:
        # the delimiter shows in the first few hundred lines; types and the header rule need a few thousand rows
        delim = delimiter or _pick_delimiter(_head(text, _DELIMITER_CHARS), quote)
        reader = csv.reader(io.StringIO(text), delimiter=delim, quotechar=quote)
        rows = [r for r in itertools.islice(reader, _TYPE_ROWS + 2) if r]
        cut = next(reader, None) is None and not whole  # the sample's last record may be cut short
    except csv.Error as exc:
        raise SourceError(
            f"{file.name}: cannot make out its CSV layout ({exc}) (set delimiter:, quote: and header:)"
        ) from None
    if cut and len(rows) > 2:
        rows = rows[:-1]  # the last record may be cut by the sample's end (quoted newline)
    if not rows:
        raise SourceError(f"{file.name} has no rows, only blank lines (check path:)")
    # types and the header rule need a few thousand rows, not the whole MiB
    typed = rows[: _TYPE_ROWS + 1]
    has_header = _has_header(typed) if header is None else header
    width = len(rows[0])
    if has_header:
        names, renamed = dedupe(rows[0])
        if renamed:
            warnings.append(f"{file.name}: repeated column names renamed: {', '.join(renamed)}")
        body = rows[1:]
    else:
        names, body = [f"column{i}" for i in range(width)], rows
    columns = list(zip(*(r for r in body[:_TYPE_ROWS] if len(r) == width))) or [()] * width
    types = [value_type(list(values)) for values in columns]
    return Sniffed(enc, delim, has_header, names, types, header_only=whole and has_header and not body,
                   warnings=warnings, newline=newline)
