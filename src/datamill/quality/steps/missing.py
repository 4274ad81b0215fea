"""Missing values: drop rows or columns over a threshold, or impute them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from datamill.engine.dialect import literal
from datamill.exceptions import QualityError
from datamill.quality._types import NUMBER, ColumnType, Need
from datamill.quality.steps.base import Removed, Step, StepOptions, StepOutcome

__all__ = ["DropMissing", "Impute", "ImputeMethod"]

SQL_METHODS = ("mean", "median", "mode", "constant", "ffill", "bfill")
PY_METHODS = ("knn", "iterative")
NUMERIC_METHODS = ("mean", "median", "knn", "iterative")  # they fill numbers, as DOUBLE


class DropMissingOptions(StepOptions):
    """``drop_missing: {rows_over: 0.5, columns_over: 0.9, subset: [a, b]}``.

    A row is dropped (kept in quarantine) when more than ``rows_over`` of the
    ``subset`` columns are missing (``rows_over: 0`` drops a row with any missing
    value); a column is dropped when more than ``columns_over`` of its values are.
    """

    rows_over: float | None = Field(default=None, ge=0, le=1)
    columns_over: float | None = Field(default=None, ge=0, le=1)
    subset: list[str] = []


class DropMissing(Step):
    key = "drop_missing"
    Options = DropMissingOptions
    options: DropMissingOptions

    def columns(self) -> list[str]:
        return list(self.options.subset)

    def apply(self, frame):  # noqa: ANN001, ANN201
        o = self.options
        values: dict[str, Any] = {}
        dropped: list[str] = []
        if o.columns_over is not None:
            shares = frame.aggregate({c: f"avg(CASE WHEN {{{c}}} IS NULL THEN 1.0 ELSE 0.0 END)" for c in frame.names})
            dropped = [c for c, share in shares.items() if share is not None and share > o.columns_over]
            values["missing_share"] = {c: round(v or 0.0, 6) for c, v in shares.items()}
            frame = frame.without(dropped)
        removed = None
        if o.rows_over is not None:
            subset = [c for c in (o.subset or frame.names) if c in frame.columns]
            missing = " + ".join(f"(CASE WHEN {{{c}}} IS NULL THEN 1 ELSE 0 END)" for c in subset)
            condition = f"({missing}) > {o.rows_over * len(subset)}"
            reason = literal(f"more than {o.rows_over:.0%} of {len(subset)} columns missing")
            removed = Removed(frame.where(condition), reason)
            frame = frame.where(f"NOT ({condition})")
        return StepOutcome(frame, removed, values=values, dropped_columns=dropped)


class ImputeMethod(BaseModel):
    """How one column is imputed: ``median`` or ``{method: ffill, by: [id], order_by: ts}``."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["mean", "median", "mode", "constant", "ffill", "bfill", "knn", "iterative"]
    value: Any = None  # for constant
    by: list[str] = []  # for ffill/bfill: groups
    order_by: list[str] = []  # for ffill/bfill: order within a group
    using: list[str] = []  # for knn/iterative: predictor columns (default: other numerics)
    neighbors: int = Field(default=5, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"method": value}
        if isinstance(value, dict) and "constant" in value and "method" not in value:
            return {"method": "constant", "value": value["constant"]}
        if isinstance(value, dict):
            return {k: ([v] if k in ("by", "order_by", "using") and isinstance(v, str) else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _needs(self) -> ImputeMethod:
        if self.method in ("ffill", "bfill") and not self.order_by:
            raise ValueError(f"{self.method} needs order_by: the column that orders rows within a group")
        if self.method == "constant" and self.value is None:
            raise ValueError("constant needs a value: {constant: 0}")
        return self


class ImputeOptions(StepOptions):
    """``impute: {income: median, plan: {constant: basic}, age: knn}``."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _methods(self) -> ImputeOptions:
        for column, spec in (self.model_extra or {}).items():
            self.__pydantic_extra__[column] = ImputeMethod.model_validate(spec)  # type: ignore[index]
        return self

    @property
    def methods(self) -> dict[str, ImputeMethod]:
        return dict(self.model_extra or {})


class Impute(Step):
    key = "impute"
    Options = ImputeOptions
    options: ImputeOptions

    def statistics(self, frame):  # noqa: ANN001, ANN201
        return self._stat_exprs(frame, {c: m for c, m in self.options.methods.items() if m.method in SQL_METHODS})

    def writes(self) -> list[str] | None:
        if any(m.method in PY_METHODS for m in self.options.methods.values()):
            return None  # model imputers compute a new table
        return list(self.options.methods)

    def columns(self) -> list[str]:
        out = list(self.options.methods)
        for m in self.options.methods.values():
            out += m.by + m.order_by + m.using
        return out

    def needs(self) -> list[Need]:
        out = []
        for column, m in self.options.methods.items():
            if m.method in NUMERIC_METHODS:
                out.append(Need(column, NUMBER, f"impute {column} ({m.method})", "or impute it with mode or a constant"))
            out += [Need(u, NUMBER, f"impute {column} ({m.method} using {u})") for u in m.using]
        return out

    def output_types(self, types: dict[str, ColumnType]) -> dict[str, ColumnType]:
        filled = {c: ColumnType("number", "double") for c, m in self.options.methods.items()
                  if m.method in NUMERIC_METHODS and c in types}
        return {**types, **filled}

    def apply(self, frame):  # noqa: ANN001, ANN201
        methods = self.options.methods
        sql_cols = {c: m for c, m in methods.items() if m.method in SQL_METHODS}
        py_cols = {c: m for c, m in methods.items() if m.method in PY_METHODS}
        stats = frame.aggregate(self.statistics(frame))  # one pass for every column (maybe an earlier step's)
        values: dict[str, Any] = {}
        changes: dict[str, str] = {}
        for column, m in sql_cols.items():
            fill, used = self._fill(frame, column, m, stats)
            if m.method in ("ffill", "bfill"):
                values[column] = {"method": m.method, "by": m.by, "order_by": m.order_by}
            else:
                values[column] = {"method": m.method, "value": _plain(used)}
            changes[column] = f"coalesce({{{column}}}, {fill})"
        # a fill by one value changes exactly the missing cells: counted in the stats pass already
        known = {c: int(stats["_rows"]) - int(stats[f"_nonnull_{c}"])
                 for c, m in sql_cols.items() if m.method not in ("ffill", "bfill")}
        changed = {c: ("" if c in known else e) for c, e in changes.items()}
        if py_cols:
            from datamill.quality.steps._model_impute import model_impute

            frame, info = model_impute(frame.with_columns(changes), py_cols)
            known.update(info.pop("_cells_changed", {}))
            values.update(info)
            values["_cells_changed"] = known
            return StepOutcome(frame, values=values, changed={**changed, **{c: "" for c in py_cols}})
        values["_cells_changed"] = known
        return StepOutcome(frame.with_columns(changes), values=values, changed=changed)

    def _stat_exprs(self, frame, methods: dict[str, ImputeMethod]) -> dict[str, str]:  # noqa: ANN001
        exprs = {"_rows": "count(*)"}
        for c, m in methods.items():
            if m.method == "mean":
                exprs[c] = f"avg({{{c}}})"
            elif m.method == "median":
                exprs[c] = frame.d.quantile(f"{{{c}}}", 0.5)
            exprs[f"_nonnull_{c}"] = f"count({{{c}}})"
        return exprs

    def _fill(self, frame, column: str, m: ImputeMethod, stats: dict[str, Any]) -> tuple[str, Any]:  # noqa: ANN001
        """The SQL that fills ``column``'s gaps, and the value used (None for fills)."""
        if m.method in ("mean", "median"):
            if stats.get(f"_nonnull_{column}") == 0:
                raise QualityError(
                    f"impute {column}: {m.method} of an all-null column does not exist "
                    "(fix: impute a constant, or drop the column with drop_missing: {columns_over: 0.99})"
                )
            return f"CAST({literal(stats[column])} AS DOUBLE)", stats[column]
        if m.method in ("constant", "mode"):
            value = m.value if m.method == "constant" else self._mode(frame, column)
            return self._typed(frame, column, value), value
        partition = [f"{{{c}}}" for c in m.by]
        order = [f"{{{c}}}" for c in m.order_by]
        return frame.d.ffill(f"{{{column}}}", partition, order, backward=m.method == "bfill"), None

    def _typed(self, frame, column: str, value: Any) -> str:  # noqa: ANN001
        """A literal cast to the column's own type, so imputing never changes a column's type."""
        return f"CAST({literal(value)} AS {frame.d.sql_type(frame.schema.field(column).type)})"

    def _mode(self, frame, column: str) -> Any:  # noqa: ANN001
        # The most frequent value, ties broken by the smallest: the same on every engine.
        col = frame.ident(column)
        rows = frame.query(
            f"SELECT {col} AS v, count(*) AS n FROM t WHERE {col} IS NOT NULL GROUP BY {col} ORDER BY n DESC, v ASC LIMIT 1"
        ).to_arrow().to_pylist()
        if not rows:
            raise QualityError(f"impute {column}: mode of an all-null column does not exist (fix: impute a constant)")
        return _plain(rows[0]["v"])


def _plain(value: Any) -> Any:
    """JSON-friendly: Decimals and dates as numbers/strings for the record."""
    import datetime
    import decimal

    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value
