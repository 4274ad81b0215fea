"""What a drift check found: per-feature statistics and the dataset verdict.

This is issue 11's Contract 2. :mod:`datamill.monitor.drift` produces a
:class:`DriftResult`; the report, the alerts and the retrain policy consume it.
Both classes are plain data with a JSON round trip (``to_dict`` / ``from_dict``),
so a result can be stored next to its report and read back later.

Examples
--------
>>> f = FeatureDrift("age", "numeric", "ks", 0.31, 0.001, 0.05, True, {"ks": 0.31, "psi": 0.4})
>>> f.decided_by
'ks p 0.001 < 0.05'
>>> r = DriftResult("churn", 3, "champion", "last 100 rows of predictions_log", 1000, 100, [f], None,
...                 1.0, True, "2024-01-01T00:00:00+00:00", ["1 of 1 features drifted"])
>>> DriftResult.from_dict(r.to_dict()) == r
True
>>> [x.column for x in r.drifted]
['age']
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from datamill.exceptions import ModelError

__all__ = ["P_VALUE_METHODS", "DriftResult", "FeatureDrift"]

#: Methods decided by their p-value: drifted when ``p_value < threshold``; the others when ``statistic >= threshold``.
P_VALUE_METHODS = ("ks", "chi2")


@dataclass
class FeatureDrift:
    """Drift of one column (or of the predictions) between reference and current data.

    ``reference`` and ``current`` hold the distributions behind the statistic, on the
    same bins, for overlays: numerics ``{"edges": [...], "counts": [...]}``,
    categoricals ``{"values": {"a": n, ...}}``.
    """

    column: str
    kind: str  # numeric | categorical | prediction
    method: str  # the deciding method: ks, wasserstein, psi, chi2, jensenshannon
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    scores: dict[str, float] = field(default_factory=dict)
    missing_ref: float = 0.0
    missing_cur: float = 0.0
    new_categories: list[str] = field(default_factory=list)
    reference: dict = field(default_factory=dict)
    current: dict = field(default_factory=dict)

    @property
    def severity(self) -> float:
        """How far past (> 1) or short of (< 1) its threshold the deciding quantity is.

        Distances: ``statistic / threshold``; p-values: ``log10(p) / log10(threshold)``;
        a column missing from the current data (method ``missing``) ranks first.
        """
        if self.method in P_VALUE_METHODS:
            p = max(self.p_value if self.p_value is not None else 1.0, 1e-300)
            return math.log10(p) / math.log10(self.threshold) if 0 < self.threshold < 1 else 0.0
        if self.method == "missing":
            return 1e9
        return float(self.statistic) / float(self.threshold) if self.threshold else 0.0

    @property
    def decided_by(self) -> str:
        """The decision in words: ``ks p 1.2e-06 < 0.05`` or ``psi 0.31 >= 0.2``."""
        if self.method in P_VALUE_METHODS:
            p = "–" if self.p_value is None else f"{self.p_value:.2g}"
            return f"{self.method} p {p} {'<' if self.drifted else '>='} {self.threshold:g}"
        return f"{self.method} {self.statistic:.4g} {'>=' if self.drifted else '<'} {self.threshold:g}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN and infinities become ``None``)."""
        return _clean(asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureDrift:
        """Rebuild from :meth:`to_dict`'s output; unknown keys are ignored."""
        return cls(**_known(cls, d, "FeatureDrift"))


@dataclass
class DriftResult:
    """The outcome of one ``datamill monitor`` check of a model version."""

    model: str
    version: int
    alias: str | None
    window: str  # what was compared, in words
    reference_rows: int
    current_rows: int
    features: list[FeatureDrift]  # drifted first, then statistic/threshold descending
    prediction: FeatureDrift | None
    share_drifted: float
    dataset_drift: bool
    computed_at: str  # ISO 8601, UTC
    signals: list[str] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)  # every threshold in force, share included

    @property
    def drifted(self) -> list[FeatureDrift]:
        """The drifted features, in the result's order (most severe first)."""
        return [f for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN and infinities become ``None``)."""
        return _clean(asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DriftResult:
        """Rebuild from :meth:`to_dict`'s output; unknown keys are ignored."""
        kw = _known(cls, d, "DriftResult")
        kw["features"] = [FeatureDrift.from_dict(f) for f in kw.get("features") or []]
        if kw.get("prediction") is not None:
            kw["prediction"] = FeatureDrift.from_dict(kw["prediction"])
        return cls(**kw)


def _known(cls: type, d: dict[str, Any], what: str) -> dict[str, Any]:
    """The keys of ``d`` that ``cls`` has, with a clear error when a required one is missing."""
    if not isinstance(d, dict):
        raise ModelError(f"a {what} must be a JSON object, got {type(d).__name__} (was it written by to_dict?)")
    names = {f.name for f in fields(cls)}
    kw = {k: v for k, v in d.items() if k in names}
    missing = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING and f.name not in kw]
    if missing:
        raise ModelError(f"a {what} is missing {', '.join(missing)} (was it written by an older datamill? rerun the check)")
    return kw


def _clean(value: Any) -> Any:
    """``value`` with NaN/inf floats as ``None``, so ``json.dumps`` writes strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
