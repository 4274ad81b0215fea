"""Conformance suite for every cleaning step: exact results, the same on DuckDB and Spark.

Each test runs one small ``clean`` on the ``engine`` fixture and asserts the
values written out by hand. :func:`run` also checks, on every run, that rows
in = rows out + quarantined + duplicates, that every removed row is in the
quarantine table's ``raw`` JSON, and, on Spark, that DuckDB gives exactly the
same table, quarantine and record.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from datamill.engine.base import ArrowScan, Engine
from datamill.engine.duckdb import DuckDBEngine
from datamill.exceptions import ConfigError, DependencyError, QualityError
from datamill.quality import CleanResult, CleanSpec, clean, run_quality


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(row, default=str))


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda r: json.dumps(r, default=str, sort_keys=True))


def _canon(result: CleanResult) -> tuple[Any, ...]:
    quarantine = sorted(zip(result.quarantine.column("reason").to_pylist(), result.quarantine.column("raw").to_pylist(),
                            strict=True))
    steps = [(s.step, s.rows_in, s.rows_out, s.rows_removed, s.removed_as, s.cells_changed, s.values, s.dropped_columns)
             for s in result.record.steps]
    return result.table.schema, _rows(result.table), quarantine, steps


def _check_invariants(table: pa.Table, result: CleanResult) -> None:
    r = result.record
    assert r.rows_in == table.num_rows
    assert r.rows_in == r.rows_out + r.rows_quarantined + r.rows_duplicates
    assert result.table.num_rows == r.rows_out
    assert result.quarantine.num_rows == r.rows_quarantined + r.rows_duplicates
    # every removed row can be found again: its raw JSON is one of the input rows
    # (on the input's columns it still has: a step may have dropped some, or added a flag)
    unused = Counter(json.dumps(_json_row(row), sort_keys=True) for row in table.to_pylist())
    for raw in result.quarantine.column("raw").to_pylist():
        found = {c: v for c, v in json.loads(raw).items() if c in table.column_names}
        assert found
        match = next((k for k, n in unused.items() if n and {c: json.loads(k)[c] for c in found} == found), None)
        assert match is not None, f"removed row {raw} is not an input row"
        unused[match] -= 1


def _clean(engine: Engine, table: pa.Table, steps: dict[str, Any]) -> CleanResult:
    """What :func:`clean` does, without the report's before/after distributions (slow on Spark, tested elsewhere)."""
    result = run_quality(engine, ArrowScan("data", table), CleanSpec.model_validate(steps).steps(), [],
                         dataset="data", allow_empty=True, distributions=False)
    out = result.relation().to_arrow()
    result.close()
    result.settle(out.num_rows, "rows collected")  # rows out counted, and the balance checked
    return CleanResult(out, result.quarantine, result.record)


def run(engine: Engine, table: pa.Table, steps: dict[str, Any]) -> CleanResult:
    """Clean on ``engine``, with the invariants checked and, on Spark, DuckDB's answer compared."""
    result = _clean(engine, table, steps)
    _check_invariants(table, result)
    if engine.name != "duckdb":
        with DuckDBEngine() as duck:
            assert _canon(result) == _canon(_clean(duck, table, steps))
    return result


def step(result: CleanResult, i: int = 0) -> Any:
    return result.record.steps[i]


# -- duplicates ----------------------------------------------------------------------------------
def test_dedupe_exact_rows(engine: Engine) -> None:
    t = pa.table({"id": [1, 1, 2, 2, 3], "v": ["a", "a", "b", "c", None]})
    r = run(engine, t, {"dedupe": True})
    assert _rows(r.table) == _rows(pa.table({"id": [1, 2, 2, 3], "v": ["a", "b", "c", None]}))
    assert r.record.rows_duplicates == 1 and r.record.rows_quarantined == 0
    assert r.quarantine.column("reason").to_pylist() == ["duplicate of an identical row (one copy kept)"]


@pytest.mark.parametrize(("keep", "kept"), [("first", ["a", "d", "f"]), ("last", ["c", "e", "f"])])
def test_dedupe_by_keys_keeps_first_or_last_by_order(engine: Engine, keep: str, kept: list[str]) -> None:
    t = pa.table({"id": [1, 1, 1, 2, 2, 3], "seq": [3, 1, 2, 5, 4, 7], "v": ["c", "a", "b", "e", "d", "f"]})
    r = run(engine, t, {"dedupe": {"keys": ["id"], "keep": keep, "order_by": "seq"}})
    assert sorted(r.table.column("v").to_pylist()) == kept
    assert r.record.rows_duplicates == 3 and step(r).removed_as == "duplicate"


def test_dedupe_keeps_the_newest_by_timestamp(engine: Engine) -> None:
    t = pa.table({
        "customer": ["x", "x", "y", "x"],
        "updated": [datetime(2024, 1, 1), datetime(2024, 3, 1), datetime(2024, 2, 1), datetime(2023, 5, 1)],
        "email": ["old", "new", "y", "oldest"],
    })
    r = run(engine, t, {"dedupe": {"keys": ["customer"], "keep": "last", "order_by": "updated"}})
    assert _rows(r.table.select(["customer", "email"])) == [{"customer": "x", "email": "new"}, {"customer": "y", "email": "y"}]
    assert r.record.rows_duplicates == 2


def test_dedupe_null_keys_are_one_group(engine: Engine) -> None:
    # Decision: NULL keys are equal to each other (as in GROUP BY and pandas' drop_duplicates),
    # so only one row with a missing key survives; impute or drop missing keys first to keep them all.
    t = pa.table({"k": [None, None, 1, 1, 2], "v": [2, 1, 3, 4, 5]})
    r = run(engine, t, {"dedupe": ["k"]})
    assert _rows(r.table) == _rows(pa.table({"k": [None, 1, 2], "v": [1, 3, 5]}))
    assert r.record.rows_duplicates == 2


# -- missing values --------------------------------------------------------------------------------
def test_drop_missing_columns_then_rows_over_thresholds(engine: Engine) -> None:
    t = pa.table({"a": [1, None, None, 4], "b": [None, None, 3, 4], "c": [None, None, None, 1.0]})
    r = run(engine, t, {"drop_missing": {"columns_over": 0.5, "rows_over": 0.5}})
    assert step(r).dropped_columns == ["c"]  # 75% missing; a and b are at 50%, not over
    assert _rows(r.table) == _rows(pa.table({"a": [1, None, 4], "b": [None, 3, 4]}))
    assert r.record.rows_quarantined == 1
    assert json.loads(r.quarantine.column("raw")[0].as_py()) == {"a": None, "b": None}


def test_impute_mean_median_mode_constant(engine: Engine) -> None:
    t = pa.table({
        "x": [1.0, None, 3.0, 4.0, None], "y": [1, 2, None, 10, None],
        "m": ["u", "v", None, "v", "u"], "k": [None, 5, 6, None, 7],
    })
    r = run(engine, t, {"impute": {"x": "mean", "y": "median", "m": "mode", "k": {"constant": 0}}})
    mean = 8.0 / 3.0
    assert r.table.to_pydict() == {
        "x": [1.0, mean, 3.0, 4.0, mean], "y": [1.0, 2.0, 2.0, 10.0, 2.0],
        "m": ["u", "v", "u", "v", "u"],  # u and v tie: the smallest wins
        "k": [0, 5, 6, 0, 7],
    }
    assert r.table.schema.field("k").type == pa.int64()  # a constant keeps the column's type
    assert step(r).cells_changed == {"x": 2, "y": 2, "m": 1, "k": 2}
    assert step(r).values["y"] == {"method": "median", "value": 2.0}


def test_impute_ffill_and_bfill_within_groups(engine: Engine) -> None:
    t = pa.table({"g": ["a", "a", "a", "b", "b"], "t": [3, 1, 2, 1, 2],
                  "x": [None, 1.0, None, None, 5.0], "z": [None, None, 2.0, None, 7.0]})
    r = run(engine, t, {"impute": {"x": {"method": "ffill", "by": "g", "order_by": "t"},
                                   "z": {"method": "bfill", "by": "g", "order_by": "t"}}})
    got = {(row["g"], row["t"]): (row["x"], row["z"]) for row in r.table.to_pylist()}
    assert got == {("a", 1): (1.0, 2.0), ("a", 2): (1.0, 2.0), ("a", 3): (1.0, None),
                   ("b", 1): (None, 7.0), ("b", 2): (5.0, 7.0)}
    assert step(r).cells_changed == {"x": 2, "z": 2}


def test_impute_knn_and_iterative(engine: Engine) -> None:
    t = pa.table({"a": [10.0, 20.0, None, 100.0, 110.0], "b": [1.0, 2.0, 3.0, 10.0, 11.0],
                  "c": [2.0, 4.0, 6.0, None, 22.0]})
    r = run(engine, t, {"impute": {"a": {"method": "knn", "neighbors": 2, "using": ["b"]},
                                   "c": {"method": "iterative", "using": "b"}}})
    out = {row["b"]: row for row in r.table.to_pylist()}
    assert out[3.0]["a"] == 15.0  # the mean of its two nearest rows by b (b = 2 and 1)
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    x = np.array([[2.0, 1.0], [4.0, 2.0], [6.0, 3.0], [np.nan, 10.0], [22.0, 11.0]])
    expected = IterativeImputer(random_state=0).fit_transform(x)[3, 0]
    assert out[10.0]["c"] == pytest.approx(expected, rel=1e-9)
    assert 19 < out[10.0]["c"] < 21  # c = 2 b
    assert step(r).cells_changed == {"a": 1, "c": 1}
    assert step(r).values["a"] == {"method": "knn", "using": ["b"], "neighbors": 2}


@pytest.mark.parametrize("method", ["median", "knn"])
def test_impute_an_all_null_column_is_a_clear_error(engine: Engine, method: str) -> None:
    t = pa.table({"x": pa.array([None, None, None], pa.float64()), "y": [1.0, 2.0, 3.0]})
    with pytest.raises(QualityError, match=r"impute x: .*all-null column.*fix:"):
        clean(t, {"impute": {"x": method}}, engine=engine)


# -- outliers ----------------------------------------------------------------------------------------
def test_outliers_iqr_zscore_mad_clip(engine: Engine) -> None:
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    t = pa.table({"x": values, "z": values, "m": values})
    r = run(engine, t, {"outliers": {"x": "iqr", "z": {"method": "zscore", "threshold": 1.5}, "m": "mad"}})
    mean, sd = statistics.mean(values), statistics.stdev(values)
    z_hi = mean + 1.5 * sd
    m_hi = 3.0 + 3.5 * 1.0 / 0.6745  # median 3, MAD 1
    got = {c: sorted(r.table.column(c).to_pylist()) for c in ("x", "z", "m")}
    assert got["x"] == [1.0, 2.0, 3.0, 4.0, 7.0]  # q1 2, q3 4: fences -1 and 7
    assert got["z"][:4] == [1.0, 2.0, 3.0, 4.0] and got["z"][4] == pytest.approx(z_hi, rel=1e-12)
    assert got["m"][:4] == [1.0, 2.0, 3.0, 4.0] and got["m"][4] == pytest.approx(m_hi, rel=1e-12)
    assert step(r).cells_changed == {"x": 1, "z": 1, "m": 1}
    assert step(r).values["x"] == {"method": "iqr", "action": "clip", "lower": -1.0, "upper": 7.0}


def test_outliers_drop_and_flag(engine: Engine) -> None:
    t = pa.table({"id": [1, 2, 3, 4, 5, 6], "x": [1.0, 2.0, 3.0, 4.0, 5.0, 100.0],
                  "y": [10.0, 11.0, 12.0, 13.0, -50.0, 14.0]})
    r = run(engine, t, {"outliers": {"x": {"method": "iqr", "action": "drop"}, "y": {"method": "mad", "action": "flag"}}})
    assert {row["id"]: row["y_outlier"] for row in r.table.to_pylist()} == {1: False, 2: False, 3: False, 4: False, 5: True}
    assert r.quarantine.column("reason").to_pylist() == ["x outside [-1.5, 8.5] (iqr)"]
    assert r.record.rows_quarantined == 1


def test_outliers_iqr_on_a_constant_column_changes_nothing(engine: Engine) -> None:
    t = pa.table({"x": [5.0, 5.0, 5.0, 5.0, None]})
    r = run(engine, t, {"outliers": {"x": {"method": "iqr", "action": "drop"}}})
    assert r.table.column("x").to_pylist() == [5.0, 5.0, 5.0, 5.0, None]
    assert r.record.rows_quarantined == 0
    assert step(r).values["x"] == {"method": "iqr", "action": "drop", "lower": 5.0, "upper": 5.0}



def test_outliers_iqr_on_an_all_null_column_keeps_it_as_it_is(engine: Engine) -> None:
    t = pa.table({"x": pa.array([None] * 5, pa.float64()), "y": [1.0, 2.0, 3.0, 4.0, 100.0]})
    r = run(engine, t, {"outliers": {"x": "iqr", "y": "iqr"}})
    assert r.table.column("x").to_pylist() == [None] * 5
    assert step(r).values["x"] == {"method": "iqr", "action": "clip", "lower": None, "upper": None}
    assert step(r).cells_changed == {"y": 1}

def _cloud() -> pa.Table:
    a = [float(i % 5) for i in range(19)] + [50.0]
    b = [float(i // 5) for i in range(19)] + [50.0]
    c = [1.0] * 18 + [900.0, 1.0]
    return pa.table({"id": list(range(20)), "a": a, "b": b, "c": c})


def test_isolation_forest_flags_the_outlying_row(engine: Engine) -> None:
    spec = {"method": "isolation_forest", "columns": ["a", "b"], "contamination": 0.05, "seed": 7}
    r = run(engine, _cloud(), {"outliers": {"rows": spec}})
    flagged = [row["id"] for row in r.table.to_pylist() if row["rows_outlier"]]
    assert flagged == [19]
    assert step(r).values["rows"]["outliers"] == 1 and r.table.num_rows == 20


def test_isolation_forest_drop_joins_per_column_drops(engine: Engine) -> None:
    spec = {"method": "isolation_forest", "columns": ["a", "b"], "contamination": 0.05, "action": "drop"}
    r = run(engine, _cloud(), {"outliers": {"c": {"method": "iqr", "action": "drop"}, "rows": spec}})
    assert sorted(r.table.column("id").to_pylist()) == list(range(18))
    reasons = sorted(r.quarantine.column("reason").to_pylist())
    assert reasons[0] == "c outside [1, 1] (iqr)"
    assert reasons[1].startswith("rows: isolation forest over a, b scored ")
    assert r.record.rows_quarantined == 2 and step(r).rows_removed == 2


# -- types and text -----------------------------------------------------------------------------------
def test_cast_formats_decimal_commas_and_types(engine: Engine) -> None:
    t = pa.table({
        "signup": ["2024-01-05", "05/01/2024", "2024-1-5", " ", None, "31/12/2023"],
        "price": ["1.234,56", "12", "3,5", "1.5", None, "-0,25"],
        "n": [" 12", "1.5", "+3", "0x10", "99999999999999999999", "-7"],
        "amount": ["2.345", "1e2", "abc", "7", "", "-1.005"],
        "ts": ["2024-01-05 13:45:10", "2024-01-05T13:45:10.123456", "2024-01-05", "yesterday", None, "2024-01-05 25:00:00"],
        "code": [1, 2, 3, None, 5, 6],
    })
    spec = {
        "signup": {"type": "date", "formats": ["%Y-%m-%d", "%d/%m/%Y"], "on_error": "null"},
        "price": {"type": "double", "decimal_comma": True, "on_error": "null"},
        "n": {"type": "bigint", "on_error": "null"},
        "amount": {"type": "decimal(10, 2)", "on_error": "null"},
        "ts": {"type": "timestamp", "on_error": "null"},
        "code": "string",
    }
    r = run(engine, t, {"cast": spec})
    assert r.table.to_pydict() == {
        "signup": [date(2024, 1, 5), date(2024, 1, 5), None, None, None, date(2023, 12, 31)],
        "price": [1234.56, 12.0, 3.5, None, None, -0.25],  # '1.5' is not a decimal-comma number
        "n": [12, None, 3, None, None, -7],  # no fractions, no hex, no overflow
        "amount": [Decimal("2.35"), Decimal("100.00"), None, Decimal("7.00"), None, Decimal("-1.01")],
        "ts": [datetime(2024, 1, 5, 13, 45, 10), datetime(2024, 1, 5, 13, 45, 10, 123456), datetime(2024, 1, 5),
               None, None, None],
        "code": ["1", "2", "3", None, "5", "6"],
    }
    assert [f.type for f in r.table.schema] == [pa.date32(), pa.float64(), pa.int64(), pa.decimal128(38, 2),
                                                pa.timestamp("us"), pa.string()]
    assert step(r).cells_changed == {"signup": 1, "price": 1, "n": 3, "amount": 1, "ts": 2}
    assert r.record.rows_quarantined == 0


def test_cast_where_30_percent_fail_quarantines_them_with_counts(engine: Engine) -> None:
    t = pa.table({"id": list(range(10)), "value": ["1", "2", "x", "4", "1.5", "6", "7", "n/a", "9", "10"]})
    r = run(engine, t, {"cast": {"value": "bigint"}})
    assert sorted(r.table.column("value").to_pylist()) == [1, 2, 4, 6, 7, 9, 10]
    assert r.record.rows_quarantined == 3 and step(r).rows_removed == 3
    assert step(r).values["value"] == {"type": "bigint", "on_error": "quarantine", "failed": 3}
    assert sorted(r.quarantine.column("reason").to_pylist()) == [
        "cast value: '1.5' is not a bigint", "cast value: 'n/a' is not a bigint", "cast value: 'x' is not a bigint",
    ]


def test_text_trim_case_and_spaces(engine: Engine) -> None:
    t = pa.table({"name": ["  ann   LEE ", "\tbob\n", None, "o'neil  mc-donald", "ÉLAN école"],
                  "email": [" A@X.COM", "b@y.org ", None, "c@z.net", "D@Z.NET"]})
    r = run(engine, t, {"text": {"name": ["trim", "collapse_spaces", "title"], "email": ["trim", "lower"]}})
    assert r.table.to_pydict() == {
        "name": ["Ann Lee", "Bob", None, "O'neil Mc-donald", "Élan École"],
        "email": ["a@x.com", "b@y.org", None, "c@z.net", "d@z.net"],
    }
    assert step(r).cells_changed == {"name": 4, "email": 3}


def test_categories_map_case_and_rare_levels(engine: Engine) -> None:
    t = pa.table({"country": ["us", "United States", " US", "fr", "FR", "de", None, "U.S."],
                  "plan": ["a", "a", "a", "b", "c", "a", "a", "b"]})
    spec = {
        "country": {"map": {"us": "US", "united states": "US", "U.S.": "US"}, "case": "lower",
                    "rare": {"min_share": 0.2, "into": "other"}},
        "plan": {"rare": {"max_levels": 2}},
    }
    r = run(engine, t, {"categories": spec})
    assert r.table.to_pydict() == {
        "country": ["US", "US", "US", "fr", "fr", "other", None, "US"],
        "plan": ["a", "a", "a", "b", "other", "a", "a", "b"],
    }
    assert step(r).values["country"]["merged"] == {"de": 1}  # 1 of 7 values < 20%
    assert step(r).values["plan"] == {"merged": {"c": 1}, "into": "other"}
    assert step(r).cells_changed == {"country": 6, "plan": 1}


def test_booleans_default_words_and_custom_ones(engine: Engine) -> None:
    t = pa.table({"active": ["Yes", "n", "TRUE", "0", " t ", None, "maybe", "F"],
                  "opted": ["si", "no", "SI", "yes", "No", None, "si", ""]})
    r = run(engine, t, {"booleans": {"active": True, "opted": {True: ["si"], False: ["no"], "on_error": "null"}}})
    assert r.table.to_pydict() == {
        "active": [True, False, True, False, True, None, False],
        "opted": [True, False, True, None, False, None, None],
    }
    assert r.table.schema.field("active").type == pa.bool_()
    assert r.quarantine.column("reason").to_pylist() == ["booleans active: 'maybe' is not a boolean"]
    assert step(r).cells_changed == {"opted": 1}  # 'yes' is not in opted's own words


@pytest.mark.parametrize(("steps", "missing", "close"), [
    ({"cast": {"prise": "double"}}, "prise", "price"),
    ({"text": {"nmae": ["trim"]}}, "nmae", "name"),
    ({"categories": {"contry": {}}}, "contry", "country"),
    ({"booleans": ["activ"]}, "activ", "active"),
    ({"impute": {"price": {"method": "knn", "using": ["nme"]}}}, "nme", "name"),
    ({"outliers": {"rows": {"method": "isolation_forest", "columns": ["prce"]}}}, "prce", "price"),
])
def test_a_step_on_a_missing_column_says_which_and_suggests(engine: Engine, steps: dict, missing: str, close: str) -> None:
    t = pa.table({"price": [1.0], "name": ["a"], "country": ["us"], "active": ["y"]})
    with pytest.raises(QualityError, match=rf"uses column '{missing}', which does not exist \(did you mean '{close}'\?\)"):
        clean(t, steps, engine=engine)


# -- configuration and bad input (no engine differences: DuckDB only) ------------------------------------
@pytest.mark.parametrize(("steps", "message"), [
    ({"cast": {"x": "money"}}, "unknown type 'money'"),
    ({"cast": {"x": {"type": "date", "formats": ["%Y-%j"]}}}, "%j not supported"),
    ({"cast": {"x": {"type": "double", "formats": ["%Y"]}}}, "formats apply to date and timestamp"),
    ({"booleans": {"x": {"true": ["y"], "false": ["Y"]}}}, "both true and false"),
    ({"text": {"x": ["shout"]}}, "x"),
    ({"outliers": {"r": {"method": "isolation_forest", "columns": ["x"], "action": "clip"}}}, "drop or flag"),
])
def test_bad_step_options_are_config_errors(steps: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        clean(pa.table({"x": ["1"]}), steps)


def test_text_steps_need_text_columns() -> None:
    with pytest.raises(QualityError, match=r"text n: column 'n' holds int64, not text \(fix: cast it first"):
        clean(pa.table({"n": [1, 2]}), {"text": {"n": "trim"}})


def test_model_steps_need_numeric_columns() -> None:
    t = pa.table({"s": ["a", None], "x": [1.0, 2.0]})
    with pytest.raises(QualityError, match=r"impute s \(knn\): column 's' holds string, not a number"):
        clean(t, {"impute": {"s": "knn"}})
    with pytest.raises(QualityError, match=r"outliers r \(isolation_forest\): column 's' holds string, not a number"):
        clean(t, {"outliers": {"r": {"method": "isolation_forest", "columns": ["s", "x"]}}})


def test_missing_scikit_learn_names_the_ml_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.impute", None)  # import now fails as if not installed
    with pytest.raises(DependencyError, match=r"pip install 'datamill\[ml\]'"):
        clean(pa.table({"x": [1.0, None, 3.0]}), {"impute": {"x": "knn"}})


def test_cast_keeps_typed_columns_and_checks_fractions() -> None:
    t = pa.table({"f": [1.0, 2.5, None, math.inf], "i": [1, 0, 1, None], "d": [date(2024, 1, 2)] * 4})
    r = clean(t, {"cast": {"f": {"type": "bigint", "on_error": "null"}, "i": "boolean", "d": "timestamp"}})
    assert r.table.to_pydict() == {"f": [1, None, None, None], "i": [True, False, True, None],
                                   "d": [datetime(2024, 1, 2)] * 4}
    assert r.record.steps[0].values["f"]["failed"] == 2  # 2.5 has a fraction; inf is no bigint
