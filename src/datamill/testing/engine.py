"""The engine conformance suite, for datamill's engines and third-party ones.

An engine conforms when every case of :data:`CASES` gives exactly its Arrow
result (values and types), with inputs given as Arrow tables and as lazy
scans over Parquet files. A new engine is done when it passes.

Run everything in one call (an :class:`AssertionError` names the first case
that fails, its input kind and its query)::

    from datamill.testing import check_engine

    def test_my_engine_conforms():
        check_engine(MyEngine)               # any callable returning a fresh Engine

or one pytest test per case, with the engine from your own fixture::

    import pytest
    from datamill.testing.engine import check_engine_case, engine_cases

    @pytest.mark.parametrize("inputs", ["arrow", "parquet"])
    @pytest.mark.parametrize("case", engine_cases())
    def test_conformance(my_engine, case, inputs, tmp_path):
        check_engine_case(my_engine, case, inputs=inputs, folder=tmp_path)

Nothing here imports pytest until :func:`engine_cases` is called.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from datamill.storage.base import TableScan
from datamill.testing._engine_cases import CASES, INPUTS, Case

if TYPE_CHECKING:
    import pyarrow.dataset as ds

    from datamill.engine.base import Engine

__all__ = [
    "CASES", "INPUTS", "Case", "ParquetScan", "case_inputs", "check_engine", "check_engine_case", "engine_cases",
    "parquet_scan", "run_case", "sorted_rows",
]

InputKind = Literal["arrow", "parquet"]


class ParquetScan(TableScan):
    """A lazy scan over Parquet files, standing in for a storage backend's scan.

    It counts the datasets it opens and the times its files are listed, so a
    test can tell whether an engine read the files itself.
    """

    def __init__(self, name: str, files: list[str]) -> None:
        super().__init__(name, version=0)
        self.files = files
        self.datasets_opened = 0
        self.files_listed = 0

    @property
    def schema(self) -> pa.Schema:
        return pq.read_schema(self.files[0])

    def to_dataset(self) -> ds.Dataset:
        import pyarrow.dataset as ds

        self.datasets_opened += 1
        return ds.dataset(self.files, format="parquet")

    def to_reader(self) -> pa.RecordBatchReader:
        return self.to_dataset().scanner().to_reader()

    def parquet_files(self) -> list[str]:
        self.files_listed += 1
        return list(self.files)


def parquet_scan(folder: Path, name: str, table: pa.Table, parts: int = 2) -> ParquetScan:
    """Write ``table`` as ``parts`` Parquet files under ``folder/name`` and return a scan over them."""
    target = Path(folder) / name
    target.mkdir(parents=True, exist_ok=True)
    step = max(1, -(-table.num_rows // parts))
    files = []
    for i, start in enumerate(range(0, max(table.num_rows, 1), step)):
        path = target / f"part-{i}.parquet"
        pq.write_table(table.slice(start, step), path)
        files.append(str(path))
    return ParquetScan(name, files)


def sorted_rows(table: pa.Table) -> pa.Table:
    """``table`` with its rows in a fixed order (Arrow cannot sort by list or map columns: sort their text)."""
    def key(row: dict) -> tuple:
        return tuple((value is None, repr(value)) for value in row.values())

    return pa.Table.from_pylist(sorted(table.to_pylist(), key=key), schema=table.schema)


def case_inputs(inputs: InputKind, folder: Path | None = None) -> dict[str, Any]:
    """The cases' input tables: Arrow tables, or scans over Parquet files written under ``folder``."""
    if inputs == "arrow":
        return dict(INPUTS)
    if folder is None:
        raise ValueError("Parquet inputs need a folder to write their files in")
    return {name: parquet_scan(folder, name, table) for name, table in INPUTS.items()}


def run_case(engine: Engine, case: Case, tables: dict[str, Any]) -> pa.Table:
    """Run one case; its rows sorted unless the case orders them. The planned schema must be the result's."""
    relation = engine.sql(case.query, tables)
    planned = relation.schema
    result = relation.to_arrow()
    if result.schema != planned:
        raise AssertionError(
            f"case {case.name!r}: the schema from the plan differs from the result's\n"
            f"  planned: {planned}\n  result: {result.schema}"
        )
    return result if case.ordered else sorted_rows(result)


def check_engine_case(engine: Engine, case: Case, *, inputs: InputKind = "arrow", folder: Path | None = None) -> None:
    """Check one case on ``engine``; raise :class:`AssertionError` naming it on any difference.

    Parameters
    ----------
    engine
        The engine under test.
    case
        One of :data:`CASES`.
    inputs
        ``"arrow"`` (in-memory tables) or ``"parquet"`` (lazy scans over files).
    folder
        Where Parquet inputs are written (pytest's ``tmp_path``); needed for ``"parquet"``.
    """
    _check(engine, case, case_inputs(inputs, folder), inputs)


def _check(engine: Engine, case: Case, tables: dict[str, Any], inputs: str) -> None:
    result = run_case(engine, case, tables)
    expected = case.expected() if case.ordered else sorted_rows(case.expected())
    where = f"case {case.name!r} ({inputs} inputs): {case.query}"
    if result.schema != expected.schema:
        raise AssertionError(f"{where}\n  schema: {result.schema}\n  expected: {expected.schema}")
    got, want = result.to_pylist(), expected.to_pylist()
    if got != want:
        raise AssertionError(f"{where}\n  rows: {got}\n  expected: {want}")


def check_engine(
    make_engine: Callable[[], Engine],
    *,
    cases: Iterable[Case] = CASES,
    inputs: Iterable[InputKind] = ("arrow", "parquet"),
) -> None:
    """Run the whole conformance suite on engines made by ``make_engine``.

    One engine serves all cases and is closed at the end. Raises
    :class:`AssertionError` naming the first failing case, its inputs and query.

    Examples
    --------
    >>> from datamill.engine.duckdb import DuckDBEngine
    >>> check_engine(DuckDBEngine)
    """
    engine = make_engine()
    try:
        with tempfile.TemporaryDirectory(prefix="datamill-conformance-") as folder:
            for kind in inputs:
                tables = case_inputs(kind, Path(folder))
                for case in cases:
                    _check(engine, case, tables, kind)
    finally:
        engine.close()


def engine_cases() -> list[Any]:
    """The cases as ``pytest.param`` values with readable ids, for ``pytest.mark.parametrize``."""
    import pytest

    return [pytest.param(case, id=case.name) for case in CASES]
