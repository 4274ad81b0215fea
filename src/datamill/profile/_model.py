"""The :class:`Profile` object: what :func:`datamill.profile.profile` returns.

Plain data (numbers, strings, lists and dicts), so it serialises to JSON and
back without loss, and a report can be rebuilt from a saved profile.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "Profile"]

FORMAT = 1  # bumped when the JSON layout changes


@dataclass
class Profile:
    """Statistics, charts' data and alerts of one table.

    Attributes
    ----------
    name
        What was profiled (a table or file name).
    overview
        ``rows``, ``columns``, ``memory`` (bytes, with ``memory_note``), ``missing_cells``,
        ``duplicate_rows`` and ``types`` (columns per kind).
    columns
        Column name -> its statistics (``kind``: numeric, categorical, boolean, datetime, other).
    correlations
        Heatmap matrices (``pearson``, ``spearman``, ``cramers_v``, ``correlation_ratio``) and the strongest ``pairs``.
    missing
        Columns with missing values, their co-occurrence counts and the most frequent patterns.
    scatter
        Binned 2-D histograms of the most correlated numeric pairs.
    target
        Target analysis when a target was given, else ``None``.
    alerts
        ``{kind, column, message, severity}``, the most serious first.
    notes
        How things were computed: ``mode`` (default or exact), engine, seconds taken, how quantiles,
        distinct counts and duplicates were counted, and ``approximate``: what was computed on a
        sample or estimated (``{statistic, how}`` each, with its error), empty when nothing was.
    """

    name: str
    overview: dict[str, Any]
    columns: dict[str, dict[str, Any]]
    correlations: dict[str, Any] = field(default_factory=dict)
    missing: dict[str, Any] = field(default_factory=dict)
    scatter: list[dict[str, Any]] = field(default_factory=list)
    target: dict[str, Any] | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return int(self.overview["rows"])

    def __repr__(self) -> str:
        return (f"Profile({self.name!r}, rows={self.rows:,}, columns={len(self.columns)}, "
                f"alerts={len(self.alerts)})")

    def column(self, name: str) -> dict[str, Any]:
        """One column's statistics (``KeyError`` names the columns there are)."""
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"no column {name!r} in profile {self.name!r}; columns: {', '.join(self.columns)}") from None

    # -- JSON --------------------------------------------------------------------------
    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The profile as JSON text (also written to ``path`` when given)."""
        text = json.dumps({"format": FORMAT, **asdict(self)}, ensure_ascii=False, allow_nan=False, default=str)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> Profile:
        """A profile from :meth:`to_json`'s text or a file holding it."""
        text = str(source)
        if not text.lstrip().startswith("{"):
            text = Path(source).read_text(encoding="utf-8")
        data = json.loads(text)
        data.pop("format", None)
        return cls(**data)

    # -- reports -----------------------------------------------------------------------
    def report(self) -> Any:
        """The profile as a :class:`~datamill.report.Report` (sections, cards, charts)."""
        from datamill.profile._report import build_report

        return build_report(self)

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as one self-contained HTML file (opens offline); return its path."""
        from datamill.report import write_html

        return write_html(self.report(), path)

    def _repr_html_(self) -> str:
        from datamill.profile._report import iframe

        return iframe(self.report())

    def compare(self, other: Profile) -> Any:
        """A :class:`~datamill.profile.Comparison` of this profile (the reference) with ``other``."""
        from datamill.profile._compare import Comparison

        return Comparison.of(self, other)
