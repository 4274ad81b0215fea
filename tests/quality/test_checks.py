"""Checks on every engine: exact failing rows and reasons, identical on DuckDB and Spark, nothing lost.

Severity ``warn`` keeps every row (the failures are counted, with samples);
``quarantine`` moves the failing rows; ``fail`` writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

from datamill.engine.base import Engine
from datamill.exceptions import ConfigError, QualityError
from datamill.quality import CleanResult, clean

NOW = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)

PEOPLE = pa.table({
    "id": [1, 2, 3, 4, 5, 6, 7, 8],
    "key": [10, 11, 12, 12, 13, None, 14, 15],
    "age": [30, 17, 121, None, 45, 60, 18, 120],
    "country": ["DE", "FR", "XX", None, "de", "DE", "FR", "IT"],
    "email": ["a@b.io", "bad", "x@y.de", None, "a@b.io\n", "A@B.IO", "q@w.eu", "z@z.zz"],
    "income": [10.0, -1.0, 5.0, None, 0.0, 3.5, 2.0, 1.0],
    "plan": ["a", "b", "a", "c", None, "a", "z", "b"],
    "updated_at": [NOW - timedelta(hours=i) for i in range(8)],
})
PLANS = pa.table({"plan_id": ["a", "b", "c"], "price": [1.0, 2.0, 3.0]})

# check -> the ids of the rows it must quarantine
ROW_CASES = {
    "not_null": ({"not_null": "key"}, [6]),
    "not_null_many": ({"not_null": ["key", "age"]}, [4, 6]),
    "unique": ({"unique": "key"}, [3, 4]),
    "unique_many": ({"unique": ["country", "plan"]}, [1, 6]),  # rows with a NULL key part pass
    "between": ({"between": {"age": [18, 120]}}, [2, 3]),  # bounds included, NULL passes
    "between_open": ({"between": {"income": [0, None]}}, [2]),
    "in_set": ({"in_set": {"country": ["DE", "FR", "IT"]}}, [3, 5]),  # case matters
    "in_set_null": ({"in_set": {"country": ["DE", "FR", "IT", None]}}, [3, 5]),
    "regex": ({"regex": {"email": r"[a-z]+@[a-z]+\.[a-z]{2,3}"}}, [2, 5, 6]),  # whole value, no trailing newline
    "regex_backslash": ({"regex": {"age": r"\d{2}"}}, [3, 8]),  # numbers are matched as text
    "sql": ({"sql": "income >= 0"}, [2, 4]),  # NULL counts as failing
    "relationship": ({"relationship": {"column": "plan", "to": "plans.plan_id"}}, [7]),
}


def quarantining(check: dict) -> dict:
    """``check`` with severity quarantine: its failing rows leave the table."""
    return {**check, "severity": "quarantine"}


@pytest.fixture()
def duckdb_engine() -> Iterator[Engine]:
    """For the one-kind-at-a-time cases; every kind also runs on each engine in the combined tests."""
    from datamill.engine.duckdb import DuckDBEngine

    with DuckDBEngine() as eng:
        yield eng


def run(engine: Engine, checks: list, table: pa.Table = PEOPLE, **kw) -> CleanResult:
    """Clean with ``checks`` and assert what must hold on every path."""
    result = clean(table, None, checks, engine=engine, others={"plans": PLANS}, **kw)
    assert_nothing_lost(table, result)
    return result


def assert_nothing_lost(table: pa.Table, result: CleanResult) -> None:
    rec = result.record
    assert rec.rows_in == table.num_rows
    assert rec.rows_in == result.table.num_rows + rec.rows_quarantined + rec.rows_duplicates
    assert rec.rows_out == result.table.num_rows
    assert result.quarantine.num_rows == rec.rows_quarantined + rec.rows_duplicates
    kept = sorted(result.table.column("id").to_pylist())
    removed = sorted(json.loads(raw)["id"] for raw in result.quarantine.column("raw").to_pylist())
    assert sorted(kept + removed) == sorted(table.column("id").to_pylist())


def quarantined(result: CleanResult) -> dict[int, str]:
    """id -> reason of every quarantined row."""
    return {
        json.loads(raw)["id"]: reason
        for raw, reason in zip(result.quarantine.column("raw").to_pylist(), result.quarantine.column("reason").to_pylist())
    }


@pytest.mark.parametrize("case", list(ROW_CASES))
def test_row_level_check_quarantines_exactly_the_failing_rows(duckdb_engine: Engine, case: str) -> None:
    check, failing = ROW_CASES[case]
    result = run(duckdb_engine, [quarantining(check)])
    (outcome,) = result.record.checks
    assert (outcome["passed"], outcome["failed_rows"]) == (not failing, len(failing))
    rows = quarantined(result)
    assert sorted(rows) == failing
    assert set(rows.values()) == {f"check {outcome['name']}"}
    assert outcome["kind"] == next(iter(check)) and outcome["severity"] == "quarantine"
    assert outcome["outcome"] == "moved to quarantine" and outcome["samples"] == []
    assert result.record.warnings == [
        f"check {outcome['name']} failed (quarantine): {len(failing)} rows failed; moved to quarantine"
    ]


@pytest.mark.parametrize("case", list(ROW_CASES))
def test_warn_keeps_every_row_and_shows_samples(duckdb_engine: Engine, case: str) -> None:
    check, failing = ROW_CASES[case]
    result = run(duckdb_engine, [check])  # severity warn is the default
    (outcome,) = result.record.checks
    assert (outcome["passed"], outcome["failed_rows"], outcome["severity"]) == (False, len(failing), "warn")
    assert result.table.num_rows == PEOPLE.num_rows and result.quarantine.num_rows == 0
    assert result.record.rows_out == PEOPLE.num_rows and result.record.rows_quarantined == 0
    assert sorted(r["id"] for r in outcome["samples"]) == failing  # every one here: at most 5 fail
    assert set(outcome["samples"][0]) == set(PEOPLE.column_names)
    assert outcome["outcome"] == "kept with a warning"
    assert result.record.warnings == [
        f"check {outcome['name']} failed (warn): {len(failing)} rows failed; kept with a warning"
    ]


def test_warn_samples_at_most_five_rows(duckdb_engine: Engine) -> None:
    (outcome,) = run(duckdb_engine, [{"sql": "id > 100"}]).record.checks
    assert outcome["failed_rows"] == 8 and len(outcome["samples"]) == 5
    assert all(isinstance(r["updated_at"], str) for r in outcome["samples"])  # JSON-ready


def test_every_row_level_kind_at_once(engine: Engine) -> None:
    """Each kind's exact failing rows and reasons, on each engine, in one pass."""
    result = run(engine, [quarantining(check) for check, _ in ROW_CASES.values()], allow_empty=True)
    names = [c["name"] for c in result.record.checks]
    assert [c["failed_rows"] for c in result.record.checks] == [len(ids) for _, ids in ROW_CASES.values()]
    expected = {
        i: "; ".join(f"check {name}" for name, (_, ids) in zip(names, ROW_CASES.values()) if i in ids)
        for i in range(1, 9)
    }
    assert quarantined(result) == {i: reason for i, reason in expected.items() if reason}
    assert result.table.column("id").to_pylist() == [i for i, reason in expected.items() if not reason]


def test_only_quarantine_checks_move_rows(engine: Engine) -> None:
    checks = [{"between": {"age": [18, 120]}, "name": "adult"}, quarantining({"sql": "income >= 0", "name": "paid"}),
              {"not_null": "key"}]
    result = run(engine, checks)
    assert quarantined(result) == {2: "check paid", 4: "check paid"}  # 2 and 3 fail adult, 6 not_null: kept
    assert sorted(result.table.column("id").to_pylist()) == [1, 3, 5, 6, 7, 8]
    outcomes = [(c["name"], c["failed_rows"], c["outcome"]) for c in result.record.checks]
    assert outcomes == [("adult", 2, "kept with a warning"), ("paid", 2, "moved to quarantine"),
                        ("not_null(key)", 1, "kept with a warning")]
    assert sorted(r["id"] for r in result.record.checks[0]["samples"]) == [2, 3]


def test_reasons_name_every_failing_check(engine: Engine) -> None:
    checks = [{"between": {"age": [18, 120]}, "name": "adult"}, {"sql": "income >= 0", "name": "paid"},
              {"not_null": "key"}]
    rows = quarantined(run(engine, [quarantining(c) for c in checks]))
    assert rows == {2: "check adult; check paid", 3: "check adult", 4: "check paid", 6: "check not_null(key)"}


def test_passing_checks_keep_every_row(engine: Engine) -> None:
    result = run(engine, [{"not_null": "id"}, {"unique": "id"}, {"regex": {"country": "DE|FR|XX|de|IT"}}])
    assert result.table.num_rows == 8 and result.quarantine.num_rows == 0
    assert [c["passed"] for c in result.record.checks] == [True, True, True]
    assert [c["outcome"] for c in result.record.checks] == ["passed"] * 3
    assert result.record.warnings == []


@pytest.mark.parametrize(
    ("check", "passed", "message"),
    [
        ({"row_count": {"min": 9}}, False, "8 rows (expected 9..-)"),
        ({"row_count": {"min": 1, "max": 8}}, True, "8 rows (expected 1..8)"),
        ({"row_count": {"max": 7}}, False, "8 rows (expected -..7)"),
        ({"type": {"id": "int", "income": "number", "country": "string", "updated_at": "timestamp"}}, True,
         "types as expected"),
        ({"type": {"id": "string", "income": "double"}}, False, "id is int64, expected string"),
        ({"freshness": {"column": "updated_at", "max_age": "1d"}}, True, "limit 1 day, 0:00:00"),
        ({"freshness": {"column": "updated_at", "max_age": "30d"}}, True, "limit 30 days"),
    ],
)
def test_table_level_check(duckdb_engine: Engine, check: dict, passed: bool, message: str) -> None:
    result = run(duckdb_engine, [check])
    (outcome,) = result.record.checks
    assert outcome["passed"] is passed and message in outcome["message"]
    assert result.table.num_rows == 8 and result.quarantine.num_rows == 0  # table-level: no row removed


def test_freshness_uses_now(engine: Engine) -> None:
    old = PEOPLE.set_column(7, "updated_at", pa.array([datetime(2020, 1, 1)] * 8, pa.timestamp("us")))
    (outcome,) = run(engine, [{"freshness": {"column": "updated_at", "max_age": "30d"}}], table=old).record.checks
    assert not outcome["passed"]
    age = datetime.now(timezone.utc).replace(tzinfo=None) - datetime(2020, 1, 1)
    assert outcome["message"].startswith(f"newest value is {age.days} days")


def test_every_table_level_kind_at_once(engine: Engine) -> None:
    checks = [{"row_count": {"min": 1, "max": 8}}, {"row_count": {"max": 7}}, {"type": {"income": "double"}},
              {"type": {"id": "string"}}, {"freshness": {"column": "updated_at", "max_age": "1d"}}]
    outcomes = [(c["passed"], c["message"]) for c in run(engine, checks).record.checks]
    assert outcomes[:4] == [(True, "8 rows (expected 1..8)"), (False, "8 rows (expected -..7)"),
                            (True, "types as expected"), (False, "id is int64, expected string")]
    assert outcomes[4][0] and outcomes[4][1].endswith("old (limit 1 day, 0:00:00)")


def test_table_level_checks_see_the_rows_left(engine: Engine) -> None:
    result = run(engine, [quarantining({"between": {"age": [18, 120]}}), {"row_count": {"min": 7}}])
    assert [c["passed"] for c in result.record.checks] == [False, False]
    assert result.record.checks[1]["message"].startswith("6 rows")


def test_severity_fail_raises_and_keeps_the_rows(engine: Engine) -> None:
    with pytest.raises(QualityError, match=r"1 check\(s\) with severity fail failed: between\(age: \[18, 120\]\)") as err:
        run(engine, [{"between": {"age": [18, 120]}, "severity": "fail"}, {"not_null": "key"}])
    result = err.value.result
    assert_nothing_lost(PEOPLE, result)
    assert sorted(quarantined(result)) == [2, 3]  # the fail check's rows are kept; the warn check's stay
    assert [c["severity"] for c in result.record.checks] == ["fail", "warn"]
    assert [c["outcome"] for c in result.record.checks] == ["failed: nothing written", "kept with a warning"]


def test_table_level_severity_fail(engine: Engine) -> None:
    with pytest.raises(QualityError, match=r"row_count\(\{'min': 100\}\): 8 rows"):
        run(engine, [{"row_count": {"min": 100}, "severity": "fail"}])


def test_removing_every_row_needs_allow_empty(engine: Engine) -> None:
    with pytest.raises(QualityError, match="removed all 8 rows .*allow_empty: true") as err:
        run(engine, [quarantining({"sql": "id > 100"})])
    assert err.value.result.quarantine.num_rows == 8  # nothing lost even then
    result = run(engine, [quarantining({"sql": "id > 100"})], allow_empty=True)
    assert result.table.num_rows == 0 and result.record.rows_quarantined == 8


def test_empty_input_is_not_an_error(engine: Engine) -> None:
    result = run(engine, [{"not_null": "key"}, {"row_count": {"max": 5}}], table=PEOPLE.slice(0, 0))
    assert result.table.num_rows == 0 and [c["passed"] for c in result.record.checks] == [True, True]


@pytest.mark.spark
def test_identical_on_both_engines(spark) -> None:  # noqa: ANN001 - pyspark is optional
    from datamill.engine.duckdb import DuckDBEngine
    from datamill.engine.spark import SparkEngine

    checks = [quarantining(check) for check, _ in ROW_CASES.values()] + [
        {"row_count": {"min": 1}}, {"type": {"age": "int"}}, {"freshness": {"column": "updated_at", "max_age": "1d"}},
    ]
    outcomes = []
    for engine in (DuckDBEngine(), SparkEngine()):
        result = run(engine, checks, allow_empty=True)  # together the checks fail every row
        outcomes.append((
            result.table.sort_by("id"),
            sorted(zip(result.quarantine.column("reason").to_pylist(),
                       (json.loads(r)["id"] for r in result.quarantine.column("raw").to_pylist()))),
            [{k: v for k, v in c.items() if k != "message" or c["kind"] != "freshness"} for c in result.record.checks],
        ))
    duck, spark_ = outcomes
    assert duck[0].equals(spark_[0])
    assert duck[1] == spark_[1] and len(duck[1]) == 8 - duck[0].num_rows
    assert dict((i, r) for r, i in duck[1])[5] == "check in_set(country: ['DE', 'FR', 'IT']); check in_set(country: ['DE', 'FR', 'IT', None]); check regex(email: [a-z]+@[a-z]+\\.[a-z]{2,3})"
    assert duck[2] == spark_[2]


# -- bad input: a clear error that says what and where, nothing run --------------------------
def test_unknown_column_suggests_a_name(engine: Engine) -> None:
    with pytest.raises(QualityError, match=r"between\(agee: .*column 'agee', which does not exist \(did you mean 'age'\?\)"):
        run(engine, [{"between": {"agee": [1, 2]}}])
    with pytest.raises(QualityError, match=r"column 'incme'.*\(did you mean 'income'\?\)"):
        run(engine, [{"sql": "incme > 0"}])


def test_relationship_target_must_exist(engine: Engine) -> None:
    with pytest.raises(QualityError, match=r"table 'plans' has no column 'plan_idd' \(did you mean 'plan_id'\?\)"):
        run(engine, [{"relationship": {"column": "plan", "to": "plans.plan_idd"}}])
    with pytest.raises(QualityError, match=r"table 'plan' is not available.*\(did you mean 'plans'\?\)"):
        run(engine, [{"relationship": {"column": "plan", "to": "plan.plan_id"}}])


def test_freshness_needs_a_timestamp(engine: Engine) -> None:
    with pytest.raises(QualityError, match=r"check freshness\(country within 1d\): column 'country' holds string, not a date or timestamp"):
        run(engine, [{"freshness": {"column": "country", "max_age": "1d"}}])


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"not_nul": "id"}, r"unknown check 'not_nul' \(did you mean 'not_null'\?\)"),
        ({"between": {"age": [18]}}, r"between: age needs \[low, high\]"),
        ({"between": {"age": 18}}, r"between: age needs \[low, high\]"),
        ({"between": {"age": [120, 18]}}, "low bound 120 is above the high bound 18"),
        ({"between": {"age": [1, "z"]}}, "mix numbers with text"),
        ({"freshness": {"column": "updated_at", "max_age": "3 days"}}, "max_age '3 days': write a number and a unit"),
        ({"freshness": {"column": "updated_at"}}, r"freshness: give \{column: updated_at, max_age: 2d\}"),
        ({"regex": {"email": "a(b"}}, "regex for email does not compile: missing \\)"),
        ({"regex": {"email": "(?=a)b"}}, "regex for email does not compile"),  # Java only: look-ahead
        ({"regex": {"email": "[[:alpha:]]+"}}, "means different things on DuckDB"),
        ({"row_count": {"min": 5, "max": 2}}, "min 5 is above max 2"),
        ({"row_count": {"min": "many"}}, "min must be a whole number"),
        ({"type": {"id": "integr"}}, r"'integr' for id is not a type \(did you mean 'integer'\?\)"),
        ({"sql": "income >= "}, "sql check 'income >= ': SQL does not parse"),
        ({"sql": "income >>> 0"}, "sql check 'income >>> 0': SQL does not parse"),
        ({"relationship": {"column": "plan"}}, "relationship: give"),
        ({"in_set": {"country": []}}, "needs a non-empty list"),
        ({"not_null": "id", "unique": "id"}, "a check names one kind"),
        ({"not_null": "id", "severty": "fail"}, r"unknown key 'severty' \(did you mean 'severity'\?\)"),
        ({"not_null": "id", "severity": "fatal"}, "severity"),
        ({"row_count": {"min": 1}, "severity": "quarantine"},
         "row_count judges the whole table.*severity quarantine is for row-level checks; use severity warn"),
        ({"freshness": {"column": "updated_at", "max_age": "1d"}, "severity": "quarantine"}, "whole table"),
    ],
)
def test_malformed_check_is_a_config_error(check: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        clean(PEOPLE, None, [check])
