"""The storage suite as a third-party storage meets it: one call that passes or names the failing check."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from datamill.storage import Commit
from datamill.storage.duckdb import DuckDBOptions, DuckDBStorage
from datamill.testing import check_storage
from datamill.testing.storage import CHECKS, storage_checks


class ForgetsHistory(DuckDBStorage):
    """A storage that keeps no history."""

    def history(self, name: str) -> list[Commit]:
        return []


def _factory(cls: type[DuckDBStorage], folder: Path):  # noqa: ANN202
    numbers = itertools.count()
    return lambda: cls(DuckDBOptions(path=f"w{next(numbers)}.duckdb"), project_dir=folder)


def test_a_conforming_storage_passes(tmp_path: Path) -> None:
    check_storage(_factory(DuckDBStorage, tmp_path))


def test_a_failing_check_is_named(tmp_path: Path) -> None:
    with pytest.raises(AssertionError,
                       match="storage check 'history_has_one_commit_per_write' failed on ForgetsHistory"):
        check_storage(_factory(ForgetsHistory, tmp_path),
                      checks={k: v for k, v in CHECKS.items() if not k.startswith("a_reader_failing")})


def test_checks_as_pytest_params() -> None:
    assert [p.id for p in storage_checks()] == list(CHECKS)
    assert {"nested_columns_round_trip", "nested_columns_append_and_upsert",
            "round_trip_keeps_values_and_types"} <= set(CHECKS)


def test_importing_the_suites_loads_no_test_runner_nor_backend() -> None:
    heavy = ("pytest", "duckdb", "pyspark", "deltalake", "psycopg")
    code = f"import sys, datamill.testing; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
