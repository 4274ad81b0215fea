"""``profile()``: the passes over a table, in order, and the :class:`Profile` they make.

Internal: may change. Four queries on the engine whatever the width (more
only past :data:`~datamill.profile._columns.CHUNK` columns): counts and
moments; the rows for quantiles and the pair statistics (a sample, or every
row in exact mode); top values; bins. Exact mode adds exact distinct counts
and duplicate rows compared by value.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from datamill.engine.base import Engine
from datamill.exceptions import ConfigError
from datamill.profile._model import Profile

__all__ = ["profile"]


def profile(data: Any, *, target: str | None = None, engine: Engine | str | None = None,
            name: str | None = None, exact: bool = False) -> Profile:
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
    exact
        Every statistic on every row: exact distinct counts and quantiles, duplicate rows
        compared by value, correlations, scatter plots and target analysis on all rows
        (held in memory: about 45 bytes a value at the peak, so 1M rows x 20 columns take
        about 0.8 GB; past 100M values it refuses); only the mutual information ranking stays a
        k-nearest-neighbour estimate on 10,000 rows. By default, tables over 100,000 rows
        get quantiles and the pair statistics from a random sample, and distinct counts
        above 100,000 are estimated; ``notes["approximate"]`` (and the report) says which,
        on how many rows, and how close.

    Raises
    ------
    ConfigError
        ``data`` cannot be read, has no columns, or ``target`` is not one of its columns;
        exact mode would hold more values in memory than it allows.

    Examples
    --------
    >>> import pyarrow as pa
    >>> p = profile(pa.table({"x": [1.0, 2.0, 3.0, None], "y": ["a", "b", "a", "a"]}))
    >>> p.overview["rows"], p.columns["x"]["mean"], p.columns["y"]["top"][0]
    (4, 2.0, {'value': 'a', 'count': 3})
    >>> p.notes["mode"], p.notes["approximate"]
    ('default', [])
    """
    from datamill.profile._input import open_input

    start = time.perf_counter()
    with open_input(data, engine, name) as inp:
        schema = inp.scan.schema
        _check(schema.names, target, inp.name)
        parts = _compute(inp, schema, target, exact)
        seconds = time.perf_counter() - start
    return _assemble(inp, parts, target, seconds)


def _check(names: list[str], target: str | None, where: str) -> None:
    from datamill._registry import did_you_mean

    if not names:
        raise ConfigError(f"{where} has no columns: nothing to profile")
    if target is not None and target not in names:
        raise ConfigError(f"target column '{target}' is not in {where}{did_you_mean(target, names)}; "
                          f"columns: {', '.join(names[:30])}{' …' if len(names) > 30 else ''}")


def _compute(inp: Any, schema: Any, target: str | None, exact: bool) -> dict[str, Any]:
    from datamill.engine import Frame
    from datamill.engine.base import ArrowScan
    from datamill.profile._arrow_stats import WIDE, arrow_columns
    from datamill.profile._columns import duplicates_only, exact_duplicates, pass_one
    from datamill.profile._sample import fetch_rows, rank_numbers, start_sample
    from datamill.profile._sql import ProfileSQL

    frame = Frame(inp.engine, inp.scan)
    fq = ProfileSQL(frame.d)
    coded = frozenset([target] if target else [])
    quantile_rows: dict[str, int] = {}  # values each sampled quantile used (none when exact)
    numeric = None
    if isinstance(inp.scan, ArrowScan) and len(schema) > WIDE and fq.d.matches_arrow:
        rows, columns, names, patterns = arrow_columns(inp.scan.table)  # exact, whatever the mode
        distinct_rows = (exact_duplicates if exact else duplicates_only)(frame, schema, fq)
        fetched = fetch_rows(frame, fq, columns, rows, exact=exact)
        sample = start_sample(fetched, columns)
        rank_numbers(sample, _whole(columns))
    else:
        rows, distinct_rows, columns = pass_one(frame, schema, fq, hash_duplicates=not exact)
        fetched = fetch_rows(frame, fq, columns, rows, exact=exact)
        sample = start_sample(fetched, columns)
        names, patterns = [], {}
        if rows:
            held = frozenset(fetched.table.column_names)
            duplicates, names, patterns, numeric, used = _side_by_side(frame, schema, fq, columns, rows, exact, held,
                                                                       fetched, sample, coded)
            quantile_rows = used if fetched.sampled else {}
            distinct_rows = duplicates if exact else distinct_rows
        else:
            rank_numbers(sample, _whole(columns))
    return _pairs_and_target(inp, fq, rows, distinct_rows, columns, names, patterns, fetched, sample, numeric,
                             target, coded, exact, quantile_rows)


def _whole(columns: dict[str, dict[str, Any]]) -> frozenset[str]:
    return frozenset(n for n, c in columns.items() if c.get("integer"))


def _side_by_side(frame: Any, schema: Any, fq: Any, columns: dict[str, dict[str, Any]], rows: int, exact: bool,
                  held: frozenset[str], fetched: Any, sample: Any, coded: frozenset[str]) -> tuple[Any, ...]:
    """The engine's remaining passes in a second thread while NumPy ranks and correlates the fetched rows;
    returns duplicate rows (exact mode), missing patterns, the numeric pairs and the values each quantile used.

    Both release the GIL for their heavy work, so a second core is used
    while the other waits; the engine thread writes only to ``columns``, the
    NumPy work only to ``sample``.
    """
    from concurrent.futures import ThreadPoolExecutor

    from datamill.profile._alerts import possible_ids
    from datamill.profile._pairs import numeric_pairs
    from datamill.profile._sample import add_codes, rank_numbers, set_quantiles

    ranked = threading.Event()  # the quantiles the histograms' ranges need are known
    with ThreadPoolExecutor(1, thread_name_prefix="datamill-profile") as pool:
        on_engine = pool.submit(_engine_passes, frame, schema, fq, columns, rows, exact, held, ranked)
        try:
            rank_numbers(sample, _whole(columns))
            used = set_quantiles(columns, sample)
            ranked.set()
            add_codes(sample, fetched, columns, numbers=False)
            # the rows' text is coded now; only numbers may still need codes (few values, the target)
            fetched.table = fetched.table.select([n for n in fetched.table.column_names if n in sample.numeric])
            numeric = numeric_pairs(sample, coded | possible_ids(columns))  # as the estimates stand: checked after
            sample.ranks, sample.ranking = {}, {}  # done with: free them before the engine's last passes end
        finally:
            ranked.set()
            duplicates, names, patterns = on_engine.result()
    return duplicates, names, patterns, numeric, used


def _engine_passes(frame: Any, schema: Any, fq: Any, columns: dict[str, dict[str, Any]], rows: int, exact: bool,
                   held: frozenset[str], ranked: threading.Event) -> tuple[int | None, list[str], dict[int, int]]:
    """Central moments where needed, top values, bins and missing patterns; in exact mode also distinct
    counts of the columns the fetched rows do not hold, and duplicate rows compared by value. The bins
    wait for ``ranked`` (quantiles set: a histogram of a column with outliers spans its 1st-99th)."""
    from datamill.profile._columns import exact_duplicates, pass_two
    from datamill.profile._counts import bins_and_patterns, exact_distinct, top_values

    pass_two(frame, schema, fq, columns)
    top_values(frame, schema, fq, columns, rows)
    duplicates = None
    if exact:
        exact_distinct(frame, schema, fq, columns, [n for n, c in columns.items() if not c["distinct_exact"] and n not in held])
        duplicates = exact_duplicates(frame, schema, fq)
    ranked.wait()
    names, patterns = bins_and_patterns(frame, schema, fq, columns)
    return duplicates, names, patterns


def _pairs_and_target(inp: Any, fq: Any, rows: int, distinct_rows: int | None, columns: dict[str, dict[str, Any]],
                      names: list[str], patterns: dict[int, int], fetched: Any, sample: Any, numeric: Any,
                      target: str | None, coded: frozenset[str], exact: bool,
                      quantile_rows: dict[str, int]) -> dict[str, Any]:
    from datamill.profile._alerts import possible_ids
    from datamill.profile._pairs import correlations, numeric_pairs_missing, scatter_bins
    from datamill.profile._sample import add_codes, rank_numbers
    from datamill.profile._target import target_analysis

    if exact:  # the distinct counts still estimated are those of columns the fetched rows hold
        for name, c in columns.items():
            if not c["distinct_exact"] and name in sample.distinct:
                c |= {"distinct": sample.distinct[name], "distinct_exact": True}
    add_codes(sample, fetched, columns, coded)
    del fetched  # exact mode: the rows as Arrow; the sample holds them as NumPy from here
    ids = possible_ids(columns)
    if numeric is not None and numeric_pairs_missing(sample, numeric, ids | coded):  # an estimate changed its mind
        rank_numbers(sample, _whole(columns))
        numeric = None
    corr = correlations(sample, ids | coded, numeric)
    tgt = target_analysis(sample, columns, target, ids) if target and rows else None
    return {"rows": rows, "distinct_rows": distinct_rows, "columns": columns, "exact": exact,
            "quantile_rows": quantile_rows, "missing": _missing(names, patterns, columns), "ids": ids,
            "sample": sample, "correlations": corr, "scatter": scatter_bins(sample, corr), "target": tgt,
            "engine": inp.engine.name, "distinct_error": fq.d.approx_distinct_error}


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
    from datamill.profile._notes import approximations, describe_distinct, describe_duplicates, describe_quantiles

    columns, rows = parts["columns"], parts["rows"]
    types: dict[str, int] = {}
    for c in columns.values():
        types[c["kind"]] = types.get(c["kind"], 0) + 1
    dup = rows - parts["distinct_rows"] if parts["distinct_rows"] is not None else None
    overview = {"rows": rows, "columns": len(columns), "memory": inp.memory, "memory_note": inp.memory_note,
                "missing_cells": sum(c["missing"] for c in columns.values()),
                "cells": rows * len(columns), "duplicate_rows": dup, "types": types}
    sample = parts["sample"]
    notes = {"mode": "exact" if parts["exact"] else "default", "engine": parts["engine"], "seconds": round(seconds, 3),
             "quantiles": describe_quantiles(sample, parts["quantile_rows"]), "pairs_sample": sample.describe(),
             "target": target, "distinct": describe_distinct(columns, parts["distinct_error"]),
             "duplicates": describe_duplicates(parts["exact"], rows),
             "approximate": approximations(parts, sample)}
    if inp.skipped:
        notes["skipped"] = f"{sum(inp.skipped):,} malformed rows of the file were skipped"
    return Profile(inp.name, overview, columns, parts["correlations"], parts["missing"], parts["scatter"],
                   parts["target"], alerts(overview, columns, parts["correlations"], parts["target"], parts["ids"]), notes)
