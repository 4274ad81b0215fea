"""How the runner reports progress; the CLI draws it with Rich, notebooks may ignore it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa

__all__ = ["Progress", "count_rows"]


class Progress:
    """Progress callbacks. The base class does nothing; subclass to show something."""

    def start(self, node: str, description: str, total: int | None = None) -> None:
        """A node started; ``total`` rows when known."""

    def advance(self, node: str, rows: int) -> None:
        """``rows`` more rows went through ``node``."""

    def fraction(self, node: str, done: float) -> None:
        """``node`` is ``done`` (0..1) of the way, for work measured in fractions, not rows."""

    def finish(self, node: str, status: str, detail: str = "") -> None:
        """A node ended with ``status`` (ok, up_to_date, failed, blocked)."""


def count_rows(reader: pa.RecordBatchReader, on_rows: Callable[[int], None]) -> pa.RecordBatchReader:
    """Wrap ``reader`` so every batch that passes calls ``on_rows(batch.num_rows)``.

    Examples
    --------
    >>> seen = []
    >>> t = pa.table({"x": [1, 2, 3]})
    >>> count_rows(pa.RecordBatchReader.from_batches(t.schema, t.to_batches()), seen.append).read_all().num_rows
    3
    >>> seen
    [3]
    """

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            on_rows(batch.num_rows)
            yield batch

    return pa.RecordBatchReader.from_batches(reader.schema, batches())
