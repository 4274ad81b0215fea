"""Text: trim, case and spaces; categories: map levels, merge rare ones.

Whitespace is the same set on both engines (space, tab, newline, carriage
return, form feed, vertical tab), spelled out rather than ``\\s``, whose meaning
differs between RE2 (DuckDB) and Java (Spark).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from datamill.quality._types import TEXT, Need
from datamill.quality.steps.base import Step, StepOptions, StepOutcome
from datamill.quality.steps.types import check_text

__all__ = ["Categories", "CategorySpec", "Text"]

_WS = r"[ \t\n\r\f\x0B]"
TextOp = Literal["trim", "lower", "upper", "title", "collapse_spaces"]


def text_op(d, expr: str, op: str) -> str:  # noqa: ANN001
    """SQL applying one text operation to ``expr``."""
    if op == "trim":
        return d.replace_all(expr, f"^{_WS}+|{_WS}+$", "")
    if op == "collapse_spaces":
        return d.replace_all(expr, f"{_WS}+", " ")
    if op == "title":
        return d.title(expr)
    return f"{op}({expr})"  # lower, upper


class TextOptions(StepOptions):
    """``text: {name: [trim, lower, collapse_spaces], code: upper}``: operations run in the order written."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _ops(self) -> TextOptions:
        from pydantic import TypeAdapter

        adapter = TypeAdapter(list[TextOp])
        for column, ops in (self.model_extra or {}).items():
            ops = [ops] if isinstance(ops, str) else ops
            self.__pydantic_extra__[column] = adapter.validate_python(ops)  # type: ignore[index]
        return self

    @property
    def ops(self) -> dict[str, list[str]]:
        return dict(self.model_extra or {})


class Text(Step):
    key = "text"
    Options = TextOptions
    options: TextOptions

    def writes(self) -> list[str] | None:
        return self.columns()

    def columns(self) -> list[str]:
        return list(self.options.ops)

    def needs(self) -> list[Need]:
        return [Need(c, TEXT, f"text {c}") for c in self.options.ops]

    def apply(self, frame):  # noqa: ANN001, ANN201
        check_text(frame, self.columns(), self.key)
        changes = {}
        for column, ops in self.options.ops.items():
            expr = f"{{{column}}}"
            for op in ops:
                expr = text_op(frame.d, expr, op)
            changes[column] = expr
        return StepOutcome(frame.with_columns(changes), values={c: {"ops": o} for c, o in self.options.ops.items()},
                           changed=changes)


class RareSpec(BaseModel):
    """Levels with less than ``min_share`` of the non-null values (or beyond the ``max_levels`` most frequent) become ``into``."""

    model_config = ConfigDict(extra="forbid")
    min_share: float = Field(default=0.0, ge=0, lt=1)
    max_levels: int | None = Field(default=None, ge=1)
    into: str = "other"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"min_share": value} if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class CategorySpec(BaseModel):
    """``{map: {us: US, "United States": US}, rare: {min_share: 0.01, into: other}, case: lower}``.

    Values are trimmed (``trim: false`` keeps spaces) and put in ``case``; map keys
    are normalised the same way before they are compared, so ``"United States"``
    also catches ``" united states"`` under ``case: lower``. Mapped values are
    kept as written; a key mapped to null makes the value missing. Rare levels
    are counted after mapping.
    """

    model_config = ConfigDict(extra="forbid")
    map: dict[str, str | None] = {}
    rare: RareSpec | None = None
    case: Literal["lower", "upper", "title"] | None = None
    trim: bool = True

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("map"), dict):  # YAML reads no: as False, 1: as 1
            plain = {_text(k): (None if v is None else _text(v)) for k, v in value["map"].items()}
            return {**value, "map": plain}
        return value


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class CategoriesOptions(StepOptions):
    """``categories: {country: {map: {...}, rare: 0.01}}``."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="after")
    def _specs(self) -> CategoriesOptions:
        for column, spec in (self.model_extra or {}).items():
            self.__pydantic_extra__[column] = CategorySpec.model_validate(spec or {})  # type: ignore[index]
        return self

    @property
    def specs(self) -> dict[str, CategorySpec]:
        return dict(self.model_extra or {})


class Categories(Step):
    key = "categories"
    Options = CategoriesOptions
    options: CategoriesOptions

    def writes(self) -> list[str] | None:
        return self.columns()

    def columns(self) -> list[str]:
        return list(self.options.specs)

    def needs(self) -> list[Need]:
        return [Need(c, TEXT, f"categories {c}") for c in self.options.specs]

    def apply(self, frame):  # noqa: ANN001, ANN201
        check_text(frame, self.columns(), self.key)
        changes: dict[str, str] = {}
        values: dict[str, Any] = {}
        for column, spec in self.options.specs.items():
            mapped = _mapped(frame.d, f"{{{column}}}", spec)
            values[column] = {"map": spec.map} if spec.map else {}
            if spec.rare is not None:
                merged = _rare_levels(frame, mapped, spec.rare)
                values[column].update({"merged": merged, "into": spec.rare.into})
                if merged:
                    levels = ", ".join(frame.d.literal(v) for v in merged)
                    mapped = f"CASE WHEN ({mapped}) IN ({levels}) THEN {frame.d.literal(spec.rare.into)} ELSE {mapped} END"
            changes[column] = mapped
        return StepOutcome(frame.with_columns(changes), values=values, changed=changes)


def _normalised(d, expr: str, spec: CategorySpec) -> str:  # noqa: ANN001
    if spec.trim:
        expr = text_op(d, expr, "trim")
    return text_op(d, expr, spec.case) if spec.case else expr


def _mapped(d, expr: str, spec: CategorySpec) -> str:  # noqa: ANN001
    value = _normalised(d, expr, spec)
    if not spec.map:
        return value
    # keys go through the same SQL as the values, so both engines normalise them alike
    whens = " ".join(
        f"WHEN {_normalised(d, d.literal(k), spec)} THEN {d.literal(v)}" if v is not None
        else f"WHEN {_normalised(d, d.literal(k), spec)} THEN CAST(NULL AS {d.text_type})"
        for k, v in spec.map.items()
    )
    return f"CASE {value} {whens} ELSE {value} END"


def _rare_levels(frame, mapped: str, rare: RareSpec) -> dict[str, int]:  # noqa: ANN001
    """Levels to merge into ``rare.into`` with their counts, by level (the same order everywhere)."""
    rows = frame.query(
        f", m AS (SELECT {frame.plain(mapped)} AS v FROM t) "
        "SELECT v, count(*) AS n FROM m WHERE v IS NOT NULL GROUP BY v"
    ).to_arrow().to_pylist()
    total = sum(r["n"] for r in rows)
    ranked = sorted((r for r in rows if r["v"] != rare.into), key=lambda r: (-r["n"], r["v"]))
    merged = {}
    for rank, r in enumerate(ranked):
        beyond = rare.max_levels is not None and rank >= rare.max_levels
        if beyond or r["n"] < rare.min_share * total:
            merged[r["v"]] = int(r["n"])
    return dict(sorted(merged.items()))
