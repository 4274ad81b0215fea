"""Comparing two profiles: PSI, shifts, columns only one side has."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datamill.profile import profile
from datamill.profile._compare import psi


def test_psi_of_shifted_and_equal_distributions(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a = pa.table({"x": rng.normal(0, 1, 20_000), "c": rng.choice(["a", "b"], 20_000, p=[0.5, 0.5]), "gone": np.ones(20_000)})
    b = pa.table({"x": rng.normal(0.5, 1, 20_000), "c": rng.choice(["a", "b"], 20_000, p=[0.9, 0.1]), "new": np.ones(20_000)})
    same = pa.table({"x": rng.normal(0, 1, 20_000), "c": rng.choice(["a", "b"], 20_000, p=[0.5, 0.5]), "gone": np.ones(20_000)})
    pa_, pb, ps = profile(a, name="train"), profile(b, name="test"), profile(same, name="again")
    c = pa_.compare(pb)
    assert c.only_reference == ["gone"] and c.only_current == ["new"]
    assert c.columns["x"]["mean_shift"] == pytest.approx(0.5, abs=0.05)
    assert c.columns["x"]["psi"] > 0.2 and c.columns["x"]["drift"] == "major"
    assert c.columns["c"]["psi"] == pytest.approx(psi([0.5, 0.5, 0.0], [0.9, 0.1, 0.0]), abs=0.05)
    assert c.drifted("major") == ["c", "x"]
    stable = pa_.compare(ps)
    assert stable.columns["x"]["psi"] < 0.01 and stable.drifted() == []
    html = c.to_html(tmp_path / "cmp.html").read_text(encoding="utf-8")
    assert "Comparison: train vs test" in html and "major" in html
    assert '"x"' in c.to_json()
