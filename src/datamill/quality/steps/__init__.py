"""Cleaning steps, one module per family; ``STEP_CLASSES`` maps a ``clean:`` key to its step."""

from datamill.quality.steps.base import Removed, Step, StepOptions, StepOutcome
from datamill.quality.steps.dedupe import Dedupe
from datamill.quality.steps.missing import DropMissing, Impute
from datamill.quality.steps.outliers import Outliers

STEP_CLASSES: dict[str, type[Step]] = {cls.key: cls for cls in (Dedupe, DropMissing, Impute, Outliers)}

__all__ = ["STEP_CLASSES", "Removed", "Step", "StepOptions", "StepOutcome"]
