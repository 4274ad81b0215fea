"""Duplicates: exact rows, or one row per key (first/last by an order column)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import model_validator

from datamill.engine.dialect import literal
from datamill.quality.steps.base import Removed, Step, StepOptions, StepOutcome

__all__ = ["Dedupe", "DedupeOptions"]

_RN = "_dm_rn"
_N = "_dm_n"
_COPY = "_dm_copy"


class DedupeOptions(StepOptions):
    """``dedupe: true`` (exact rows), ``dedupe: [id]`` or ``{keys: [id], keep: last, order_by: ts}``.

    ``keep: first`` keeps the row with the smallest ``order_by`` value, ``last``
    the largest (the newest, for a timestamp). Without ``order_by`` the kept row
    is chosen deterministically (by all columns), the same on every engine.
    Rows whose keys are NULL count as one group (as in ``GROUP BY`` and pandas'
    ``drop_duplicates``): only one of them is kept, so impute or drop missing
    keys first to keep them all.
    """

    keys: list[str] = []
    keep: Literal["first", "last"] = "first"
    order_by: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if value is True:
            return {}
        if isinstance(value, str):
            return {"keys": [value]}
        if isinstance(value, list):
            return {"keys": value}
        if isinstance(value, dict) and isinstance(value.get("order_by"), str):
            return {**value, "order_by": [value["order_by"]]}
        return value


class Dedupe(Step):
    key = "dedupe"
    Options = DedupeOptions
    options: DedupeOptions

    def columns(self) -> list[str]:
        return [*self.options.keys, *self.options.order_by]

    def apply(self, frame):  # noqa: ANN001, ANN201
        if not self.options.keys:
            return self._exact(frame)
        o = self.options
        keys = o.keys
        direction = "DESC" if o.keep == "last" else "ASC"
        nulls = "NULLS LAST" if o.keep == "first" else "NULLS FIRST"
        order = [f"{{{c}}} {direction} {nulls}" for c in o.order_by]
        # ties (and no order_by) are broken by every other column: deterministic everywhere
        order += [f"{{{c}}} ASC NULLS LAST" for c in frame.names if c not in o.order_by]
        window = frame.d.row_number([f"{{{k}}}" for k in keys], order)
        marked = frame.materialize({_RN: window})
        kept = marked.where(f"{{{_RN}}} = 1").without([_RN])
        removed = marked.where(f"{{{_RN}}} > 1").without([_RN])
        what = "an identical row" if not o.keys else f"a row with the same {', '.join(o.keys)}"
        reason = literal(f"duplicate of {what} (kept the {o.keep}{' by ' + ', '.join(o.order_by) if o.order_by else ''})")
        return StepOutcome(kept, Removed(removed, reason, kind="duplicate"), values={"keys": keys, "keep": o.keep})

    def _exact(self, frame):  # noqa: ANN001, ANN202
        """Identical rows: one hash aggregate with a count (as fast as DISTINCT), not a window.

        The removed copies are rebuilt from the counts: a row seen n times
        leaves n - 1 copies in quarantine.
        """
        counted = frame.materialize_counted(_N)
        kept = counted.without([_N])
        extra = counted.where(f"{{{_N}}} > 1").with_columns({_COPY: frame.d.repeat(f"{{{_N}}} - 1")})
        reason = literal("duplicate of an identical row (one copy kept)")
        removed = Removed(extra, reason, kind="duplicate", helper_columns=[_N, _COPY])
        return StepOutcome(kept, removed, values={"keys": "all columns"})
