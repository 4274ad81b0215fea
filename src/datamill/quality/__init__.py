"""Quality: cleaning steps and checks that run on the engine and keep every removed row.

Examples
--------
>>> import pyarrow as pa
>>> from datamill.quality import clean
>>> t = pa.table({"id": [1, 1, 2, 3], "income": [10.0, 10.0, None, 30.0]})
>>> result = clean(t, {"dedupe": True, "impute": {"income": "median"}})
>>> result.table.sort_by("id").to_pylist()
[{'id': 1, 'income': 10.0}, {'id': 2, 'income': 20.0}, {'id': 3, 'income': 30.0}]
>>> result.record.rows_duplicates, result.quarantine.num_rows
(1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from datamill.quality.checks import CHECKS, Check, CheckResult, parse_check
from datamill.quality.config import CheckSpec, CleanSpec
from datamill.quality.record import QualityRecord, StepRecord, load_records, save_record
from datamill.quality.runner import QualityResult, run_quality
from datamill.quality.steps import STEP_CLASSES

__all__ = [
    "CHECKS",
    "STEP_CLASSES",
    "Check",
    "CheckResult",
    "CheckSpec",
    "CleanResult",
    "CleanSpec",
    "QualityRecord",
    "QualityResult",
    "StepRecord",
    "clean",
    "load_records",
    "parse_check",
    "run_quality",
    "save_record",
]


@dataclass
class CleanResult:
    """What :func:`clean` returns: the cleaned table, the quarantined rows, the record."""

    table: pa.Table
    quarantine: pa.Table
    record: QualityRecord


def clean(
    table: pa.Table,
    steps: dict[str, Any] | None = None,
    checks: list[Any] | None = None,
    *,
    engine: Any = None,
    allow_empty: bool = False,
    name: str = "data",
) -> CleanResult:
    """Clean an Arrow table in a notebook: the same steps and checks as a dataset's ``clean:``/``checks:``."""
    from datamill.engine.base import ArrowScan
    from datamill.engine.duckdb import DuckDBEngine

    spec = CleanSpec.model_validate(steps or {})
    own = engine is None
    engine = engine or DuckDBEngine()
    try:
        result = run_quality(
            engine, ArrowScan(name, table), spec.steps(), [CheckSpec.model_validate(c).build() for c in checks or []],
            dataset=name, allow_empty=allow_empty,
        )
        out = result.relation().to_arrow()
        result.close()
        return CleanResult(out, result.quarantine, result.record)
    finally:
        if own:
            engine.close()
