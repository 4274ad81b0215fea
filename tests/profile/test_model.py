"""The Profile object: JSON round trip, notebook display, HTML, the public names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import datamill.profile
from datamill.profile import Profile, profile


def test_public_names() -> None:
    assert sorted(datamill.profile.__all__) == ["Comparison", "Profile", "profile"]


def test_json_round_trip_and_notebook_display(tmp_path: Path) -> None:
    t = pa.table({"x": [1.0, 2.0, None, 4.0], "s": ["a", "b", "b", None], "y": [0, 1, 0, 1]})
    p = profile(t, target="y", name="tiny")
    again = Profile.from_json(p.to_json(tmp_path / "p.json"))
    assert again == p and Profile.from_json(tmp_path / "p.json") == p
    shown = p._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "Profile: tiny" in shown
    assert repr(p) == "Profile('tiny', rows=4, columns=3, alerts=%d)" % len(p.alerts)


def test_parquet_file_is_read_by_the_engine(tmp_path: Path) -> None:
    file = tmp_path / "big.parquet"
    pq.write_table(pa.table({"x": np.arange(300_000, dtype="float64"), "g": np.arange(300_000) % 3}), file)
    p = profile(file)
    assert p.name == "big" and p.overview["memory_note"] == "on disk (Parquet)"
    # 300k rows: quantiles from a random sample, within the error the notes state (in percentile points)
    assert abs(p.columns["x"]["quantiles"]["0.5"] / 300_000 - 0.5) < 0.0052 and "±0.5" in p.notes["quantiles"]
    assert p.notes["pairs_sample"].startswith("a random sample of 1") and "of the 300,000 rows" in p.notes["pairs_sample"]
    assert not p.columns["x"]["distinct_exact"]  # 300k values: HyperLogLog estimate, said so
    assert "HyperLogLog" in p.notes["distinct"]
    html = p.to_html(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "≈" in html and "random sample" in html
