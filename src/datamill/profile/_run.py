"""``profile()``: the passes over a table, in order, and the :class:`Profile` they make.

Internal: may change. Five queries on the engine whatever the width (more
only past :data:`~datamill.profile._columns.CHUNK` columns): counts, moments
and quantiles, top values, bins; then one sample for the pair statistics.
"""

from __future__ import annotations

import time
from typing import Any

from datamill.engine.base import Engine
from datamill.exceptions import ConfigError
from datamill.profile._model import Profile

__all__ = ["profile"]


def profile(data: Any, *, target: str | None = None, engine: Engine | str | None = None,
            name: str | None = None) -> Profile:
    """Profile a table: statistics per column, correlations, missing values, alerts, target analysis.

    Parameters
    ----------
    data
        A ``pyarrow.Table`` (or record-batch reader, pandas or Polars frame), a
        :class:`~datamill.storage.base.TableScan`, or a CSV, Parquet or JSON file path.
    target
        A column to analyse the others against (classification or regression, guessed from its values).
    engine
        An engine, or its name (``"duckdb"``, the default, or ``"spark"``); one started here is closed after.
    name
        What to call the table in the report (default: the file or table name).

    Raises
    ------
    ConfigError
        ``data`` cannot be read, has no columns, or ``target`` is not one of its columns.

    Examples
    --------
    >>> import pyarrow as pa
    >>> p = profile(pa.table({"x": [1.0, 2.0, 3.0, None], "y": ["a", "b", "a", "a"]}))
    >>> p.overview["rows"], p.columns["x"]["mean"], p.columns["y"]["top"][0]
    (4, 2.0, {'value': 'a', 'count': 3})
    """
    from datamill.profile._input import open_input

    start = time.perf_counter()
    with open_input(data, engine, name) as inp:
        schema = inp.scan.schema
        _check(schema.names, target, inp.name)
        parts = _compute(inp, schema, target)
        seconds = time.perf_counter() - start
    return _assemble(inp, parts, target, seconds)


def _check(names: list[str], target: str | None, where: str) -> None:
    from datamill._registry import did_you_mean

    if not names:
        raise ConfigError(f"{where} has no columns: nothing to profile")
    if target is not None and target not in names:
        raise ConfigError(f"target column '{target}' is not in {where}{did_you_mean(target, names)}; "
                          f"columns: {', '.join(names[:30])}{' …' if len(names) > 30 else ''}")


def _compute(inp: Any, schema: Any, target: str | None) -> dict[str, Any]:
    from datamill.engine import Frame
    from datamill.engine.base import ArrowScan
    from datamill.profile._alerts import possible_ids
    from datamill.profile._arrow_stats import WIDE, arrow_columns
    from datamill.profile._columns import EXACT_QUANTILE_ROWS, duplicates_only, pass_one, pass_two
    from datamill.profile._counts import bins_and_patterns, top_values
    from datamill.profile._pairs import correlations, scatter_bins
    from datamill.profile._sample import draw_sample
    from datamill.profile._sql import ProfileSQL
    from datamill.profile._target import target_analysis

    frame = Frame(inp.engine, inp.scan)
    fq = ProfileSQL(frame.d)
    exact = inp.scan_rows is None or inp.scan_rows <= EXACT_QUANTILE_ROWS
    quantiles = "exact" if exact else "approximate (the engine's quantile sketch)"
    if isinstance(inp.scan, ArrowScan) and len(schema) > WIDE and fq.d.matches_arrow:
        rows, columns, names, patterns = arrow_columns(inp.scan.table)
        distinct_rows = duplicates_only(frame, schema, fq)
    else:
        rows, distinct_rows, columns = pass_one(frame, schema, fq, exact)
        names, patterns = [], {}
        if rows:
            pass_two(frame, schema, fq, columns)
            top_values(frame, schema, fq, columns, rows)
            names, patterns = bins_and_patterns(frame, schema, fq, columns)
    ids = possible_ids(columns)
    sample = draw_sample(frame, fq, columns, rows, frozenset([target] if target else []))
    corr = correlations(sample, ids | {target} if target else ids)
    tgt = target_analysis(sample, columns, target, ids) if target and rows else None
    return {"rows": rows, "distinct_rows": distinct_rows, "columns": columns, "quantiles": quantiles,
            "missing": _missing(names, patterns, columns), "ids": ids, "sample": sample.describe(),
            "correlations": corr, "scatter": scatter_bins(sample, corr), "target": tgt, "engine": inp.engine.name}


def _missing(names: list[str], patterns: dict[int, int], columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Co-occurrence counts (rows where both are missing) and the most frequent patterns, from the bitmasks."""
    k = len(names)
    both = [[0] * k for _ in range(k)]
    for mask, n in patterns.items():
        present = [i for i in range(k) if mask >> i & 1]
        for i in present:
            for j in present:
                both[i][j] += n
    top = sorted(patterns.items(), key=lambda p: -p[1])[:15]
    return {"columns": names, "counts": {n: columns[n]["missing"] for n in names}, "cooccurrence": both,
            "patterns": [{"missing": [names[i] for i in range(k) if mask >> i & 1], "rows": n} for mask, n in top],
            "complete_rows": patterns.get(0)}


def _assemble(inp: Any, parts: dict[str, Any], target: str | None, seconds: float) -> Profile:
    from datamill.profile._alerts import alerts

    columns, rows = parts["columns"], parts["rows"]
    types: dict[str, int] = {}
    for c in columns.values():
        types[c["kind"]] = types.get(c["kind"], 0) + 1
    dup = rows - parts["distinct_rows"] if parts["distinct_rows"] is not None else None
    overview = {"rows": rows, "columns": len(columns), "memory": inp.memory, "memory_note": inp.memory_note,
                "missing_cells": sum(c["missing"] for c in columns.values()),
                "cells": rows * len(columns), "duplicate_rows": dup, "types": types}
    approx = [n for n, c in columns.items() if not c["distinct_exact"]]
    notes = {"engine": parts["engine"], "seconds": round(seconds, 3), "quantiles": parts["quantiles"],
             "pairs_sample": parts["sample"], "target": target,
             "distinct": ("exact" if not approx else
                          f"exact, except {len(approx)} column(s) with many values: HyperLogLog estimates (about ±2%)"),
             "duplicates": "rows with equal 64-bit hashes of all their values"}
    if inp.skipped:
        notes["skipped"] = f"{sum(inp.skipped):,} malformed rows of the file were skipped"
    return Profile(inp.name, overview, columns, parts["correlations"], parts["missing"], parts["scatter"],
                   parts["target"], alerts(overview, columns, parts["correlations"], parts["target"], parts["ids"]), notes)
