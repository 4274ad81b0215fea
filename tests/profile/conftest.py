"""A table past every default-mode threshold, profiled once in each mode (shared by the modes' tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamill.profile import Profile, profile
from datamill.profile._counts import EXACT_DISTINCT_LIMIT, EXACT_DISTINCT_ROWS
from datamill.profile._sample import SAMPLE_ROWS

BIG_ROWS = 210_000


@pytest.fixture(scope="session")
def big_table() -> pa.Table:
    """More rows than the sample and the exact-distinct threshold; columns with many values, ties,
    missing values, duplicate rows and a categorical target."""
    assert BIG_ROWS > max(SAMPLE_ROWS, EXACT_DISTINCT_ROWS)
    rng = np.random.default_rng(11)
    n = BIG_ROWS
    x = rng.normal(size=n)
    key = rng.integers(0, 180_000, n)  # ~125k distinct: estimated by default (> EXACT_DISTINCT_LIMIT)
    assert len(np.unique(key)) > EXACT_DISTINCT_LIMIT
    y = x * 0.6 + rng.normal(size=n) * 0.8
    table = pa.table({
        "key": key,
        "x": pa.array(x, mask=rng.random(n) < 0.05),
        "y": np.round(y, 2),  # ties: average ranks matter
        "z": rng.lognormal(0, 1, n) + np.where(x > 1, 3.0, 0.0),
        "g": pa.array(rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]), mask=rng.random(n) < 0.02),
        "h": np.where(x > 0.5, "high", np.where(x < -0.5, "low", "mid")),
        "at": np.datetime64("2021-01-01T00:00:00") + rng.integers(0, 10**8, n).astype("timedelta64[s]"),
        "churned": (x + rng.normal(size=n) > 1.2).astype(np.int64),
    })
    return pa.concat_tables([table.slice(0, n - 500), table.slice(0, 500)])  # 500 duplicate rows


@pytest.fixture(scope="session")
def big_file(big_table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.parquet"
    pq.write_table(big_table, path, row_group_size=50_000)
    return path


@pytest.fixture(scope="session")
def big_default(big_file: Path) -> Profile:
    return profile(big_file, target="churned")


@pytest.fixture(scope="session")
def big_exact(big_file: Path) -> Profile:
    return profile(big_file, target="churned", exact=True)
