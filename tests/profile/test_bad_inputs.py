"""Inputs that break naive profilers: empty, narrow, all-null, infinite, very wide, long strings, mixed JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datamill.exceptions import ConfigError
from datamill.profile import profile


def test_empty_table(tmp_path: Path) -> None:
    p = profile(pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())}))
    assert p.overview["rows"] == 0 and p.columns["a"]["count"] == 0 and p.alerts == []
    html = p.to_html(tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "Profile: table" in html


def test_no_columns_and_unknown_inputs() -> None:
    with pytest.raises(ConfigError, match="no columns"):
        profile(pa.table({}))
    with pytest.raises(ConfigError, match="cannot profile a int"):
        profile(42)
    with pytest.raises(ConfigError, match="no such file"):
        profile("/nonexistent/data.csv")


def test_one_column_and_all_null_columns() -> None:
    p = profile(pa.table({"only": [1, 2, 3]}))
    assert p.columns["only"]["mean"] == 2.0 and "pearson" not in p.correlations
    q = profile(pa.table({"x": pa.array([None] * 5, pa.float64()), "n": pa.array([None] * 5, pa.null()),
                          "s": pa.array([None] * 5, pa.string()), "v": [1, 2, 3, 4, 5]}))
    for name in ("x", "n", "s"):
        assert q.columns[name]["missing"] == 5 and q.columns[name]["count"] == 0
        assert any(a["kind"] == "empty" and a["column"] == name for a in q.alerts)
    assert q.columns["x"]["mean"] is None and "histogram" not in q.columns["x"]
    json.loads(q.to_json())  # no NaN in the JSON


def test_a_column_of_only_infinities(tmp_path: Path) -> None:
    p = profile(pa.table({"inf": [float("inf"), float("-inf"), float("inf")], "y": [1.0, 2.0, 3.0]}))
    c = p.columns["inf"]
    assert c["infinities"] == 3 and c["finite"] == 0 and c["mean"] is None and c["missing"] == 0
    assert {v["value"] for v in c["top"]} == {"inf", "-inf"}
    assert any(a["kind"] == "infinite" for a in p.alerts)
    p.to_html(tmp_path / "inf.html")
    json.loads(p.to_json())


def test_five_thousand_columns_stay_small(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = pa.table({f"c{i}": rng.normal(size=200) for i in range(5000)})
    p = profile(t)
    path = p.to_html(tmp_path / "wide.html")
    assert len(p.columns) == 5000 and p.columns["c4999"]["count"] == 200
    assert len(p.correlations["pearson"]["columns"]) <= 30  # a summary, not 25 million cells
    assert p.correlations["pearson"]["of"] == 300 and len(p.correlations["pairs"]) == 30
    assert path.stat().st_size < 5_000_000, path.stat().st_size


def test_very_long_strings() -> None:
    long = "x" * 1_000_000
    p = profile(pa.table({"s": [long, long, "short", None]}))
    c = p.columns["s"]
    assert c["length"]["max"] == 1_000_000 and c["top"][0]["count"] == 2
    assert len(c["top"][0]["value"]) == 200  # values are cut in the profile, not in the counts
    assert len(p.to_json()) < 20_000


def test_mixed_type_json_columns(tmp_path: Path) -> None:
    file = tmp_path / "mixed.ndjson"
    rows = [{"id": 1, "v": 1}, {"id": 2, "v": "two"}, {"id": 3, "v": {"x": 3}}, {"id": 4, "v": None}, {"id": 5, "v": [1, 2]}]
    file.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    p = profile(file)
    assert p.overview["rows"] == 5 and p.columns["v"]["missing"] == 1
    assert p.columns["v"]["distinct"] == 4
    pd = pytest.importorskip("pandas")
    q = profile(pd.DataFrame({"v": [1, "a", {"k": 1}, None, 2.5]}))
    assert q.columns["v"]["kind"] == "categorical" and q.columns["v"]["missing"] == 1


def test_a_target_that_does_not_exist() -> None:
    with pytest.raises(ConfigError, match=r"target column 'churnd' is not in table \(did you mean 'churned'\?\)"):
        profile(pa.table({"churned": [0, 1], "x": [1.0, 2.0]}), target="churnd")
