"""What current data a model's reference is compared with: a window of its prediction log, or a dataset.

The prediction log (:mod:`datamill.serve.predlog`) keeps each answered row's
inputs as JSON text; here they become columns *on the engine*
(``json_extract_string`` in DuckDB's SQL, translated for Spark): a
:class:`~datamill.engine.Frame` over the stored log, filtered to the model and
the window, so no row is pulled into Python.

Windows: ``10000rows`` (the last 10,000 rows logged for the model, plus any
logged in the same instant as the oldest of them), or a duration back from
now: ``30m``, ``6h``, ``1d``, ``2w``.

Examples
--------
>>> parse_window("10000rows"), parse_window("6h"), parse_window("1d").seconds
(Window(text='10000rows', rows=10000, seconds=None), Window(text='6h', rows=None, seconds=21600.0), 86400.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from datamill.engine import Frame
from datamill.exceptions import ConfigError, ModelError, TableNotFound
from datamill.monitor.reference import Reference

__all__ = ["LOG_TABLE", "Current", "Window", "current_frame", "parse_window"]

LOG_TABLE = "predictions_log"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True)
class Window:
    """``rows`` (the last N rows) or ``seconds`` (back from now)."""

    text: str
    rows: int | None = None
    seconds: float | None = None


def parse_window(text: str) -> Window:
    """``10000rows`` / ``10000`` / ``6h`` / ``1d`` as a :class:`Window` (a ConfigError names the forms)."""
    t = str(text).strip().lower().replace(" ", "")
    m = re.fullmatch(r"(\d+)(rows?)?", t)
    if m and int(m.group(1)) > 0:
        return Window(text, rows=int(m.group(1)))
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhdw])", t)
    if m and float(m.group(1)) > 0:
        return Window(text, seconds=float(m.group(1)) * _UNITS[m.group(2)])
    raise ConfigError(f"window {text!r}: give a number of rows or a duration (e.g. 10000rows, 30m, 6h, 1d, 2w)")


@dataclass
class Current:
    """The current rows, as a frame whose columns are named as the reference's."""

    frame: Frame
    description: str
    missing: list[str]  # reference columns the current data lacks
    new: list[str]  # current columns the reference does not know
    prediction: bool  # whether the frame has a ``prediction`` column


def current_frame(engine: Any, storage: Any, model: str, reference: Reference, *, current: str | None,
                  window: str | Window, now: datetime | None = None) -> Current:
    """The current data for ``model``: a window of the prediction log, or the dataset ``current``."""
    if current is not None and current != LOG_TABLE:
        return _dataset(engine, storage, current, reference)
    return _log(engine, storage, model, reference, window if isinstance(window, Window) else parse_window(window),
                now or datetime.now(UTC))


def _dataset(engine: Any, storage: Any, name: str, reference: Reference) -> Current:
    try:
        scan = storage.scan(name)
    except TableNotFound as exc:
        from datamill._registry import did_you_mean

        tables = storage.list()
        raise ConfigError(f"--current {name}: no such table in storage{did_you_mean(name, tables)}; tables: "
                          f"{', '.join(tables) or 'none yet (run `datamill run`)'}") from exc
    names = scan.schema.names
    missing = [c for c in reference.columns if c not in names]
    new = [c for c in names if c not in reference.columns and c not in reference.skipped and c != "prediction"]
    version = f" v{scan.version}" if scan.version is not None else ""
    has_prediction = reference.prediction is not None and "prediction" in names
    return Current(Frame(engine, scan), f"dataset {name}{version}", missing, new, has_prediction)


def _json_path(key: str) -> str:
    return f"$.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else '$."' + key.replace('"', '\\"') + '"'


def _log(engine: Any, storage: Any, model: str, reference: Reference, window: Window, now: datetime) -> Current:
    d = engine.dialect
    try:
        scan = storage.scan(LOG_TABLE)
    except TableNotFound as exc:
        raise ModelError(f"no predictions are logged yet (table {LOG_TABLE} is not in storage) (fix: serve the model "
                         f"with `datamill serve {model}` and send it requests, or compare a dataset: "
                         f"--current DATASET)") from exc
    filters = [f"{d.ident('model')} = {d.literal(model)}"]
    if window.seconds is not None:
        since = (now - timedelta(seconds=window.seconds)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        filters.append(f"{d.ident('ts')} >= CAST({d.literal(since + '+00:00')} AS {d.timestamp_tz_type})")
        description = f"predictions of {model} in the last {window.text} of {LOG_TABLE}"
    else:
        cutoff = _cutoff(engine, scan, filters[0], window.rows or 0)
        if cutoff is not None:
            filters.append(f"{d.ident('ts')} >= CAST({d.literal(cutoff)} AS {d.timestamp_tz_type})")
        description = f"last {window.rows:,} predictions of {model} in {LOG_TABLE}"
    inputs, pred = '"inputs"', '"prediction"'  # DuckDB's SQL: d.expression translates it for the engine
    columns = {}
    for name, col in reference.columns.items():
        text = f"json_extract_string({inputs}, {d.literal(_json_path(name))})"
        columns[name] = d.expression(f"TRY_CAST({text} AS DOUBLE)" if col.kind == "numeric" else text)
    if reference.prediction is not None:
        text = f"json_extract_string({pred}, '$')"
        columns["prediction"] = d.expression(
            f"TRY_CAST({text} AS DOUBLE)" if reference.prediction.kind == "numeric" else text)
    frame = Frame(engine, scan, columns=columns, filters=tuple(filters))
    return Current(frame, description, [], [], reference.prediction is not None)


def _cutoff(engine: Any, scan: Any, model_filter: str, rows: int) -> str | None:
    """The timestamp of the ``rows``-th newest row of the model (``None``: it has no more than that)."""
    d = engine.dialect
    ts = d.ident("ts")
    query = (f"SELECT CAST({ts} AS {d.text_type}) AS ts FROM _dm_log WHERE {model_filter} "
             f"ORDER BY {ts} DESC LIMIT 1 OFFSET {int(rows) - 1}")
    found = engine.sql_generated(query, {"_dm_log": scan}, dialect=d.name).to_arrow().to_pylist()
    return found[0]["ts"] if found else None
