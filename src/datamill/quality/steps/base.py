"""What a cleaning step is: options in, a changed :class:`Frame` and what it did out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from datamill.engine import Frame
from datamill.quality._types import ColumnType, Need

__all__ = ["Removed", "Step", "StepOptions", "StepOutcome"]


class StepOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class Removed:
    """Rows a step took out: the frame that selects them and why (a SQL string expression)."""

    frame: Frame
    reason: str  # SQL expression giving the reason text per row
    kind: str = "quarantined"  # or "duplicate"
    helper_columns: list[str] = field(default_factory=list)  # in the frame for the query only: dropped once collected


@dataclass
class StepOutcome:
    """The frame after the step, and the facts for the cleaning record."""

    frame: Frame
    removed: Removed | list[Removed] | None = None  # a list when rows leave for several reasons
    values: dict[str, Any] = field(default_factory=dict)  # what the step computed and used
    changed: dict[str, str] = field(default_factory=dict)  # column -> new expression, to count changed cells
    dropped_columns: list[str] = field(default_factory=list)

    @property
    def removals(self) -> list[Removed]:
        """Every set of removed rows, as a list (empty when the step removed none)."""
        if self.removed is None:
            return []
        return list(self.removed) if isinstance(self.removed, list) else [self.removed]


def _flow(value: Any) -> str:
    """A value in YAML's one-line flow style; one-key ``{method: x}`` mappings shortened to ``x``."""
    if isinstance(value, dict):
        if set(value) == {"method"}:
            return _flow(value["method"])
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Step(ABC):
    """A pure transform of a frame. ``fit`` statistics run on the engine; nothing is written."""

    key: ClassVar[str]
    Options: ClassVar[type[StepOptions]]

    def __init__(self, options: StepOptions) -> None:
        self.options = options

    @abstractmethod
    def apply(self, frame: Frame) -> StepOutcome:
        """Compute what the step needs on ``frame`` and return the cleaned frame."""

    def statistics(self, frame: Frame) -> dict[str, str]:
        """The aggregates the step computes over its input first (name -> SQL over ``{col}`` placeholders).

        The step reads them with ``frame.aggregate(self.statistics(frame))``;
        the runner may compute them earlier, in one pass with another step's
        (see :meth:`writes`).
        """
        return {}

    def writes(self) -> list[str] | None:
        """The columns the step changes or adds, when that is all it does; ``None`` otherwise.

        A step that keeps every row and computes no new table changes only
        these columns, so a later step's statistics over other columns may be
        computed before it runs. ``None`` (the default): it removes rows or
        rebuilds the table, and later statistics wait for it.
        """
        return None

    def describe(self) -> str:
        """One line for the record and the report, written as in the project file.

        Examples
        --------
        >>> from datamill.quality.steps.missing import Impute
        >>> Impute(Impute.Options.model_validate({"income": "median", "plan": {"constant": "basic"}})).describe()
        'impute: {income: median, plan: {method: constant, value: basic}}'
        """
        return f"{self.key}: {_flow(self.options.model_dump(mode='json', exclude_defaults=True))}"

    def columns(self) -> list[str]:
        """Columns this step reads, checked to exist before anything runs."""
        return []

    def needs(self) -> list[Need]:
        """The types this step accepts, per column it reads: checked before anything runs."""
        return []

    def output_types(self, types: dict[str, ColumnType]) -> dict[str, ColumnType]:
        """The column types after this step, for the type checks of the steps after it."""
        return types
