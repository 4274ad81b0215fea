"""Two profiles side by side (train vs test, last week vs this week), differences first.

Per shared column: PSI (population stability index), shifts in mean (in
reference standard deviations), missing share and distinct values, and the
two distributions overlaid. Numeric PSI uses the reference's quantiles as
bin edges and the current profile's quantiles to estimate its share in each
(a piecewise-linear CDF), so it needs only the two profiles, not the data.

Examples
--------
>>> import pyarrow as pa
>>> from datamill.profile import profile
>>> a = profile(pa.table({"x": [float(i) for i in range(100)]}))
>>> b = profile(pa.table({"x": [float(i) + 50 for i in range(100)]}))
>>> c = a.compare(b)
>>> c.columns["x"]["drift"], c.columns["x"]["psi"] > 0.2
('major', True)
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamill.profile._model import Profile

__all__ = ["Comparison", "psi"]

EPS = 1e-4
MODERATE, MAJOR = 0.1, 0.2


def psi(reference: list[float], current: list[float]) -> float:
    """Population stability index of two lists of shares over the same bins.

    Examples
    --------
    >>> round(psi([0.5, 0.5], [0.5, 0.5]), 6), round(psi([0.5, 0.5], [0.9, 0.1]), 3)
    (0.0, 0.879)
    """
    total = 0.0
    for r, c in zip(reference, current, strict=True):
        r, c = max(r, EPS), max(c, EPS)
        total += (c - r) * math.log(c / r)
    return total


def _cdf_points(c: dict[str, Any]) -> tuple[list[float], list[float]]:
    qs = c.get("quantiles") or {}
    xs = [c["min"], *(qs[k] for k in qs if qs[k] is not None), c["max"]]
    ps = [0.0, *(float(k) for k in qs if qs[k] is not None), 1.0]
    return xs, ps


def _interp(x: float, xs: list[float], ps: list[float]) -> float:
    if x <= xs[0]:
        return 0.0
    if x >= xs[-1]:
        return 1.0
    for k in range(1, len(xs)):
        if x <= xs[k]:
            span = xs[k] - xs[k - 1]
            return ps[k] if span == 0 else ps[k - 1] + (ps[k] - ps[k - 1]) * (x - xs[k - 1]) / span
    return 1.0


def _numeric_shares(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[float], list[float]]:
    xa, pa_ = _cdf_points(a)
    xb, pb = _cdf_points(b)
    edges = sorted(set(xa[1:-1]))
    fa = [0.0, *(_interp(e, xa, pa_) for e in edges), 1.0]
    fb = [0.0, *(_interp(e, xb, pb) for e in edges), 1.0]
    return [fa[k + 1] - fa[k] for k in range(len(fa) - 1)], [fb[k + 1] - fb[k] for k in range(len(fb) - 1)]


def _category_shares(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[str], list[float], list[float]]:
    values = list(dict.fromkeys([str(v["value"]) for v in a.get("top", [])] + [str(v["value"]) for v in b.get("top", [])]))
    out = []
    for c in (a, b):
        counts = {str(v["value"]): v["count"] for v in c.get("top", [])}
        total = c["count"] or 1
        shares = [counts.get(v, 0) / total for v in values]
        out.append([*shares, max(0.0, 1 - sum(shares))])
    return [*values, "(other)"], out[0], out[1]


def _column(a: dict[str, Any], b: dict[str, Any], rows_a: int, rows_b: int) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": a["kind"], "type_a": a["type"], "type_b": b["type"],
                         "missing_a": a["missing"] / rows_a if rows_a else 0.0, "missing_b": b["missing"] / rows_b if rows_b else 0.0,
                         "distinct_a": a["distinct"], "distinct_b": b["distinct"], "psi": None}
    if a["kind"] == "numeric" and b["kind"] == "numeric" and a.get("finite") and b.get("finite"):
        d |= {"mean_a": a["mean"], "mean_b": b["mean"], "std_a": a.get("std"), "std_b": b.get("std")}
        if a.get("std"):
            d["mean_shift"] = (b["mean"] - a["mean"]) / a["std"]
        if a.get("top") and b.get("top") and a["distinct"] <= 20:
            d["values"], sa, sb = _category_shares(a, b)
        else:
            sa, sb = _numeric_shares(a, b)
        d |= {"psi": psi(sa, sb), "shares_a": sa, "shares_b": sb}
    elif a.get("top") is not None and b.get("top") is not None and a["count"] and b["count"]:
        d["values"], sa, sb = _category_shares(a, b)
        d |= {"psi": psi(sa, sb), "shares_a": sa, "shares_b": sb}
    p = d["psi"]
    d["drift"] = None if p is None else "major" if p >= MAJOR else "moderate" if p >= MODERATE else "none"
    return d


@dataclass
class Comparison:
    """``reference`` against ``current``: per column shifts and PSI, and the columns only one side has."""

    reference: Profile
    current: Profile
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    only_reference: list[str] = field(default_factory=list)
    only_current: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, reference: Profile, current: Profile) -> Comparison:
        ra, rb = reference.rows, current.rows
        shared = [n for n in reference.columns if n in current.columns]
        cols = {n: _column(reference.columns[n], current.columns[n], ra, rb) for n in shared}
        return cls(reference, current, cols, [n for n in reference.columns if n not in current.columns],
                   [n for n in current.columns if n not in reference.columns])

    def drifted(self, level: str = "moderate") -> list[str]:
        """Columns whose PSI reaches ``level`` (``moderate``: 0.1, ``major``: 0.2), most drifted first."""
        bar = MAJOR if level == "major" else MODERATE
        hit = [(n, d["psi"]) for n, d in self.columns.items() if d["psi"] is not None and d["psi"] >= bar]
        return [n for n, _ in sorted(hit, key=lambda x: -x[1])]

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        text = json.dumps({"reference": self.reference.name, "current": self.current.name, "columns": self.columns,
                           "only_reference": self.only_reference, "only_current": self.only_current},
                          ensure_ascii=False, allow_nan=False, default=str)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def report(self) -> Any:
        from datamill.profile._compare_report import build_comparison_report

        return build_comparison_report(self)

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the side-by-side report as one self-contained HTML file; return its path."""
        from datamill.report import write_html

        return write_html(self.report(), path)

    def _repr_html_(self) -> str:
        from datamill.profile._report import iframe

        return iframe(self.report())
