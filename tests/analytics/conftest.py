"""Projects with a few tables, for the console, the wire server and the exports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest


def orders_table() -> pa.Table:
    return pa.table({
        "id": pa.array([1, 2, 3, 4], pa.int64()),
        "customer": ["ann", "bob", None, "zoë 東京"],
        "amount": [10.5, None, 7.25, 100.0],
        "day": pa.array([dt.date(2024, 1, 1), dt.date(2024, 2, 29), None, dt.date(1999, 12, 31)]),
        "at": pa.array([dt.datetime(2024, 1, 1, 8, 30), None, dt.datetime(2024, 3, 1, 23, 59, 59),
                        dt.datetime(2000, 1, 1)], pa.timestamp("us")),
        "paid": [True, False, None, True],
    })


def make_project(root: Path, storage: str = "lakehouse:./warehouse") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "datamill.yaml").write_text(f"name: shop\nstorage: {storage}\n")
    return root


@pytest.fixture()
def shop(tmp_path: Path):
    """A lakehouse project with ``orders`` (4 rows: nulls, dates, unicode) and ``numbers`` (1..100,000)."""
    import datamill

    root = make_project(tmp_path / "shop")
    with datamill.Project(root) as project:
        project.storage.write("orders", orders_table())
        project.storage.write("numbers", pa.table({"n": pa.array(range(1, 100_001), pa.int64())}))
    yield root
