"""The engine suite as a third-party engine meets it: one call that passes or names the failing case."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pytest

from datamill.engine.base import Relation, TableInput
from datamill.engine.duckdb import DuckDBEngine
from datamill.testing import check_engine
from datamill.testing.engine import CASES, engine_cases


class _DropsLastRow(Relation):
    def __init__(self, inner: Relation) -> None:
        self.inner = inner

    @property
    def schema(self) -> pa.Schema:
        return self.inner.schema

    def to_reader(self, batch_size: int = 65_536) -> pa.RecordBatchReader:
        table = self.inner.to_arrow()
        return table.slice(0, max(table.num_rows - 1, 0)).to_reader()


class LosesRows(DuckDBEngine):
    """An engine that loses the last row of every result."""

    def sql(self, query: str, tables: Mapping[str, TableInput], *, dialect: str = "duckdb") -> Relation:
        return _DropsLastRow(super().sql(query, tables, dialect=dialect))


def test_a_conforming_engine_passes() -> None:
    check_engine(DuckDBEngine)


def test_a_failing_case_is_named_with_its_query() -> None:
    with pytest.raises(AssertionError, match=r"case 'inner_join_null_keys' \(arrow inputs\): select c\.id"):
        check_engine(LosesRows)


def test_cases_cover_nested_columns_and_common_functions() -> None:
    assert len(CASES) >= 50
    assert [p.id for p in engine_cases()] == [c.name for c in CASES]
    assert len({c.name for c in CASES}) == len(CASES)
    nested = [c for c in CASES if "from items" in c.query]
    assert len(nested) >= 30
