"""A repeatable random sample of rows, for what needs rows side by side (correlations, targets).

Internal: may change. Whole table up to :data:`SAMPLE_ROWS` rows; above, a
uniform sample: Arrow ``take`` of random row numbers for in-memory tables,
else the engine's own Bernoulli sampling (:meth:`~datamill.engine.Dialect.sample_rows`). The sample becomes NumPy columns: numbers as float64 with NaN for
missing, categories as integer codes (-1 for missing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from datamill.engine import Frame
from datamill.engine.base import ArrowScan
from datamill.profile._sql import ProfileSQL, run

__all__ = ["SAMPLE_ROWS", "Sample", "draw_sample"]

SAMPLE_ROWS = 100_000
SEED = 7
MAX_CODES = 30  # categories kept per column (the rest is one "other" code)
FEW_VALUES = 20  # numeric columns with at most this many values are categories too
MAX_CELLS = 20_000_000  # sample rows x columns: wide tables get fewer rows


@dataclass
class Sample:
    rows: int
    of: int
    how: str
    numeric: dict[str, np.ndarray] = field(default_factory=dict)
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, list[str]] = field(default_factory=dict)

    @property
    def sampled(self) -> bool:
        return self.rows < self.of

    def describe(self) -> str:
        if not self.sampled:
            return f"all {self.of:,} rows"
        return f"a random sample of {self.rows:,} of the {self.of:,} rows ({self.how}, seed {SEED})"


def _fetch(frame: Frame, fq: ProfileSQL, names: list[str], rows: int, n: int) -> tuple[pa.Table, str]:
    cols = ", ".join(fq.ident(c) for c in names)
    in_memory = isinstance(frame.base, ArrowScan) and not frame.filters
    if rows <= n:
        return (frame.base.table.select(names) if in_memory else run(frame, f"SELECT {cols} FROM t", names)), "all rows"
    if in_memory:
        index = np.sort(np.random.default_rng(SEED).choice(rows, n, replace=False))
        return frame.base.table.select(names).take(pa.array(index)), "uniform, without replacement"
    # Bernoulli keeps each row independently (a uniform sample) and, unlike a
    # reservoir, need not hold every candidate row
    return run(frame, fq.d.sample_rows(cols, "t", n, rows, SEED), names), "Bernoulli"


def _as_float(col: pa.ChunkedArray) -> np.ndarray:
    import pyarrow.compute as pc

    if pa.types.is_decimal(col.type) or pa.types.is_integer(col.type):
        col = pc.cast(col, pa.float64())
    x = col.to_numpy(zero_copy_only=False).astype("float64", copy=False)
    return np.where(np.isfinite(x), x, np.nan)


def _as_codes(col: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    import pyarrow.compute as pc

    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    counts = pc.value_counts(col.drop_null()).to_pylist() if len(col) else []
    counts.sort(key=lambda v: -v["counts"])
    keep = [v["values"] for v in counts[:MAX_CODES]]
    index = pc.index_in(col, value_set=pa.array(keep, pa.string())).to_numpy(zero_copy_only=False)
    codes = np.where(np.isnan(index.astype("float64")), len(keep), index).astype("int64")
    codes[np.asarray(col.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = -1
    labels = [str(k) for k in keep]
    if len(counts) > MAX_CODES:
        labels.append("(other)")
    return codes, labels


def draw_sample(frame: Frame, fq: ProfileSQL, columns: dict[str, dict[str, Any]], rows: int,
                coded: frozenset[str] = frozenset()) -> Sample:
    """The sample, with numeric and categorical views of the columns that pair statistics use.

    Numeric columns with few values (and those in ``coded``) also get codes, as categories.
    """
    names = [n for n, c in columns.items() if c["kind"] in ("numeric", "categorical", "boolean") and c["count"]]
    n = max(1_000, min(SAMPLE_ROWS, MAX_CELLS // max(len(names), 1)))
    if not names or not rows:
        return Sample(0, rows, "nothing to sample")
    table, how = _fetch(frame, fq, names, rows, n)
    s = Sample(table.num_rows, rows, how)
    for name in names:
        col, c = table.column(name), columns[name]
        if c["kind"] == "numeric":
            s.numeric[name] = _as_float(col)
        few = c["kind"] == "numeric" and c.get("distinct_exact") and c["distinct"] <= FEW_VALUES
        if c["kind"] in ("categorical", "boolean") or few or name in coded:
            s.codes[name], s.labels[name] = _as_codes(col)
    return s
