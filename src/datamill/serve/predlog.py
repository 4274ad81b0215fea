"""The prediction log: every answered record, appended to the project's storage in the background.

:meth:`PredictionLog.append` only puts records in memory and returns; it never
waits for storage. Two background threads move them on:

- the *flusher* cuts the buffer into a batch every ``batch_rows`` records or
  ``flush_seconds`` (whichever comes first) and writes the batch to the spill
  folder, atomically (:mod:`datamill.serve._spill`);
- the *writer* takes spill files oldest first and appends their rows to the
  table with ``storage.write(table, ..., mode="append")``, deleting each file
  only after its write committed.

Every batch goes through the spill folder, so the same path serves a healthy
store, a slow one (the files wait while a write is under way), a store that is
down (they pile up; the writer retries with a growing pause, then catches up)
and a restart (a new log writes what an old one left). Memory holds only the
records not yet cut, whatever storage does.

What can happen
---------------
- Normal paths (storage slow, down and back, :meth:`~PredictionLog.close`,
  a restart): every record is written exactly once.
- Hard kill (``SIGKILL``, power loss): the records appended since the last cut
  (at most ``batch_rows`` rows or ``flush_seconds`` of traffic) are lost; every
  spilled batch survives. A batch that was being written when the process died
  is marked in flight; the next log checks the table for its rows and writes
  it only if they are not there, so it is not written twice either.
- A write that storage reports as failed is retried; if it had in fact
  committed (e.g. a PostgreSQL connection lost during ``COMMIT``), its rows are
  there twice, told apart by nothing: :func:`read_predictions` with
  ``unique=True`` drops such repeats.
- When neither storage nor the spill folder takes records, up to
  ``max_pending_rows`` wait in memory; older ones are dropped beyond that, and
  counted in ``stats()["dropped"]``.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from datamill.exceptions import ServingError, TableNotFound
from datamill.serve._spill import Claim, ClaimedFile, SpillFolder
from datamill.storage import Storage

__all__ = ["PREDICTION_SCHEMA", "PredictionLog", "default_spill_dir", "read_predictions"]

_log = logging.getLogger("datamill.serve.predlog")

#: The columns of the prediction log table. JSON columns hold one record's text each.
PREDICTION_SCHEMA = pa.schema([
    pa.field("request_id", pa.string(), nullable=False),
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("model", pa.string(), nullable=False),
    pa.field("version", pa.int64(), nullable=False),
    pa.field("latency_ms", pa.float64(), nullable=False),
    pa.field("inputs", pa.string(), nullable=False),
    pa.field("prediction", pa.string(), nullable=False),
    pa.field("probabilities", pa.string()),
])
_NAMES = PREDICTION_SCHEMA.names
_REQUIRED = ("request_id", "model", "version", "latency_ms", "inputs", "prediction")
_POLL = 0.05  # seconds of real time between the threads' looks at the (possibly injected) clock
_RETRY_MAX = 30.0  # the longest pause between two tries of a failing store, in clock seconds


class PredictionLog:
    """Append prediction records to ``table`` in ``storage``, in batches, without ever blocking.

    Parameters
    ----------
    storage
        The project's storage. Give the log its own instance: the writer thread
        uses it alone (a PostgreSQL storage keeps one connection).
    table
        The table to append to; created by the first write.
    spill_dir
        Local folder for batches on their way to storage (see the module's
        docstring). Processes may share it (``datamill serve --workers N``).
    batch_rows
        Cut a batch once this many records wait.
    flush_seconds
        Cut a batch once the oldest waiting record is this old (in ``clock`` seconds).
    clock
        Monotonic seconds; tests inject one they move by hand.
    max_pending_rows
        Records kept in memory when the spill folder cannot be written either.
    max_write_rows
        Rows of spilled batches combined into one write when catching up.
    retry_seconds
        First pause after a failed write; it doubles up to 30 seconds.

    Examples
    --------
    >>> import tempfile
    >>> from datamill.storage.lakehouse import LakehouseOptions, LakehouseStorage
    >>> folder = Path(tempfile.mkdtemp())
    >>> log = PredictionLog(LakehouseStorage(LakehouseOptions(path=str(folder / "wh"))), spill_dir=folder / "spill")
    >>> log.append([{"request_id": "r1", "model": "churn", "version": 3, "latency_ms": 1.5,
    ...              "inputs": '{"age": 41}', "prediction": "1", "probabilities": "[0.2, 0.8]"}])
    >>> log.close()["written"]
    1
    """

    def __init__(
        self,
        storage: Storage,
        table: str = "predictions_log",
        *,
        spill_dir: Path,
        batch_rows: int = 1000,
        flush_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        max_pending_rows: int = 100_000,
        max_write_rows: int = 50_000,
        retry_seconds: float = 0.5,
    ) -> None:
        if batch_rows < 1 or flush_seconds <= 0 or max_pending_rows < batch_rows:
            raise ServingError(
                f"prediction log: batch_rows ({batch_rows}) must be >= 1, flush_seconds ({flush_seconds}) > 0 "
                f"and max_pending_rows ({max_pending_rows}) >= batch_rows"
            )
        self.storage, self.table, self.clock = storage, table, clock
        self.batch_rows, self.flush_seconds = batch_rows, flush_seconds
        self.max_pending_rows, self.max_write_rows = max_pending_rows, max(max_write_rows, batch_rows)
        self.retry_seconds = retry_seconds
        try:
            self._spill = SpillFolder(Path(spill_dir))
        except OSError as exc:
            raise ServingError(
                f"prediction log: cannot use spill folder {spill_dir}: {exc.strerror or exc} "
                "(fix: point it at a writable local folder)"
            ) from exc
        self._cond = threading.Condition()
        self._buffer: dict[str, list[Any]] = {n: [] for n in _NAMES}
        self._buffer_rows = 0
        self._buffer_since = 0.0
        self._held: deque[pa.Table] = deque()  # batches the spill folder refused, kept in memory
        self._in_hand = 0  # rows the flusher has cut and is spilling
        self._counts = {"appended": 0, "written": 0, "spilled": 0, "dropped": 0}
        self._last_error: str | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._gen = 0  # bumped for each batch spilled, so close() knows what the writer has seen
        self._drained_gen = -1
        self._closing = self._closed = self._stop = self._close_failed = False
        self._flusher_done = False
        self._cycles = 0  # loop turns of both threads: tests wait on it instead of sleeping
        self._threads = [
            threading.Thread(target=self._flusher_loop, name=f"predlog-flush-{table}", daemon=True),
            threading.Thread(target=self._writer_loop, name=f"predlog-write-{table}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        # a plain interpreter exit still spills what is buffered and tries to write it
        self._at_exit = _exit_hook(weakref.ref(self))
        atexit.register(self._at_exit)

    # -- the caller's side ----------------------------------------------------------
    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Queue ``records`` for the log and return at once (thread-safe).

        Each record has ``request_id``, ``model``, ``version``, ``latency_ms``,
        ``inputs`` and ``prediction``, and optionally ``ts`` (a datetime, taken
        as UTC when naive, or epoch seconds; now when missing) and
        ``probabilities``. JSON fields given as ``str`` or ``bytes`` are stored
        as they are; other values are encoded as JSON.

        Raises :class:`ServingError` when a record lacks a field or has a wrong
        type (nothing of that call is queued). After :meth:`close`, records go
        straight to the spill folder, for the next log to write.
        """
        columns = _columns(records)
        rows = len(columns["request_id"])
        if not rows:
            return
        with self._cond:
            if not self._closing and self._buffer_rows + rows > self.max_pending_rows:
                # the flusher cannot keep up (a very slow local disk): memory stays bounded
                self._counts["appended"] += rows
                self._counts["dropped"] += rows
                _log.error("prediction log: dropped %d records: %d already wait in memory (max_pending_rows)",
                           rows, self._buffer_rows)
                return
            if not self._closing:
                if not self._buffer_rows:
                    self._buffer_since = self.clock()
                for name in _NAMES:
                    self._buffer[name].extend(columns[name])
                self._buffer_rows += rows
                self._counts["appended"] += rows
                if self._buffer_rows >= self.batch_rows:
                    self._cond.notify_all()
                return
            self._counts["appended"] += rows
            self._in_hand += rows
        self._spill_batch(_to_table(columns))  # closing: the flusher may be gone already

    def flush(self, timeout: float = 10.0) -> bool:
        """Cut the buffer now and wait (real seconds) until storage holds everything appended so far.

        Returns ``False`` when ``timeout`` passed first (e.g. storage is down).
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            self._buffer_since = float("-inf") if self._buffer_rows else self._buffer_since
            self._retry_at = 0.0
            self._cond.notify_all()
            while time.monotonic() < deadline:
                if self._buffer_rows == 0 and self._in_hand == 0 and self._drained_gen == self._gen:
                    return True
                self._cond.wait(min(_POLL, max(deadline - time.monotonic(), 0)))
            return False

    def close(self, timeout: float = 10.0) -> dict[str, Any]:
        """Graceful shutdown: spill the buffer, write what storage takes within ``timeout`` seconds, stop.

        Storage gets at least one try even while the log is pausing after
        failures; at the first failure close stops trying and returns. What is
        not written stays in the spill folder, and the next log on that folder
        writes it. Returns :meth:`stats`. Calling it again does nothing.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            closed = self._closed
        if closed:
            return self.stats()
        with self._cond:
            self._closing, self._retry_at = True, 0.0
            self._cond.notify_all()
            while time.monotonic() < deadline and not self._settled():
                self._cond.wait(min(_POLL, max(deadline - time.monotonic(), 0)))
            self._stop = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=max(deadline - time.monotonic(), 0.05))
        with self._cond:
            self._closed = True
            self._drop_held_at_close()
        atexit.unregister(self._at_exit)
        return self.stats()

    def _settled(self) -> bool:
        """Closing: the buffer is on disk and the writer has written it all, or given up."""
        if not self._flusher_done:
            return False
        return self._close_failed or (self._drained_gen == self._gen and not self._held)

    def stats(self) -> dict[str, Any]:
        """Where the records are.

        ``appended``: accepted by :meth:`append`; ``written``: committed to
        storage by this log (leftovers of earlier logs included); ``pending``:
        in memory, not yet spilled; ``spilled`` / ``spill_files``: rows and files
        in the spill folder waiting for storage (other processes' included);
        ``dropped``: lost because neither storage nor the folder took them;
        ``bad_files``: unreadable spill files set aside; ``failures``: failed
        writes in a row; ``last_error``: the latest failure, ``None`` when none yet.
        """
        rows, files = self._spill.rows()  # outside the lock: append never waits on a folder listing
        bad = self._spill.bad_files()
        with self._cond:
            pending = self._buffer_rows + self._in_hand + sum(t.num_rows for t in self._held)
            return {"appended": self._counts["appended"], "written": self._counts["written"], "pending": pending,
                    "spilled": rows, "spill_files": files, "dropped": self._counts["dropped"], "bad_files": bad,
                    "failures": self._failures, "last_error": self._last_error}

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the flusher: buffer -> spill folder ------------------------------------------
    def _due(self) -> bool:
        if not self._buffer_rows:
            return False
        return (self._closing or self._buffer_rows >= self.batch_rows
                or self.clock() - self._buffer_since >= self.flush_seconds)

    def _flusher_loop(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    if self._closing:  # nothing left to cut
                        self._flusher_done = True
                        self._cond.notify_all()
                        return
                    self._cond.wait(_POLL)
                    self._cycles += 1
                    self._cond.notify_all()
                columns, rows = self._buffer, self._buffer_rows
                self._buffer = {n: [] for n in _NAMES}
                self._buffer_rows = 0
                self._in_hand += rows
            table = _to_table(columns)
            for start in range(0, table.num_rows, self.batch_rows):  # one file per batch_rows, however much came
                self._spill_batch(table.slice(start, self.batch_rows))

    def _spill_batch(self, batch: pa.Table) -> None:
        """Write a batch to the spill folder (or hold it in memory); it was counted in ``_in_hand``."""
        try:
            self._spill.write(batch)
        except OSError as exc:
            with self._cond:
                self._error(f"spill folder {self._spill.path}: {exc.strerror or exc}")
                if self._closed:  # no writer is left to take it from memory
                    self._counts["dropped"] += batch.num_rows
                    _log.error("prediction log: %d records appended after close are lost: %s",
                               batch.num_rows, self._last_error)
                else:
                    self._held.append(batch)
                    self._drop_over_limit()
        else:
            with self._cond:
                self._counts["spilled"] += batch.num_rows
        with self._cond:
            self._in_hand -= batch.num_rows
            self._gen += 1
            self._cond.notify_all()

    def _drop_over_limit(self) -> None:
        held = sum(t.num_rows for t in self._held)
        while held > self.max_pending_rows and len(self._held) > 1:
            lost = self._held.popleft()
            held -= lost.num_rows
            self._counts["dropped"] += lost.num_rows
            _log.error("prediction log: dropped %d records: storage and spill folder %s both fail (%s)",
                       lost.num_rows, self._spill.path, self._last_error)

    def _drop_held_at_close(self) -> None:
        if self._held:
            lost = sum(t.num_rows for t in self._held)
            self._held.clear()
            self._counts["dropped"] += lost
            _log.error("prediction log: %d records lost at close: storage and spill folder %s both failed (%s)",
                       lost, self._spill.path, self._last_error)

    # -- the writer: spill folder -> storage ------------------------------------------
    def _writer_loop(self) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
                ready = self.clock() >= self._retry_at
                gen = self._gen
            did = self._write_step(gen) if ready else False
            with self._cond:
                self._cycles += 1
                self._cond.notify_all()
                if not did and not self._stop:
                    self._cond.wait(_POLL)

    def _write_step(self, gen: int) -> bool:
        """Write one held batch or one claim of spill files; ``False`` when there was nothing to do."""
        with self._cond:
            held = self._held[0] if self._held else None
        if held is not None:
            self._store(held, then=self._held.popleft)
            return True
        try:
            claim = self._spill.claim(self.max_write_rows)
        except OSError as exc:
            with self._cond:
                self._error(f"spill folder {self._spill.path}: {exc.strerror or exc}")
            return False
        if claim is None:
            with self._cond:
                self._drained_gen = gen
                self._cond.notify_all()
            return False
        self._write_claim(claim)
        return True

    def _write_claim(self, claim: Claim) -> None:
        try:
            parts = claim.read(PREDICTION_SCHEMA)
            rows = [table for claimed, table in parts if not (claimed.was_inflight and self._written(table))]
        except Exception as exc:  # noqa: BLE001 - reading the table to check failed: storage is down
            claim.release()
            self._failed(exc)
            return
        if not rows:
            claim.done()
        elif not self._store(pa.concat_tables(rows), then=claim.done):
            claim.release()

    def _written(self, table: pa.Table) -> bool:
        """Whether the rows of a batch found in flight are in the table already.

        A write is atomic, so a batch is in storage whole or not at all: all its
        (request_id, ts) pairs present means its write committed before the
        process that made it died.
        """
        if table.num_rows == 0:
            return True
        import pyarrow.compute as pc

        since = pc.min(table["ts"]).as_py()
        stored = read_predictions(self.storage, self.table, since=since, columns=["request_id", "ts"])
        have = set(zip(stored["request_id"].to_pylist(), stored["ts"].to_pylist(), strict=True))
        return all(pair in have for pair in zip(table["request_id"].to_pylist(), table["ts"].to_pylist(), strict=True))

    def _store(self, data: pa.Table, then: Callable[[], object]) -> bool:
        """Append ``data`` to the table; on failure note it and pause. ``True`` when committed.

        ``then`` lets go of the rows' copy (spill files or the held batch) before
        they count as written, so :meth:`stats` never shows a row in both places.
        """
        try:
            self.storage.write(self.table, data, mode="append")
        except Exception as exc:  # noqa: BLE001 - any failure of the store: keep the rows, try later
            self._failed(exc)
            return False
        then()
        with self._cond:
            if self._failures:
                _log.info("prediction log: storage is back; writing to '%s' again", self.table)
            self._failures, self._retry_at = 0, 0.0
            self._counts["written"] += data.num_rows
        return True

    def _failed(self, exc: BaseException) -> None:
        with self._cond:
            self._failures += 1
            pause = min(_RETRY_MAX, self.retry_seconds * 2 ** (self._failures - 1))
            self._retry_at = self.clock() + pause
            self._error(f"writing table '{self.table}': {type(exc).__name__}: {str(exc).strip() or '-'}")
            if self._closing:
                self._close_failed = True
            self._cond.notify_all()

    def _error(self, message: str) -> None:
        if self._last_error != message:
            _log.warning("prediction log: %s (records wait in %s and are retried)", message, self._spill.path)
        self._last_error = message


def default_spill_dir(project_dir: Path, table: str = "predictions_log") -> Path:
    """The spill folder a project's servers share for ``table``: ``.datamill/spill/<table>``.

    Examples
    --------
    >>> default_spill_dir(Path("/srv/churn")).as_posix()
    '/srv/churn/.datamill/spill/predictions_log'
    """
    return Path(project_dir) / ".datamill" / "spill" / table


def _exit_hook(ref: weakref.ref[PredictionLog]) -> Callable[[], None]:
    def close_at_exit() -> None:
        log = ref()
        if log is not None:
            log.close(timeout=5.0)

    return close_at_exit


# -- records -> Arrow ---------------------------------------------------------------------
def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8")
    return json.dumps(value, default=str)


def _timestamp(value: Any) -> datetime:
    """``value`` as a datetime to the millisecond: what every storage keeps (Cassandra's timestamp included)."""
    if value is None:
        value = datetime.now(timezone.utc)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        value = datetime.fromtimestamp(value, timezone.utc)
    elif not isinstance(value, datetime):
        raise TypeError(f"ts must be a datetime or epoch seconds, not {type(value).__name__}")
    return value.replace(microsecond=value.microsecond // 1000 * 1000)  # naive: taken as UTC by Arrow


def _columns(records: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The records as checked Python columns: converting them to Arrow later cannot fail."""
    cols: dict[str, list[Any]] = {n: [] for n in _NAMES}
    for i, record in enumerate(records):
        try:
            missing = [k for k in _REQUIRED if record.get(k) is None]
            if missing:
                raise KeyError(", ".join(missing))
            row = (str(record["request_id"]), _timestamp(record.get("ts")), str(record["model"]),
                   _integer(record["version"]), float(record["latency_ms"]), _json_text(record["inputs"]),
                   _json_text(record["prediction"]),
                   None if record.get("probabilities") is None else _json_text(record["probabilities"]))
        except KeyError as exc:
            raise ServingError(
                f"prediction log record {i}: missing {exc.args[0]} (a record needs {', '.join(_REQUIRED)}; "
                "ts and probabilities are optional)"
            ) from None
        except (TypeError, ValueError, AttributeError, UnicodeDecodeError) as exc:
            raise ServingError(f"prediction log record {i}: {exc} (fix the record the server logs)") from None
        for name, value in zip(_NAMES, row, strict=True):
            cols[name].append(value)
    return cols


def _integer(value: Any) -> int:
    number = int(value)
    if number != value:
        raise ValueError(f"version must be a whole number, not {value!r}")
    return number


def _to_table(columns: Mapping[str, list[Any]]) -> pa.Table:
    arrays = [pa.array(columns[f.name], f.type) for f in PREDICTION_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=PREDICTION_SCHEMA)


# -- reading the log back -----------------------------------------------------------------
def read_predictions(
    storage: Storage,
    table: str = "predictions_log",
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    columns: list[str] | None = None,
    unique: bool = False,
) -> pa.Table:
    """The logged predictions with ``since <= ts < until``, oldest first (what drift monitoring reads).

    Naive datetimes are taken as UTC. A log not written yet reads as an empty
    table with :data:`PREDICTION_SCHEMA`. ``unique`` keeps one row per
    (request_id, ts, model, version, inputs): a batch that storage reported
    failed but had committed is written again by the retry.
    """
    import pyarrow.dataset as ds

    wanted = list(columns) if columns else list(_NAMES)
    unknown = [c for c in wanted if c not in _NAMES]
    if unknown:
        raise ServingError(f"read_predictions: unknown column(s) {', '.join(unknown)}; the log has {', '.join(_NAMES)}")
    try:
        dataset = storage.scan(table).to_dataset()
    except TableNotFound:
        return PREDICTION_SCHEMA.empty_table().select(wanted)
    ts_type = PREDICTION_SCHEMA.field("ts").type
    conditions = []
    if since is not None:
        conditions.append(ds.field("ts") >= pa.scalar(since, ts_type))
    if until is not None:
        conditions.append(ds.field("ts") < pa.scalar(until, ts_type))
    where = None
    for condition in conditions:
        where = condition if where is None else where & condition
    keys = ["request_id", "ts", "model", "version", "inputs"] if unique else ["ts"]
    rows = dataset.to_table(columns=list(dict.fromkeys([*wanted, *keys])), filter=where)
    if unique and rows.num_rows:
        index = pa.array(range(rows.num_rows), pa.int64())
        first = rows.append_column("_i", index).group_by(keys, use_threads=False).aggregate([("_i", "min")])
        rows = rows.take(first["_i_min"])  # the first of each repeat
    return rows.sort_by("ts").select(wanted)
