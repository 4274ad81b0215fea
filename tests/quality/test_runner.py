"""The runner's balance: rows out are counted where the rows land, so a step that loses rows is caught."""

from __future__ import annotations

import pyarrow as pa
import pytest

from datamill.engine.base import ArrowScan
from datamill.engine.duckdb import DuckDBEngine
from datamill.exceptions import QualityError
from datamill.quality import run_quality
from datamill.quality.steps.base import Step, StepOptions, StepOutcome


class LosesRows(Step):
    """A test-only step with a bug: it filters rows without saying they were removed."""

    key = "loses_rows"
    Options = StepOptions

    def apply(self, frame):  # noqa: ANN001, ANN201
        return StepOutcome(frame.where("{id} <> 2"))


def test_a_step_that_loses_rows_breaks_the_balance() -> None:
    table = pa.table({"id": [1, 2, 2, 3]})
    with DuckDBEngine() as engine:
        result = run_quality(engine, ArrowScan("t", table), [LosesRows(StepOptions())], [], dataset="t")
        out = result.relation().to_arrow()
        with pytest.raises(QualityError, match=r"dataset 't': rows do not add up: rows in 4 ≠ rows out 2 "
                                               r"\(rows collected\) \+ quarantined 0 \+ duplicates 0; 2 rows unaccounted for"):
            result.settle(out.num_rows, "rows collected")
        result.close()
    assert not result.record.balanced and result.record.rows_out == 2
