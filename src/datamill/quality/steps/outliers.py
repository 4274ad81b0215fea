"""Outliers: IQR, z-score, modified z-score (MAD) per column, Isolation Forest across columns.

Each method computes bounds on the engine; the action then ``clip``s values to
the bounds (winsorising), ``drop``s the rows (kept in quarantine), or ``flag``s
them in a new boolean column ``<column>_outlier``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from datamill.engine.dialect import literal
from datamill.quality._types import NUMBER, ColumnType, Need
from datamill.quality.steps.base import Removed, Step, StepOptions, StepOutcome

__all__ = ["Outliers", "OutlierMethod"]


class OutlierMethod(BaseModel):
    """``iqr`` or ``{method: zscore, threshold: 3, action: drop}``."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["iqr", "zscore", "mad", "isolation_forest"]
    k: float = Field(default=1.5, gt=0)  # iqr: fences at q1 - k*iqr, q3 + k*iqr
    threshold: float | None = Field(default=None, gt=0)  # zscore (3) and mad (3.5)
    action: Literal["clip", "drop", "flag"] = "clip"
    columns: list[str] = []  # isolation_forest: the columns it looks at together
    contamination: float = Field(default=0.01, gt=0, le=0.5)
    seed: int = 0

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"method": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _fits(self) -> OutlierMethod:
        if self.method == "isolation_forest" and "action" not in self.model_fields_set:
            self.action = "flag"  # clip, the default for one column, means nothing for a row
        if self.method == "isolation_forest" and self.action == "clip":
            raise ValueError("isolation_forest finds outlying rows, not values: use action drop or flag")
        return self


class OutliersOptions(StepOptions):
    """``outliers: {income: iqr, age: {method: zscore, action: drop}, rows: {method: isolation_forest, columns: [a, b]}}``."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _methods(self) -> OutliersOptions:
        for column, spec in (self.model_extra or {}).items():
            self.__pydantic_extra__[column] = OutlierMethod.model_validate(spec)  # type: ignore[index]
        return self

    @property
    def methods(self) -> dict[str, OutlierMethod]:
        return dict(self.model_extra or {})


class Outliers(Step):
    key = "outliers"
    Options = OutliersOptions
    options: OutliersOptions

    def _per_column(self) -> dict[str, OutlierMethod]:
        return {c: m for c, m in self.options.methods.items() if m.method != "isolation_forest"}

    def statistics(self, frame):  # noqa: ANN001, ANN201
        """Quartiles, means and deviations, medians: every column's first statistics in one pass."""
        d = frame.d
        exprs: dict[str, str] = {}
        for c, m in self._per_column().items():
            col = f"CAST({{{c}}} AS DOUBLE)"
            if m.method == "iqr":  # both quartiles from one aggregate: the column's values gathered once
                exprs[f"quartiles_{c}"] = d.quantiles(col, [0.25, 0.75])
            elif m.method == "zscore":
                exprs[f"mean_{c}"] = f"avg({col})"
                exprs[f"sd_{c}"] = f"stddev_samp({col})"
            else:
                exprs[f"med_{c}"] = d.quantile(col, 0.5)
        return exprs

    def writes(self) -> list[str] | None:
        methods = self.options.methods.values()
        if any(m.method == "isolation_forest" or m.action == "drop" for m in methods):
            return None  # rows leave (or a forest rebuilds the table)
        return [f"{c}_outlier" if m.action == "flag" else c for c, m in self.options.methods.items()]

    def columns(self) -> list[str]:
        out = []
        for name, m in self.options.methods.items():
            out += m.columns if m.method == "isolation_forest" else [name]
        return out

    def needs(self) -> list[Need]:
        out = []
        for name, m in self.options.methods.items():
            for column in m.columns if m.method == "isolation_forest" else [name]:
                out.append(Need(column, NUMBER, f"outliers {name} ({m.method})"))
        return out

    def output_types(self, types: dict[str, ColumnType]) -> dict[str, ColumnType]:
        out = dict(types)
        for name, m in self.options.methods.items():
            if m.action == "clip" and name in out:  # a clipped column is DOUBLE
                out[name] = ColumnType("number", "double")
            elif m.action == "flag":
                out[f"{name}_outlier"] = ColumnType("boolean", "bool")
        return out

    def apply(self, frame):  # noqa: ANN001, ANN201
        methods = self._per_column()
        bounds = self._bounds(frame, methods)
        values: dict[str, Any] = {}
        changes: dict[str, str] = {}
        drops: list[tuple[str, str]] = []
        for column, m in methods.items():
            lo, hi = bounds[column]
            values[column] = {"method": m.method, "action": m.action, "lower": lo, "upper": hi}
            if lo is None:  # all null: nothing to judge
                continue
            x, low, high = f"CAST({{{column}}} AS DOUBLE)", _num(lo), _num(hi)
            outside = f"({x} < {low} OR {x} > {high})"
            if m.action == "clip":  # a clipped column is DOUBLE on every engine
                changes[column] = f"CASE WHEN {x} < {low} THEN {low} WHEN {x} > {high} THEN {high} ELSE {x} END"
            elif m.action == "flag":
                changes[f"{column}_outlier"] = f"coalesce({outside}, FALSE)"
            else:
                drops.append((outside, f"{column} outside [{lo:.6g}, {hi:.6g}] ({m.method})"))
        frame = frame.with_columns(changes)
        removed: list[Removed] = []
        if drops:
            any_out = " OR ".join(f"coalesce({cond}, FALSE)" for cond, _ in drops)
            reason = "concat_ws('; ', " + ", ".join(
                f"CASE WHEN coalesce({cond}, FALSE) THEN {frame.d.literal(text)} END" for cond, text in drops
            ) + ")"
            removed.append(Removed(frame.where(any_out), reason))
            frame = frame.where(f"NOT ({any_out})")
        forests = {c: m for c, m in self.options.methods.items() if m.method == "isolation_forest"}
        if forests:
            from datamill.quality.steps._forest import isolation_forest

            frame, removed, info = isolation_forest(frame, forests, removed)
            values.update(info)
        changed = {c: e for c, e in changes.items() if not c.endswith("_outlier") or c in frame.base.schema.names}
        return StepOutcome(frame, removed, values=values, changed=changed)

    def _bounds(self, frame, methods: dict[str, OutlierMethod]) -> dict[str, tuple[float | None, float | None]]:  # noqa: ANN001
        d = frame.d
        stats = frame.aggregate(self.statistics(frame))  # one pass (maybe an earlier step's)
        mad_exprs = {
            f"mad_{c}": d.quantile(f"abs(CAST({{{c}}} AS DOUBLE) - {literal(stats[f'med_{c}'])})", 0.5)
            for c, m in methods.items() if m.method == "mad" and stats.get(f"med_{c}") is not None
        }
        stats.update(frame.aggregate(mad_exprs))
        out: dict[str, tuple[float | None, float | None]] = {}
        for c, m in methods.items():
            out[c] = _fences(c, m, stats)
        return out


def _num(value: float) -> str:
    return f"CAST({literal(float(value))} AS DOUBLE)"


def _fences(c: str, m: OutlierMethod, stats: dict[str, Any]) -> tuple[float | None, float | None]:
    if m.method == "iqr":
        quartiles = stats.get(f"quartiles_{c}")
        if quartiles is None or quartiles[0] is None:
            return None, None
        q1, q3 = quartiles
        iqr = q3 - q1
        return q1 - m.k * iqr, q3 + m.k * iqr
    if m.method == "zscore":
        mean, sd = stats.get(f"mean_{c}"), stats.get(f"sd_{c}")
        if mean is None:
            return None, None
        t = m.threshold or 3.0
        return mean - t * (sd or 0.0), mean + t * (sd or 0.0)
    med, mad = stats.get(f"med_{c}"), stats.get(f"mad_{c}")
    if med is None:
        return None, None
    # modified z-score 0.6745 (x - median) / MAD > t  <=>  |x - median| > t * MAD / 0.6745
    t = m.threshold or 3.5
    spread = t * (mad or 0.0) / 0.6745
    return med - spread, med + spread
