"""The ``clean:`` and ``checks:`` blocks of a dataset, parsed into steps and checks.

``clean:`` is a mapping whose keys are step kinds, run in the order written::

    clean:
      dedupe: [customer_id]
      impute: {income: median, country: mode}
      outliers: {income: iqr}
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, PrivateAttr, create_model, model_validator

from datamill.quality.checks import CheckSpec
from datamill.quality.steps import STEP_CLASSES
from datamill.quality.steps.base import Step

__all__ = ["CheckSpec", "CleanSpec"]


class _CleanBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    _order: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_order(cls, value: Any, handler: Any) -> Any:
        if isinstance(value, list):  # also accept [{dedupe: ...}, {impute: ...}]
            merged: dict[str, Any] = {}
            for item in value:
                if not isinstance(item, dict) or len(item) != 1:
                    raise ValueError("each item of a clean: list is one {step: options} mapping")
                merged.update(item)
            value = merged
        if isinstance(value, dict):  # `dedupe: false` switches a step off
            value = {k: v for k, v in value.items() if v is not False and v is not None}
        model = handler(value)
        if isinstance(value, dict):
            model._order = [k for k in value if k in STEP_CLASSES]
        return model

    def steps(self) -> list[Step]:
        """The steps in the order they were written."""
        return [STEP_CLASSES[key](getattr(self, key)) for key in self._order]


CleanSpec = create_model(  # one optional field per step kind, so errors point at the key
    "CleanSpec",
    __base__=_CleanBase,
    **{key: (Optional[cls.Options], None) for key, cls in STEP_CLASSES.items()},  # noqa: UP045
)
CleanSpec.__doc__ = "The ``clean:`` block: step kind -> its options, in order."
