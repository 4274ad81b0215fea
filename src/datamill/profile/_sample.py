"""The rows that statistics needing rows side by side use: a random sample, or every row.

Internal: may change. In the default mode, tables up to :data:`SAMPLE_ROWS`
rows are used whole; above, a uniform sample: Arrow ``take`` of random row
numbers for in-memory tables, else the engine's own Bernoulli sampling
(:meth:`~datamill.engine.Dialect.sample_rows`). In exact mode every row is
fetched. The rows become NumPy columns: numbers as float64 with NaN for
missing, categories as integer codes (-1 for missing). Conversions go
through Arrow buffers, not ``to_numpy`` or ``pa.array``, which import pandas (0.3 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.engine import Frame
from datamill.engine.base import ArrowScan
from datamill.exceptions import ConfigError
from datamill.profile._columns import QUANTILES
from datamill.profile._ranks import Ranking, rank
from datamill.profile._sql import ProfileSQL, run

__all__ = ["EXACT_MAX_CELLS", "SAMPLE_ROWS", "Rows", "Sample", "add_codes", "dkw_error", "fetch_rows", "floats",
           "rank_numbers", "set_quantiles", "start_sample"]

SAMPLE_ROWS = 100_000
SEED = 7
MAX_CODES = 30  # categories kept per column (the rest is one "other" code)
FEW_VALUES = 20  # numeric columns with at most this many values are categories too
MAX_CELLS = 20_000_000  # sample rows x columns: wide tables get fewer rows
EXACT_MAX_CELLS = 100_000_000  # exact mode: values held in memory for the pair statistics
BYTES_PER_VALUE = 45  # exact mode's peak memory per value held (measured: 800 MB for 1M rows x 19 columns)
CONFIDENCE = 0.99  # of the stated error of sampled quantiles


@dataclass
class Rows:
    """Rows fetched from the table (``of`` rows in all): a sample, or every row."""

    table: pa.Table
    of: int
    how: str

    @property
    def n(self) -> int:
        return self.table.num_rows

    @property
    def sampled(self) -> bool:
        return self.n < self.of


@dataclass
class Sample:
    """The fetched rows as NumPy, and what one sort of each numeric column gives.

    ``numeric``: float64, NaN where missing or not finite; ``ranks``: their
    average ranks (NaN stays NaN), and ``ranking`` how they were ranked (for
    :func:`~datamill.profile._ranks.ranks_within`); ``quantiles``: :data:`QUANTILES`
    of the finite values; ``distinct``: exact distinct counts, infinities
    included (only when the rows are every row); ``codes``/``labels``:
    categories as integers.
    """

    rows: int
    of: int
    how: str
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    ranks: dict[str, np.ndarray] = field(default_factory=dict)
    ranking: dict[str, Ranking] = field(default_factory=dict)
    quantiles: dict[str, list[float]] = field(default_factory=dict)
    finite: dict[str, int] = field(default_factory=dict)  # finite values per numeric column
    distinct: dict[str, int] = field(default_factory=dict)
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, list[str]] = field(default_factory=dict)

    @property
    def sampled(self) -> bool:
        return self.rows < self.of

    def describe(self) -> str:
        if not self.sampled:
            return f"all {self.of:,} rows"
        return f"a random sample of {self.rows:,} of the {self.of:,} rows ({self.how}, seed {SEED})"


def dkw_error(n: int, confidence: float = CONFIDENCE) -> float:
    """Largest gap between a sample's and the table's share of values below any x, at ``confidence``.

    The Dvoretzky-Kiefer-Wolfowitz inequality (Massart's constant) for a
    uniform sample of ``n`` values; sampling without replacement only narrows it.

    Examples
    --------
    >>> round(dkw_error(100_000), 5)
    0.00515
    """
    return math.sqrt(math.log(2 / (1 - confidence)) / (2 * n)) if n else 1.0


def pair_columns(columns: dict[str, dict[str, Any]]) -> list[str]:
    """Columns that pair statistics (and sampled quantiles) read: numbers, categories, booleans with values."""
    return [n for n, c in columns.items() if c["kind"] in ("numeric", "categorical", "boolean") and c["count"]]


def fetch_rows(frame: Frame, fq: ProfileSQL, columns: dict[str, dict[str, Any]], rows: int, *, exact: bool) -> Rows:
    """The rows of :func:`pair_columns`: all of them in exact mode, else a sample of at most :data:`SAMPLE_ROWS`."""
    names = pair_columns(columns)
    if not names or not rows:
        return Rows(pa.table({}), rows, "nothing to sample")
    if exact:
        if rows * len(names) > EXACT_MAX_CELLS:
            raise ConfigError(
                f"exact mode would hold {rows * len(names):,} values ({rows:,} rows x {len(names)} columns) in memory "
                f"for correlations, scatter plots and target analysis (about {rows * len(names) * BYTES_PER_VALUE / 2**30:.0f} "
                f"GB), more than its limit of {EXACT_MAX_CELLS:,}: profile without exact (the default mode computes "
                "those on a random sample), or profile fewer columns")
        n = rows
    else:
        n = max(1_000, min(SAMPLE_ROWS, MAX_CELLS // len(names)))
    cols = ", ".join(fq.ident(c) for c in names)
    in_memory = isinstance(frame.base, ArrowScan) and not frame.filters
    if rows <= n:
        table = frame.base.table.select(names) if in_memory else run(frame, f"SELECT {cols} FROM t", names)
        return Rows(table, rows, "all rows")
    if in_memory:
        index = np.sort(np.random.default_rng(SEED).choice(rows, n, replace=False))
        return Rows(frame.base.table.select(names).take(_arrow_ints(index)), rows, "uniform, without replacement")
    return Rows(run(frame, fq.d.sample_rows(cols, "t", n, rows, SEED), names), rows, "Bernoulli")


def _arrow_ints(x: np.ndarray) -> pa.Array:
    """Whole numbers as an Arrow array (not ``pa.array``, which imports pandas to check what it was given)."""
    x = np.ascontiguousarray(x, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(x), [None, pa.py_buffer(x)])


def _native(t: pa.DataType) -> np.dtype | None:
    """The NumPy type of an Arrow integer or float type's values buffer."""
    if pa.types.is_floating(t):
        return np.dtype(f"float{t.bit_width}")
    if pa.types.is_integer(t):
        return np.dtype(f"{'int' if pa.types.is_signed_integer(t) else 'uint'}{t.bit_width}")
    return None


def _nulls(arr: pa.Array) -> np.ndarray:
    """Where ``arr`` is NULL, from its validity bitmap."""
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little", count=arr.offset + len(arr))[arr.offset:] == 0


def _to_numpy(col: pa.ChunkedArray | pa.Array, dtype: Any, fill: Any) -> np.ndarray:
    """An integer or float column as one ``dtype`` array, NULL as ``fill``: one copy, chunk by chunk."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    out = np.empty(len(col), dtype)
    pos = 0
    for arr in chunks:
        n = len(arr)
        if n:
            native = _native(arr.type)
            out[pos:pos + n] = np.frombuffer(arr.buffers()[1], dtype=native, count=n, offset=arr.offset * native.itemsize)
            if arr.null_count:
                out[pos:pos + n][_nulls(arr)] = fill
        pos += n
    return out


def floats(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Numbers as float64: NULL and NaN as NaN, infinities kept."""
    if _native(col.type) is None:  # decimals
        col = pc.cast(col, pa.float64())
    return _to_numpy(col, np.float64, math.nan)


def _as_codes(col: pa.ChunkedArray) -> tuple[np.ndarray, list[str], int]:
    """Codes 0.. by falling frequency (the :data:`MAX_CODES` most frequent values; then one code for the rest),
    -1 for missing; the values' labels; and how many distinct values there are."""
    if not isinstance(col, pa.ChunkedArray):
        col = pa.chunked_array([col])
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    col = col.unify_dictionaries()
    values = col.chunk(0).dictionary if col.num_chunks else pa.nulls(0, pa.string())
    index = _to_numpy(pa.chunked_array([c.indices for c in col.chunks], col.type.index_type), np.int64, -1)
    counts = np.bincount(index + 1, minlength=len(values) + 1)[1:]
    order = np.argsort(-counts, kind="stable")  # ties: first seen first
    keep = order[:MAX_CODES][counts[order[:MAX_CODES]] > 0]
    lookup = np.full(len(values) + 1, len(keep), dtype=np.int64)  # the last slot: missing (index -1)
    lookup[keep], lookup[-1] = np.arange(len(keep)), -1
    labels = [str(v) for v in pc.cast(values.take(_arrow_ints(keep)), pa.string()).to_pylist()]
    distinct = int(np.count_nonzero(counts))
    if distinct > MAX_CODES:
        labels.append("(other)")
    return lookup[index], labels, distinct


def start_sample(rows: Rows, columns: dict[str, dict[str, Any]]) -> Sample:
    """The fetched rows' numeric columns as floats (ranked later: :func:`rank_numbers`)."""
    s = Sample(rows.n, rows.of, rows.how)
    for name in rows.table.column_names:
        if columns[name]["kind"] != "numeric":
            continue
        raw = floats(rows.table.column(name))
        finite = np.isfinite(raw)
        every = bool(finite.all())
        s.numeric[name] = raw if every else np.where(finite, raw, np.nan)
        s.finite[name] = len(raw) if every else int(finite.sum())
        if not rows.sampled:  # exact distinct counts: the ranking adds the finite values'
            s.distinct[name] = 0 if every else int(np.isposinf(raw).any()) + int(np.isneginf(raw).any())
    return s


def rank_numbers(s: Sample, whole: frozenset[str]) -> None:
    """Each numeric column's average ranks, :data:`QUANTILES` and (when the sample is every row) exact
    distinct count, from one sort each (``whole``: columns of whole numbers, counted instead)."""
    for name, x in s.numeric.items():
        if not s.finite[name]:
            continue
        s.ranks[name], s.quantiles[name], distinct, s.ranking[name] = rank(x, QUANTILES, whole=name in whole)
        if name in s.distinct:
            s.distinct[name] += distinct


def set_quantiles(columns: dict[str, dict[str, Any]], s: Sample) -> dict[str, int]:
    """Each numeric column's quantiles and IQR from the sample's; returns how many values each used."""
    for name, qs in s.quantiles.items():
        c = columns[name]
        c["quantiles"] = {f"{q:g}": v for q, v in zip(QUANTILES, qs, strict=True)}
        c["iqr"] = c["quantiles"]["0.75"] - c["quantiles"]["0.25"]
    return {name: s.finite[name] for name in s.quantiles}


def add_codes(s: Sample, rows: Rows, columns: dict[str, dict[str, Any]], coded: frozenset[str] = frozenset(), *,
              numbers: bool = True) -> Sample:
    """Codes for categories and booleans; with ``numbers``, also for numbers with few values (their distinct
    counts known by then) and the columns in ``coded``. Exact distinct counts of categories when every row is here."""
    for name in rows.table.column_names:
        if name in s.codes:
            continue
        c = columns[name]
        few = numbers and c["kind"] == "numeric" and c.get("distinct_exact") and c["distinct"] <= FEW_VALUES
        if c["kind"] in ("categorical", "boolean") or few or (numbers and name in coded):
            s.codes[name], s.labels[name], distinct = _as_codes(rows.table.column(name))
            if not rows.sampled and c["kind"] != "numeric":
                s.distinct[name] = distinct
    return s
