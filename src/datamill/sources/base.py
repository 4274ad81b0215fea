"""What every source does: turn something outside into Arrow record batches.

A source never holds a whole file in memory: :meth:`Source.read` returns a
:class:`pyarrow.RecordBatchReader` that storage consumes batch by batch. Rows
that cannot be parsed are handed to the :class:`ReadContext`, which applies the
source's ``on_bad_rows`` policy: ``fail`` raises :class:`BadRowsError`,
``quarantine`` keeps the raw text with its line number and reason, ``skip``
counts them (and says so in the run record).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from datamill.exceptions import BadRowsError

if TYPE_CHECKING:
    from datamill.sources._files import FileDigests

__all__ = [
    "QUARANTINE_SCHEMA",
    "BadRow",
    "ReadContext",
    "RetryRead",
    "Source",
    "SourceOptions",
    "Unchanged",
]

# One schema for every quarantine table, whatever the source or stage.
QUARANTINE_SCHEMA = pa.schema(
    [
        ("origin", pa.string()),  # source or dataset name
        ("run_id", pa.string()),
        ("line", pa.int64()),  # 1-based line (file sources) or record number
        ("column", pa.string()),
        ("reason", pa.string()),
        ("raw", pa.string()),  # the row as it was read, untouched
    ]
)


class SourceOptions(BaseModel):
    """Base for a source type's own options: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class BadRow:
    """One row a source could not read."""

    line: int | None
    reason: str
    raw: str
    column: str | None = None


@dataclass
class ReadContext:
    """Collects bad rows and warnings during one read, applying ``on_bad_rows``."""

    origin: str
    on_bad_rows: Literal["fail", "quarantine", "skip"] = "fail"
    run_id: str = ""
    bad_rows: list[BadRow] = field(default_factory=list)
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    where: str = ""  # e.g. the file name, for messages
    # called with the fraction done (0..1) by sources that can tell, e.g. during a COPY
    on_progress: Callable[[float], None] | None = None
    # what the source put in ``memo`` on its last read that was stored (empty on a first
    # or a full-refresh run): cheap change signals such as HTTP ETags
    remembered: dict[str, Any] = field(default_factory=dict)
    # what the source wants back as ``remembered`` next time, if this read is kept (JSON-able)
    memo: dict[str, Any] = field(default_factory=dict)

    def bad_row(self, row: BadRow) -> None:
        """Report a row that could not be read; raises when the policy is ``fail``."""
        if self.on_bad_rows == "fail":
            at = f" line {row.line}" if row.line is not None else ""
            raise BadRowsError(
                f"{self.where or self.origin}{at}: {row.reason} "
                "(fix the row, or use on_bad_rows: quarantine to keep going and keep it aside)"
            )
        if self.on_bad_rows == "quarantine":
            self.bad_rows.append(row)
        else:
            self.skipped += 1

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    @property
    def quarantined(self) -> int:
        return len(self.bad_rows)

    def quarantine_table(self) -> pa.Table:
        """The quarantined rows in :data:`QUARANTINE_SCHEMA`."""
        rows = self.bad_rows
        return pa.table(
            {
                "origin": [self.origin] * len(rows),
                "run_id": [self.run_id] * len(rows),
                "line": [r.line for r in rows],
                "column": [r.column for r in rows],
                "reason": [r.reason for r in rows],
                "raw": [r.raw for r in rows],
            },
            schema=QUARANTINE_SCHEMA,
        )

    def reset(self) -> None:
        """Forget what one read collected, before the next (``remembered`` stays)."""
        self.bad_rows.clear()
        self.warnings.clear()
        self.skipped = 0
        self.memo.clear()


class RetryRead(Exception):
    """Raised from inside a reader when the source learned something that needs a fresh read.

    Example: a CSV column sniffed as integer holds text after line 90,000. The
    source remembers the column's real type and raises this; the writer abandons
    what it had written (nothing was committed) and reads again. Internal.
    """


class Unchanged(Exception):
    """Raised by :meth:`Source.read` when cheap signals prove nothing changed since ``ctx.remembered``.

    Example: every page of an HTTP source answered ``304 Not Modified`` to the
    ETags of the last stored read. The caller keeps the table as it is.
    """


class Source(ABC):
    """A named input of the project.

    Subclasses set ``Options`` (a :class:`SourceOptions` model for their keys) and
    implement :meth:`read`.
    """

    Options: ClassVar[type[SourceOptions]] = SourceOptions
    #: Whether :meth:`read` may raise :class:`RetryRead` half-way. The pipeline then reads
    #: the source to its end before writing; ``False`` lets it stream into storage.
    rereads: ClassVar[bool] = True
    #: Digests of files already hashed, kept between runs (set by the pipeline); see
    #: :func:`datamill.sources._files.files_fingerprint`.
    digests: FileDigests | None = None

    def __init__(self, name: str, options: SourceOptions, *, project_dir: Path | None = None) -> None:
        self.name = name
        self.options = options
        self.project_dir = Path(project_dir) if project_dir else Path.cwd()

    def resolve(self, path: str | Path) -> Path:
        """A path from the project file, relative to the project folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.project_dir / p

    @abstractmethod
    def read(self, ctx: ReadContext) -> pa.RecordBatchReader:
        """Open the source and return its rows as a lazily consumed reader."""

    def read_to_parquet(self, ctx: ReadContext, folder: Path) -> list[Path] | None:
        """Optionally write the rows straight into Parquet files in ``folder``.

        A fast path for sources whose reader can write Parquet itself in parallel
        (DuckDB's ``COPY``), skipping the Arrow round trip. Return the files, or
        ``None`` (the default) to be read through :meth:`read` instead. Bad rows
        go to ``ctx`` exactly as in :meth:`read`; :class:`RetryRead` works too.
        """
        return None

    def fingerprint(self) -> str | None:
        """A string that changes when the source's data changes, or ``None`` if unknowable.

        ``None`` (APIs, databases, topics) means the source is read on every run;
        the pipeline then compares a digest of the records it read with the last
        stored one, and keeps the table when they are equal. File sources hash
        their options with each file's content (re-hashed only when its size or
        modification time changed).
        """
        return None

    def _options_digest(self, *extra: object) -> str:
        payload = json.dumps([self.options.model_dump(mode="json"), *extra], sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]
