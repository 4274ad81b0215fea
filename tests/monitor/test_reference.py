"""Reference statistics: computed at training time on the engine, kept with the version, read back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datamill.exceptions import ModelError
from datamill.monitor.reference import (
    REFERENCE_TAG,
    Reference,
    compute_reference,
    load_reference,
)


def test_training_keeps_the_reference_with_the_version(project: Path) -> None:
    from datamill.registry import ModelStore

    store = ModelStore.for_project(project)
    mv = store.resolve("churn_model@champion")
    assert mv.tags[REFERENCE_TAG] == "datamill/reference.json"
    ref = load_reference(store, mv)
    assert ref.rows == 1500 and ref.source["table"] == "customers"
    assert {c: r.kind for c, r in ref.columns.items()} == {"age": "numeric", "visits": "numeric", "plan": "categorical"}
    age = ref.columns["age"]
    assert sum(age.counts) == 1500 and len(age.counts) == len(age.edges) + 1 == age.bins + 2
    assert age.counts[0] == age.counts[-1] == 8  # the grid spans the middle 99%: 0.5% of the rows below, 0.5% above
    assert age.min < age.lo < age.hi < age.max and 40 < age.mean < 50
    visits = ref.columns["visits"]  # 30 values: the grid spans them all, a bin each
    assert visits.counts[0] == visits.counts[-1] == 0 and sum(1 for n in visits.counts if n) == 30
    assert set(ref.columns["plan"].values) == {"basic", "pro", "team"} and ref.columns["plan"].other == 0
    assert ref.prediction is not None and ref.prediction.kind == "categorical"
    assert set(ref.prediction.values) <= {"0", "1"} and sum(ref.prediction.values.values()) == 1500


def test_a_version_without_reference_is_a_clear_error(project: Path, tmp_path: Path) -> None:
    from datamill.registry import ModelStore

    store = ModelStore.for_project(project)
    folder = tmp_path / "hand"
    folder.mkdir()
    mv = store.register("by_hand", folder.as_uri())
    with pytest.raises(ModelError, match=r"by_hand/1 has no reference statistics .*fix: retrain it"):
        load_reference(store, mv)


def test_reference_counts_nulls_non_finite_values_and_categories() -> None:
    from datamill.engine.duckdb import DuckDBEngine

    table = pa.table({"x": [1.0, 2.0, None, float("nan"), 3.0], "c": ["a", None, "b", "a", "a"],
                      "when": pa.array([1, 2, 3, 4, 5], pa.timestamp("s"))})
    with DuckDBEngine() as engine:
        ref = compute_reference(table, ["x", "c", "when"], engine=engine)
    assert (ref.columns["x"].rows, ref.columns["x"].nulls) == (5, 2)  # NaN counts as missing
    assert ref.columns["c"].values == {"a": 3, "b": 1} and ref.columns["c"].nulls == 1
    assert "when" in ref.skipped and "when" not in ref.columns
    assert Reference.from_json(ref.to_json()) == ref


def test_reference_bins_hold_the_exact_cdf_at_their_edges() -> None:
    from datamill.engine.duckdb import DuckDBEngine

    values = np.random.default_rng(3).lognormal(0, 1, 5000)
    with DuckDBEngine() as engine:
        ref = compute_reference(pa.table({"x": values}), ["x"], engine=engine)
    col = ref.columns["x"]
    cdf = np.cumsum(col.counts)[:-1]
    below = [int(np.sum(values < e)) for e in col.edges]
    assert sum(a != b for a, b in zip(below, cdf)) <= 2  # (a value on an edge may round into the bin beside it)
    assert col.below == pytest.approx(float(np.sum(col.lo - values[values < col.lo])))


def test_importing_datamill_and_monitor_does_not_import_scipy() -> None:
    code = "import sys, datamill, datamill.monitor; assert 'scipy' not in sys.modules, 'scipy imported'"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0
