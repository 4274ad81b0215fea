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

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from datamill.quality._types import dataset_type_problems
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
    "dataset_type_problems",
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
    failed_checks: list[CheckResult] = field(default_factory=list)


def _parse(steps: Any, checks: list[Any]) -> tuple[list[Any], list[Check]]:
    """Steps and checks from their project-file form; a mistake is a :class:`ConfigError`."""
    from pydantic import ValidationError

    from datamill.exceptions import ConfigError

    try:
        parsed_steps = CleanSpec.model_validate(steps or {}).steps()
        parsed_checks = [CheckSpec.model_validate(c).build() for c in checks]
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(str(p) for p in e["loc"]) + ": " + e["msg"].removeprefix("Value error, ") if e["loc"]
            else e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise ConfigError(f"clean: {problems}") from None
    return parsed_steps, parsed_checks


def clean(
    table: pa.Table,
    steps: dict[str, Any] | None = None,
    checks: list[Any] | None = None,
    *,
    engine: Any = None,
    allow_empty: bool = False,
    name: str = "data",
    others: dict[str, pa.Table] | None = None,
) -> CleanResult:
    """Clean an Arrow table in a notebook: the same steps and checks as a dataset's ``clean:``/``checks:``.

    ``others`` are the tables ``relationship`` checks look into, by name. A check
    of severity ``fail`` that fails (or rules that remove every row without
    ``allow_empty``) raise :class:`~datamill.exceptions.QualityError`; its
    ``result`` attribute holds the :class:`CleanResult`, quarantine included.
    """
    from datamill.engine.base import ArrowScan
    from datamill.engine.duckdb import DuckDBEngine
    from datamill.exceptions import QualityError

    parsed_steps, parsed_checks = _parse(steps, checks or [])
    own = engine is None
    engine = engine or DuckDBEngine()
    try:
        result = run_quality(
            engine, ArrowScan(name, table), parsed_steps, parsed_checks, dataset=name, allow_empty=allow_empty,
            others={n: ArrowScan(n, t) for n, t in (others or {}).items()},
        )
        out = result.relation().to_arrow()
        result.close()
        result.settle(out.num_rows, "rows collected")
        cleaned = CleanResult(out, result.quarantine, result.record, result.failed_checks)
        if result.fatal:
            error = QualityError(result.fatal_message("the result's quarantine"))
            error.result = cleaned  # type: ignore[attr-defined]
            raise error
        return cleaned
    finally:
        if own:
            engine.close()
