"""Rows in = rows out + rows set aside, with every term counted, none derived.

The rows a node sends to storage are counted on the way (or read from the
Parquet footers of the files handed over); the rows written come from the
storage's commit (:class:`~datamill.storage.base.WriteResult`). A node whose
numbers disagree fails, and the table goes back to its previous version where
the storage keeps one.

Internal: may change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from datamill.exceptions import PipelineError, StorageError

__all__ = ["Tally", "check_balance", "check_written", "parquet_rows"]


class Tally:
    """Counts rows as batches pass (an ``on_rows`` callback), optionally passing them on."""

    def __init__(self, then: Callable[[int], None] | None = None) -> None:
        self.rows = 0
        self._then = then

    def __call__(self, rows: int) -> None:
        self.rows += rows
        if self._then is not None:
            self._then(rows)


def parquet_rows(files: Sequence[Path]) -> int:
    """Rows in Parquet ``files``, from their footers (nothing else is read)."""
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in files)


def _rows(n: int) -> str:
    return f"{n:,} row{'' if n == 1 else 's'}"


def check_written(storage: Any, node: str, sent: int, result: Any, before: int | None) -> None:
    """Fail ``node`` when the commit of ``result.table`` does not hold the ``sent`` rows."""
    if result.rows_written == sent:
        return
    raise PipelineError(
        f"{node}: {_rows(sent)} were sent to table '{result.table}' but its commit (version {result.version}) "
        f"holds {_rows(result.rows_written)}: the storage lost or added rows; "
        + keep_previous(storage, result.table, before)
    )


def check_balance(storage: Any, node: str, record: Any, result: Any, before: int | None) -> None:
    """Fail ``node`` unless rows in = rows written + quarantined + duplicates (a cleaning record)."""
    if record.balanced:
        return
    missing = record.rows_in - record.rows_out - record.rows_quarantined - record.rows_duplicates
    raise PipelineError(
        f"{node}: rows do not add up: rows in {record.rows_in:,} ≠ rows written {record.rows_out:,} "
        f"(commit version {result.version} of table '{result.table}') + quarantined {record.rows_quarantined:,} "
        f"+ duplicates {record.rows_duplicates:,}; {_rows(abs(missing))} "
        f"{'unaccounted for' if missing > 0 else 'too many'} "
        "(a cleaning step or the storage lost or made up rows); " + keep_previous(storage, result.table, before)
    )


def keep_previous(storage: Any, table: str, before: int | None) -> str:
    """Put ``table`` back at version ``before`` where the storage can; say what became of it."""
    if before is None:
        return (f"table '{table}' did not exist before this write, so there is no previous version to keep: "
                "do not use it until a run succeeds")
    try:
        restored = storage.restore(table, before)
    except StorageError as exc:
        return f"going back to the previous version {before} failed too ({exc})"
    if restored is None:
        return (f"this storage keeps only the latest version, so the previous version {before} of '{table}' "
                "could not be kept: do not use it until a run succeeds")
    return f"the table keeps its previous version {before} (restored as version {restored})"
