"""The benchmarks' same-result check: fingerprints that ignore row order, never a lost or changed row."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench._harness import compare, compare_stats, fingerprint

TABLE = pa.table({
    "id": pa.array([1, 2, 3, 4], pa.int64()),
    "x": pa.array([0.1 + 0.2, None, 2.5, -0.0]),
    "name": ["a", "b", None, "b"],
    "day": pa.array([date(2024, 1, d) for d in (1, 2, 3, 4)]),
    "ts": pa.array([datetime(2024, 1, 1, h) for h in (1, 2, 3, 4)], pa.timestamp("us")),
    "flag": [True, False, None, True],
})


def _shuffled(table: pa.Table) -> pa.Table:
    return table.take([2, 0, 3, 1]).select(list(reversed(table.column_names)))


def test_the_same_rows_in_another_order_and_column_order_match() -> None:
    assert compare(fingerprint(TABLE), fingerprint(_shuffled(TABLE))).text == "✓"


def test_a_missing_row_is_reported_with_both_counts() -> None:
    verdict = compare(fingerprint(TABLE), fingerprint(TABLE.slice(0, 3)))
    assert (verdict.same, verdict.text) == (False, "✗ 3 rows vs 4")


def test_a_duplicated_row_in_place_of_another_does_not_match() -> None:
    verdict = compare(fingerprint(TABLE), fingerprint(TABLE.take([0, 1, 2, 2])))
    assert verdict.same is False
    assert verdict.text.startswith("✗ same 4 rows, values differ in")


def test_a_changed_value_names_its_column() -> None:
    changed = TABLE.set_column(1, "x", pa.array([0.30000001, None, 2.5, 0.0]))
    verdict = compare(fingerprint(TABLE, digits=12), fingerprint(changed, digits=12))
    assert verdict.same is False
    assert "values differ in x" in verdict.text


def test_values_moved_between_rows_do_not_match_though_every_column_does() -> None:
    moved = TABLE.set_column(2, "name", pa.array(["b", "a", None, "b"]))
    a, b = fingerprint(TABLE), fingerprint(moved)
    assert compare(a, b).same is False
    assert a["columns"]["name"]["checksum"] == b["columns"]["name"]["checksum"]


def test_floats_within_the_digits_match_and_integers_equal_their_floats() -> None:
    near = TABLE.set_column(1, "x", pa.array([0.3, None, 2.5000000000001, 0.0]))
    as_float = TABLE.set_column(0, "id", pa.array([1.0, 2.0, 3.0, 4.0]))
    assert compare(fingerprint(TABLE, digits=12), fingerprint(near, digits=12)).same is True
    verdict = compare(fingerprint(TABLE), fingerprint(as_float))
    assert (verdict.same, verdict.text) == (True, "✓ (id float, not integer)")


def test_nan_counts_as_missing() -> None:
    nan = TABLE.set_column(1, "x", pa.array([0.1 + 0.2, float("nan"), 2.5, 0.0]))
    assert compare(fingerprint(TABLE), fingerprint(nan)).text == "✓"


def test_dates_and_timestamps_kept_as_iso_text_match_but_count_as_less_work() -> None:
    text = TABLE.set_column(3, "day", pa.array(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]))
    text = text.set_column(4, "ts", pa.array([f"2024-01-01 0{h}:00:00" for h in (1, 2, 3, 4)]))
    verdict = compare(fingerprint(TABLE), fingerprint(text))
    assert (verdict.same, verdict.text) == (True, "✓ (less work: day, ts left as text)")


def test_zoned_timestamps_compare_in_utc() -> None:
    zoned = TABLE.set_column(4, "ts", pa.array([datetime(2024, 1, 1, h, tzinfo=timezone.utc) for h in (1, 2, 3, 4)],
                                               pa.timestamp("us", tz="UTC")))
    assert compare(fingerprint(TABLE), fingerprint(zoned)).same is True


def test_a_parquet_file_and_a_delta_table_are_read_back(tmp_path: Path) -> None:
    from deltalake import write_deltalake

    pq.write_table(TABLE, tmp_path / "t.parquet")
    write_deltalake(str(tmp_path / "delta"), _shuffled(TABLE))
    ref = fingerprint(TABLE)
    assert compare(ref, fingerprint(tmp_path / "t.parquet", "parquet")).text == "✓"
    assert compare(ref, fingerprint(tmp_path / "delta", "delta")).text == "✓"


def test_a_missing_column_is_named() -> None:
    verdict = compare(fingerprint(TABLE), fingerprint(TABLE.drop_columns(["flag"])))
    assert (verdict.same, verdict.text) == (False, "✗ columns differ: lacks flag")


@pytest.mark.parametrize(("theirs", "same"), [(1000.0000001, True), (1001.0, False)])
def test_statistics_compare_within_a_relative_tolerance(theirs: float, same: bool) -> None:
    ours = {"x": {"mean": 1000.0, "missing": 3, "min": "2024-01-01T00:00:00"}}
    verdict, diffs = compare_stats(ours, {"x": {"mean": theirs, "missing": 3, "min": "2024-01-01T00:00:00"}})
    assert verdict.same is same
    assert diffs == ([] if same else ["x.mean: 1001.0 vs 1000.0"])


def test_a_looser_tolerance_for_estimated_statistics() -> None:
    ours, theirs = {"c": {"distinct": 1000, "missing": 0}}, {"c": {"distinct": 1015, "missing": 0}}
    assert compare_stats(ours, theirs)[0].same is False
    assert compare_stats(ours, theirs, approx={"distinct": 0.03})[0].same is True


def test_peak_rss_is_the_childs_own_not_its_parents() -> None:
    import subprocess
    import sys

    from bench._harness import ROOT

    code = "import numpy as np; a = np.ones(40_000_000); import subprocess, sys; print(subprocess.run([sys.executable, '-c', 'from bench._harness import peak_rss_mb; print(peak_rss_mb())'], capture_output=True, text=True).stdout)"  # noqa: E501
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert float(out.stdout) < 100  # the parent held 320 MB; the child itself far less
