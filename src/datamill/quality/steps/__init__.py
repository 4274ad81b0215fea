"""Cleaning steps, one module per family; ``STEP_CLASSES`` maps a ``clean:`` key to its step."""

from datamill.quality.steps.base import Removed, Step, StepOptions, StepOutcome
from datamill.quality.steps.dedupe import Dedupe
from datamill.quality.steps.missing import DropMissing, Impute
from datamill.quality.steps.outliers import Outliers
from datamill.quality.steps.text import Categories, Text
from datamill.quality.steps.types import Booleans, Cast

STEP_CLASSES: dict[str, type[Step]] = {
    cls.key: cls for cls in (Dedupe, DropMissing, Impute, Outliers, Cast, Text, Categories, Booleans)
}

__all__ = ["STEP_CLASSES", "Removed", "Step", "StepOptions", "StepOutcome"]
