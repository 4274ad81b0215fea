"""Run a dataset's cleaning steps and checks on the engine, keeping every removed row.

Invariant, checked on every run: rows in = rows out + rows quarantined + rows
removed as duplicates; every removed row is in the quarantine table with its
reason. Rows in are counted on the input and the set-aside rows as they are
collected; rows out are counted where the rows land (the storage commit in a
pipeline, the collected table in :func:`~datamill.quality.clean`), so the
invariant can fail, and does when a step or a backend loses rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from datamill._registry import did_you_mean
from datamill.engine import Frame
from datamill.engine.base import Engine, Relation
from datamill.engine.frame import count_changed_together
from datamill.exceptions import QualityError
from datamill.quality.checks import FAILING_SAMPLES, Check, CheckResult
from datamill.quality.record import QualityRecord, StepRecord
from datamill.quality.steps.base import Removed, Step
from datamill.sources.base import QUARANTINE_SCHEMA
from datamill.storage.base import TableScan

__all__ = ["QualityResult", "run_quality"]


@dataclass
class QualityResult:
    """The cleaned rows (lazy), the rows set aside, and the record of what happened."""

    frame: Frame
    quarantine: pa.Table
    record: QualityRecord
    failed_checks: list[CheckResult] = field(default_factory=list)

    @property
    def fatal(self) -> list[CheckResult]:
        """Failed checks of severity ``fail`` (and an emptied table): the rows must not be written."""
        return [r for r in self.failed_checks if r.severity == "fail"]

    def fatal_message(self, kept_in: str) -> str:
        """Why the dataset is not written, for a :class:`QualityError`."""
        return (
            f"dataset '{self.record.dataset}': {len(self.fatal)} check(s) with severity fail failed: "
            + "; ".join(f"{r.name}: {r.message}" for r in self.fatal)
            + f" (the removed rows are kept in {kept_in})"
        )

    def relation(self) -> Relation:
        return self.frame.relation()

    def count_rows(self) -> int:
        """Count the cleaned rows on the engine (for a result that is not written)."""
        return int(self.frame.aggregate({"n": "count(*)"})["n"])

    def settle(self, rows_out: int, where: str) -> None:
        """Record ``rows_out``, the rows counted in the output, and check that nothing was lost.

        Raises :class:`QualityError` when rows in ≠ rows out + quarantined + duplicates.
        """
        r = self.record
        r.rows_out = rows_out
        if not r.balanced:
            missing = r.rows_in - r.rows_out - r.rows_quarantined - r.rows_duplicates
            raise QualityError(
                f"dataset '{r.dataset}': rows do not add up: rows in {r.rows_in:,} ≠ rows out {r.rows_out:,} "
                f"({where}) + quarantined {r.rows_quarantined:,} + duplicates {r.rows_duplicates:,}; "
                f"{abs(missing):,} rows {'unaccounted for' if missing > 0 else 'too many'} (a cleaning step lost "
                "or made up rows: report it with the steps that ran)"
            )

    def close(self) -> None:
        self.frame.release()


def _check_columns(frame: Frame, steps: Sequence[Step], checks: Sequence[Check], dataset: str) -> None:
    names = set(frame.names)
    lower = {n.lower() for n in names}
    wanted_by = [*((s.key, s.columns(), True) for s in steps), *((c.name, c.columns(), c.exact_names) for c in checks)]
    for what, wanted, exact in wanted_by:
        for column in wanted:
            if column not in names and (exact or column.lower() not in lower):
                raise QualityError(
                    f"dataset '{dataset}': {what} uses column '{column}', which does not exist"
                    f"{did_you_mean(column, names)}; columns: {', '.join(sorted(names))}"
                )


def _check_types(base: TableScan, steps: Sequence[Step], checks: Sequence[Check],
                 others: Mapping[str, TableScan], dataset: str) -> None:
    """Refuse a step or check given a column of a type it cannot use, before any SQL runs."""
    from datamill.quality._types import type_problems

    problems = type_problems(steps, checks, base.schema, {name: scan.schema for name, scan in others.items()})
    if len(problems) == 1:
        raise QualityError(f"dataset '{dataset}': {problems[0]}")
    if problems:
        raise QualityError(f"dataset '{dataset}': {len(problems)} columns do not fit their steps or checks:\n"
                           + "\n".join(f"  - {p}" for p in problems))


def run_quality(
    engine: Engine,
    base: TableScan,
    steps: Sequence[Step],
    checks: Sequence[Check],
    *,
    dataset: str,
    run_id: str = "",
    others: Mapping[str, TableScan] | None = None,
    allow_empty: bool = False,
    distributions: bool = True,
) -> QualityResult:
    """Clean ``base`` with ``steps``, then apply ``checks``; nothing is written here.

    With ``distributions`` (the default) the record also keeps before/after
    distributions of the columns the steps changed, for the quality report.
    """
    frame = Frame(engine, base, others=others)
    initial = frame
    _check_columns(frame, steps, checks, dataset)
    _check_types(base, steps, checks, others or {}, dataset)
    rows = base.count_rows()
    record = QualityRecord(dataset, run_id, engine.name, rows_in=rows,
                           created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    quarantined: list[pa.Table] = []
    counting: list[_Counting] = []
    for i, step in enumerate(steps):
        _prefetch(steps, i, frame)
        frame, rows = _run_step(step, frame, rows, record, quarantined, counting)
    _count_changes(counting)
    failed: list[CheckResult] = []
    if checks:
        frame, rows, failed = _run_checks(checks, frame, rows, record, quarantined)
    # record.rows_out stays unset here: it is counted where the rows land (the storage commit, the
    # collected table), so that "rows in = out + quarantined + duplicates" is a check, not an identity
    if rows == 0 and record.rows_in > 0 and not allow_empty:
        # fails like a `severity: fail` check, so that callers still keep the removed rows
        failed.append(_emptied(record))
    if distributions:
        from datamill.quality.distributions import changed_columns
        from datamill.quality.distributions import distributions as compute

        # one query collects the changed columns of both sides, sampled when big: charts need shapes
        record.distributions = compute(initial, frame, changed_columns(record), rows=(record.rows_in, rows))
    table = _quarantine_table(quarantined, dataset, run_id)
    return QualityResult(frame, table, record, failed)


def _prefetch(steps: Sequence[Step], i: int, frame: Frame) -> None:
    """Compute step ``i``'s statistics and, in the same pass, those of later steps that read nothing changed before them.

    A later step's statistic is only taken along while every step before it
    keeps its rows and its table (:meth:`Step.writes`), and when it reads none
    of the columns they write; what :meth:`Frame.aggregate` finds computed it
    does not compute again.
    """
    own = list(steps[i].statistics(frame).values())
    exprs = list(own)
    written: set[str] = set()
    for j in range(i, len(steps) - 1):
        writes = steps[j].writes()
        if writes is None:
            break
        written |= set(writes)
        exprs += [e for e in steps[j + 1].statistics(frame).values() if not frame.reads(e) & written]
    if len(exprs) == len(own):
        return  # nothing to add: the step computes its own
    from datamill.exceptions import EngineError

    try:
        frame.prefetch(exprs)
    except EngineError:  # a later step's statistic does not fit its column: that step says so when it runs
        pass


@dataclass
class _Counting:
    """A step's changed cells still to count: ``cells`` is filled in by :func:`_count_changes`."""

    frame: Frame
    changes: dict[str, str]
    cells: dict[str, int]


def _count_changes(counting: list[_Counting]) -> None:
    """Count the cells the steps changed, all steps at once (one pass per base table)."""
    counts = count_changed_together([(c.frame, c.changes) for c in counting])
    for item, found in zip(counting, counts, strict=True):
        item.cells.update(found)
    counting.clear()


def _run_step(step: Step, frame: Frame, rows: int, record: QualityRecord, quarantined: list[pa.Table],
              counting: list[_Counting]) -> tuple[Frame, int]:
    outcome = step.apply(frame)
    removed = 0
    for part in outcome.removals:
        table = _collect(part)
        removed += table.num_rows
        quarantined.append(table)
        if part.kind == "duplicate":
            record.rows_duplicates += table.num_rows
        else:
            record.rows_quarantined += table.num_rows
    exprs = {c: e for c, e in outcome.changed.items() if c in frame.columns and e}
    counts = dict.fromkeys(exprs, 0)  # counted with the other steps' changes, in one pass (_count_changes)
    if exprs:
        counting.append(_Counting(frame, exprs, counts))
    for c, e in outcome.changed.items():  # changed in Python (model imputers): given by the step
        if not e and c in outcome.values.get("_cells_changed", {}):
            counts[c] = int(outcome.values["_cells_changed"][c])
    outcome.values.pop("_cells_changed", None)
    record.steps.append(StepRecord(
        step=step.key, description=step.describe(), rows_in=rows, rows_out=rows - removed,
        rows_removed=removed, removed_as=", ".join(dict.fromkeys(p.kind for p in outcome.removals)),
        cells_changed=counts, values=outcome.values, dropped_columns=outcome.dropped_columns,
    ))
    if outcome.frame.base is not frame.base:  # the step computed a new table: the old one is done with
        _count_changes(counting)  # counted over the old table, before it goes
        frame.release()
    return outcome.frame, rows - removed


def _run_checks(checks: Sequence[Check], frame: Frame, rows: int, record: QualityRecord,
                quarantined: list[pa.Table]) -> tuple[Frame, int, list[CheckResult]]:
    """Judge the rows: failing rows of ``quarantine`` and ``fail`` checks leave, ``warn`` keeps them all."""
    results: list[CheckResult] = []
    row_checks = [c for c in checks if c.row_level]
    if row_checks:
        frame = frame.materialize()  # plain columns: checks' SQL reads them as written
        # a NULL flag would put a row neither in the output nor in quarantine: NULL means "passes"
        flags = {f"_dm_f{i}": f"coalesce(({check.fail_condition(frame)}), FALSE)" for i, check in enumerate(row_checks)}
        flagged = frame.materialize(flags)
        counts = flagged.aggregate({f: f"count(*) FILTER (WHERE {{{f}}})" for f in flags})  # one pass
        by_flag = dict(zip(flags, row_checks))
        removing = {f: c for f, c in by_flag.items() if c.severity != "warn"}
        samples = _samples(flagged, [f for f, c in by_flag.items() if c.severity == "warn" and counts[f]], list(flags))
        if any(counts[f] for f in removing):
            any_fail = " OR ".join(f"{{{f}}}" for f in removing)
            reason = "concat_ws('; ', " + ", ".join(
                f"CASE WHEN {{{f}}} THEN {frame.d.literal('check ' + c.name)} END" for f, c in removing.items()
            ) + ")"
            table = _collect(Removed(flagged.where(any_fail), reason)).drop_columns(list(flags))
            quarantined.append(table)
            record.rows_quarantined += table.num_rows
            rows -= table.num_rows
            frame = flagged.where(f"NOT ({any_fail})").without(list(flags))
        else:  # nothing leaves: the rows are the flagged ones, without their flags
            frame = flagged.without(list(flags))
        for f, check in by_flag.items():
            n = int(counts[f])
            result = check.result(n == 0, n, f"{n:,} rows failed" if n else "all rows pass")
            result.samples = samples.get(f, [])
            results.append(result)
    for check in (c for c in checks if not c.row_level):
        results.append(check.evaluate(frame, rows))
    record.checks = [{**r.__dict__, "outcome": r.outcome} for r in results]
    failed = [r for r in results if not r.passed]
    record.warnings += [f"check {r.name} failed ({r.severity}): {r.message}; {r.outcome}" for r in failed]
    return frame, rows, failed


def _samples(flagged: Frame, flags: list[str], helpers: list[str]) -> dict[str, list[dict[str, Any]]]:
    """A few failing rows per flag, in one query: what a ``warn`` check shows instead of moving them."""
    if not flags:
        return {}
    which = "_dm_which"
    parts = " UNION ALL ".join(
        f"SELECT * FROM (SELECT *, {i} AS {which} FROM t WHERE {flagged.ident(f)} LIMIT {FAILING_SAMPLES}) s{i}"
        for i, f in enumerate(flags)
    )
    table = flagged.query(parts).to_arrow()
    out: dict[str, list[dict[str, Any]]] = {f: [] for f in flags}
    for row in table.drop_columns([*helpers]).to_pylist():
        out[flags[row.pop(which)]].append({k: _json_value(v) for k, v in row.items()})
    return out


def _json_value(value: Any) -> Any:
    """A sample cell as the record's JSON keeps it: numbers, text, booleans, lists and mappings."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return str(value)  # dates, decimals, bytes: as text


def _emptied(record: QualityRecord) -> CheckResult:
    result = CheckResult(
        "allow_empty", "allow_empty", "fail", False, record.rows_in,
        f"cleaning and checks removed all {record.rows_in:,} rows (fix the rules, or set allow_empty: true)",
    )
    record.checks.append(dict(result.__dict__))
    record.warnings.append(f"check allow_empty failed (fail): {result.message}")
    return result


def _collect(removed: Removed) -> pa.Table:
    """The removed rows with their reasons, as Arrow (they are usually few)."""
    table = removed.frame.materialize_rows(removed.reason)
    return table.drop_columns([c for c in removed.helper_columns if c in table.column_names])


def _quarantine_table(parts: list[pa.Table], dataset: str, run_id: str) -> pa.Table:
    """Removed rows in the one quarantine schema: each row as JSON in ``raw``.

    Built by DuckDB from the Arrow tables: no Python object per row (and no
    pandas, which pyarrow imports to convert Python lists).
    """
    import duckdb

    tables = [t for t in parts if t.num_rows]
    if not tables:
        return QUARANTINE_SCHEMA.empty_table()
    out = []
    con = duckdb.connect()
    try:
        for i, t in enumerate(tables):
            con.register(f"r{i}", t)
            row = ", ".join(f"{_ident(c)} := {_ident(c)}" for c in t.column_names if c != "_dm_reason")
            out.append(con.sql(
                f'SELECT ?::VARCHAR AS origin, ?::VARCHAR AS run_id, NULL::BIGINT AS line, NULL::VARCHAR AS "column", '
                f"CAST(_dm_reason AS VARCHAR) AS reason, CAST(to_json(struct_pack({row})) AS VARCHAR) AS raw FROM r{i}",
                params=[dataset, run_id],
            ).to_arrow_table().cast(QUARANTINE_SCHEMA))
    finally:
        con.close()
    return pa.concat_tables(out)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
