"""The files DuckDB actually reads for a CSV source, and the way back to the user's lines.

DuckDB reads UTF-8, UTF-16 and latin-1 itself. A file in any other encoding is
copied to UTF-8 first, decoding strictly: a line whose bytes are not valid in
that encoding is never replaced with ``�``; it goes to the :class:`ReadContext`
as a bad row (its raw bytes kept as ``\\xNN`` escapes) and is left out of the
copy, and the line numbers DuckDB reports on the copy are mapped back to the
user's file. Internal: may change.
"""

from __future__ import annotations

import codecs
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datamill.exceptions import SourceError
from datamill.sources._csv_sniff import DUCKDB_ENCODINGS, Sniffed, open_bytes
from datamill.sources.base import BadRow, ReadContext

__all__ = ["Scan", "physical_lines", "long_lines", "may_hold_long_lines", "raw_line", "not_valid"]

_CHUNK = 8 << 20


def not_valid(encoding: str, what: str = "") -> str:
    """The reason given for a row whose bytes do not decode: it names the option that fixes it.

    Examples
    --------
    >>> not_valid("cp1252", "byte 0x81 at column 6")
    "byte 0x81 at column 6 is not valid cp1252 (wrong encoding? set encoding: to the file's real one)"
    """
    said = f"{what} is" if what else "holds bytes that are"
    return f"{said} not valid {encoding} (wrong encoding? set encoding: to the file's real one)"


@dataclass
class Scan:
    """What DuckDB reads (``files``), and how each maps back to the user's file."""

    files: list[Path]
    originals: dict[str, Path]
    newline: bytes = b"\n"
    dropped: dict[str, list[int]] = field(default_factory=dict)  # copy -> original lines left out, sorted
    tmp: Path | None = None

    @classmethod
    def open(cls, files: list[Path], sniffed: Sniffed, ctx: ReadContext) -> Scan:
        """The originals when DuckDB reads their encoding, else strict UTF-8 copies in a temporary folder."""
        newline = sniffed.newline.encode()
        if sniffed.encoding in DUCKDB_ENCODINGS:
            return cls(files, {str(f): f for f in files}, newline)
        tmp = Path(tempfile.mkdtemp(prefix="datamill-csv-"))
        scan = cls([], {}, newline, tmp=tmp)
        try:
            for i, src in enumerate(files):
                dst = tmp / f"{i}_{src.name}"
                scan.dropped[str(dst)] = _transcode(src, dst, sniffed, ctx)
                scan.files.append(dst)
                scan.originals[str(dst)] = src
        except BaseException:
            scan.close()
            raise
        return scan

    def name(self, path: str) -> str:
        """The user's file name for a file DuckDB read."""
        return self.originals.get(path, Path(path)).name

    def line(self, path: str, line: int) -> int:
        """The user's line number for ``line`` of the file DuckDB read."""
        for gone in self.dropped.get(path, ()):  # sorted: each dropped line at or before shifts it down
            if gone <= line:
                line += 1
            else:
                break
        return line

    def close(self) -> None:
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def _transcode(src: Path, dst: Path, sniffed: Sniffed, ctx: ReadContext) -> list[int]:
    """Copy ``src`` to UTF-8 at ``dst``, strictly; return the lines left out (reported to ``ctx``)."""
    encoding = sniffed.encoding
    nl = sniffed.newline.encode(encoding) if _ascii_lines(encoding) else b""
    dropped: list[int] = []
    with open_bytes(src) as fin, open(dst, "wb") as fout:
        if not nl:  # UTF-32 and the like: lines cannot be cut from the bytes, so no bad rows
            _transcode_whole(src, fin, fout, encoding)
            return dropped
        line, rest = 1, b""
        while True:
            chunk = fin.read(_CHUNK)
            data = rest + chunk
            cut = data.rfind(nl) + 1 if chunk else len(data)
            if chunk and cut == 0:  # one line longer than a chunk: keep reading
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            if block:
                try:
                    fout.write(block.decode(encoding).encode("utf-8"))
                except UnicodeDecodeError:
                    _by_line(src, block, line, nl, fout, sniffed, ctx, dropped)
                line += block.count(nl)
            if not chunk:
                return dropped


def _ascii_lines(encoding: str) -> bool:
    """Whether line ends are the ASCII bytes in ``encoding`` (and never part of another character)."""
    try:
        return "\n\r".encode(encoding) == b"\n\r" and not encoding.startswith(("utf-16", "utf-32"))
    except (UnicodeError, LookupError):
        return False


def _by_line(src: Path, block: bytes, first: int, nl: bytes, fout, sniffed: Sniffed,  # noqa: ANN001
             ctx: ReadContext, dropped: list[int]) -> None:
    encoding = sniffed.encoding
    pieces = block.split(nl)
    for i, piece in enumerate(pieces):
        end = nl if i < len(pieces) - 1 else b""
        if not piece and not end:
            continue
        try:
            fout.write((piece.decode(encoding) + end.decode(encoding)).encode("utf-8"))
            continue
        except UnicodeDecodeError as exc:
            bad = piece[exc.start]
            where = f"byte 0x{bad:02X} at column {exc.start + 1}"
        number = first + i
        if number == 1 and sniffed.header:
            raise SourceError(
                f"{src.name} line 1 (the header): {where} is not valid {encoding} "
                "(set encoding: to the file's real encoding, e.g. utf-8, cp1252 or latin-1)"
            )
        ctx.where = src.name
        raw = piece.rstrip(b"\r\n").decode(encoding, errors="backslashreplace")
        ctx.bad_row(BadRow(number, not_valid(encoding, where), raw))
        dropped.append(number)


def _transcode_whole(src: Path, fin, fout, encoding: str) -> None:  # noqa: ANN001
    decoder = codecs.getincrementaldecoder(encoding)()
    done = 0
    try:
        while chunk := fin.read(_CHUNK):
            fout.write(decoder.decode(chunk).encode("utf-8"))
            done += len(chunk)
        fout.write(decoder.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{src.name}: byte offset {done + exc.start:,} is not valid {encoding} "
            "(set encoding: to the file's real encoding)"
        ) from None


def physical_lines(file: Path, positions: list[int], newline: bytes = b"\n") -> dict[int, int]:
    """Map DuckDB's byte positions to 1-based physical line numbers (quoted newlines count)."""
    out: dict[int, int] = {}
    todo = sorted(set(positions))
    seen, lines, k = 0, 0, 0
    with open_bytes(file) as fh:
        while k < len(todo) and (chunk := fh.read(_CHUNK)):
            end = seen + len(chunk)
            while k < len(todo) and todo[k] <= end:
                out[todo[k]] = lines + chunk.count(newline, 0, todo[k] - seen) + 1
                k += 1
            lines += chunk.count(newline)
            seen = end
    return out


def may_hold_long_lines(file: Path, length: int, newline: bytes = b"\n") -> bool:
    """Whether ``file`` may hold a line of ``length`` bytes or more; ``False`` proves that it does not.

    Such a line covers a whole aligned block of ``length // 2`` bytes, so a line end in every
    block is the proof: a few KiB read per block from its start, not the whole file. A compressed
    file cannot be read that way, so it may always hold one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = f.write_bytes(b"id,text\\n" + b"1,abc\\n" * 1000 + b"2," + b"x" * 5000 + b"\\n")
    >>> may_hold_long_lines(f, 1000), may_hold_long_lines(f, 10_000)
    (True, False)
    """
    if file.name.lower().endswith(".gz"):
        return True
    block = max(length // 2, 1)
    size = file.stat().st_size
    with open(file, "rb") as fh:
        for start in range(0, size - block + 1, block):
            fh.seek(start)
            left = block
            while left > 0:
                chunk = fh.read(min(1 << 16, left))
                if newline in chunk:
                    break
                left -= len(chunk)
            else:
                return True
    return False


def long_lines(file: Path, limit: int, newline: bytes = b"\n") -> list[tuple[int, int, int]]:
    """``(line, offset, bytes)`` of each line longer than ``limit`` bytes (a bounded-memory scan)."""
    found, last_nl, base, line = [], -1, 0, 1
    with open_bytes(file) as fh:
        while chunk := fh.read(_CHUNK):
            nl = np.flatnonzero(np.frombuffer(chunk, np.uint8) == newline[0]) + base
            starts = np.concatenate(([last_nl], nl[:-1])) if len(nl) else np.array([], dtype=np.int64)
            for i in np.flatnonzero(nl - starts - 1 > limit):
                found.append((line + int(i), int(starts[i]) + 1, int(nl[i] - starts[i] - 1)))
            if len(nl):
                last_nl, line = int(nl[-1]), line + len(nl)
            base += len(chunk)
    if base - last_nl - 1 > limit:
        found.append((line, last_nl + 1, base - last_nl - 1))
    return found


def raw_line(file: Path, offset: int, newline: bytes = b"\n", limit: int = 1000, encoding: str = "utf-8") -> str:
    """The line at byte ``offset``, at most ``limit`` bytes, undecodable bytes as ``\\xNN`` escapes.

    DuckDB's ``line_byte_position`` may point one or two bytes into the line,
    so the start is found by looking back for the line end before it.
    """
    start = max(0, offset - 2)
    with open_bytes(file) as fh:
        fh.seek(start)
        data = fh.read(limit + offset - start)
    back = data.rfind(newline, 0, offset - start)
    data = data[back + 1:] if back >= 0 else data[offset - start:] if start else data
    end = data.find(newline)
    if end >= 0:
        data = data[:end]
    return data[:limit].strip(b"\r\n").decode(encoding, errors="backslashreplace")
