"""One micro-batch: message values to Arrow, the dataset's SQL, cleaning and checks, on the project's engine.

The transform is the batch pipeline's own: the dataset's ``sql:`` runs on the
engine over the parsed messages (named as the kafka source), and ``clean:`` and
``checks:`` run through :func:`datamill.quality.run_quality`, exactly as in
``datamill run``, only on the micro-batch. Nothing is written here: the
consumer writes what :meth:`MicroBatch.run` returns.

Each row carries where its message came from in three columns (:data:`ORIGIN`),
which the SQL keeps when it selects ``*`` (or names them); the rows a check of
severity ``fail`` removes then go back to their messages, which become dead
letters. The columns never reach the table.

Quarantine rows get a key that is the same each time a batch is read
(:data:`QUARANTINE_KEYS`, see :func:`keyed_quarantine`), so the consumer
upserts them and a batch stored again after a crash stores none of them twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from datamill.sources.base import QUARANTINE_SCHEMA
from datamill.stream.dataset import StreamTarget
from datamill.stream.formats import SchemaMemory, message_format

__all__ = ["ORIGIN", "QUARANTINE_KEYS", "DeadLetter", "MicroBatch", "Outcome", "keyed_quarantine"]

ORIGIN = ("__dm_topic", "__dm_partition", "__dm_offset")
#: the primary key of a stream's quarantine table (never null: Cassandra keeps no null in a key)
QUARANTINE_KEYS = ("origin", "line", "reason")
# a reason is part of the key: kept short enough for any storage's key index (PostgreSQL's
# btree takes ~2.7 kB); the dead letter's header keeps the whole text
_REASON_LIMIT = 500


@dataclass
class DeadLetter:
    """A message that could not be stored: the message (when known), why, and the row as JSON (checks)."""

    message: Any  # a confluent_kafka.Message, or None when the SQL dropped the origin columns
    error: str
    topic: str | None = None
    row: str | None = None


@dataclass
class Outcome:
    """What a micro-batch produced: rows for the table, rows for its quarantine table, dead letters."""

    rows: pa.Table | None  # None: nothing parsed and no columns known yet (nothing to write)
    quarantine: pa.Table  # QUARANTINE_SCHEMA, keyed by QUARANTINE_KEYS; origin "topic/partition", line = offset
    dead: list[DeadLetter] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class MicroBatch:
    """Runs one streaming dataset's transform over batches of messages."""

    def __init__(self, target: StreamTarget, engine: Any, storage: Any, run_id: str = "") -> None:
        self.target = target
        self.engine = engine
        self.storage = storage
        self.run_id = run_id
        self.format = message_format(target.options)
        self.memory = SchemaMemory()
        spec = target.spec
        self.steps = spec.clean.steps() if spec.clean is not None else []
        self.checks = [c.build() for c in spec.checks]
        self.failing = {c.name for c in self.checks if c.severity == "fail"}
        self.query = keep_origin(target.query) if self.failing else target.query

    def run(self, messages: Sequence[Any]) -> Outcome:
        """Parse, transform, clean and check ``messages`` (confluent-kafka messages, in any partitions)."""
        parsed = self.format.parse([m.value() for m in messages])
        dead = [DeadLetter(messages[i], f"cannot read the message as {self.target.options.format}: {why}")
                for i, why in parsed.bad]
        table = self.memory.conform(parsed.table)
        if table.num_columns == 0:  # nothing readable yet: no columns to run the SQL on
            return Outcome(None, keyed_quarantine(_quarantine(dead, self.run_id), self.target.name, messages), dead)
        table = _with_origin(table, [messages[i] for i in parsed.rows])
        rows, removed, warnings = self._transform(table)
        by_origin = {(m.topic(), m.partition(), m.offset()): m for m in messages}
        checked = _removed_rows(removed, by_origin, self.failing, self.target.name)
        dead += [d for d, _ in checked if d is not None]
        quarantine = _quarantine(dead[: len(parsed.bad)], self.run_id) + [row for _, row in checked]
        return Outcome(rows, keyed_quarantine(quarantine, self.target.name, messages), dead, warnings)

    def _transform(self, table: pa.Table) -> tuple[pa.Table, pa.Table, list[str]]:
        """The dataset's SQL, then its cleaning and checks; returns rows, removed rows, warnings."""
        relation = self.engine.sql(self.query, {self.target.source: table})
        if not (self.steps or self.checks):
            return _without_origin(relation.to_arrow()), QUARANTINE_SCHEMA.empty_table(), []
        from datamill.quality import run_quality

        base = self.engine.materialize(relation)
        try:
            others = {t: self.storage.scan(t) for c in self.target.spec.checks
                      if "relationship" in (c.model_extra or {}) for t in [c.build().target[0]]}
            result = run_quality(self.engine, base, self.steps, self.checks, dataset=self.target.name,
                                 run_id=self.run_id, others=others, allow_empty=True, distributions=False)
            try:
                rows = _without_origin(result.relation().to_arrow())
            finally:
                result.close()
        finally:
            self.engine.release(base)
        warnings = [f"check {r.name} failed ({r.severity}) on a micro-batch: {r.message}"
                    for r in result.failed_checks if not _row_level(self.checks, r.name)]
        return rows, result.quarantine, warnings


def keep_origin(query: str) -> str:
    """``query`` selecting the :data:`ORIGIN` columns too, where it is a plain row-by-row SELECT.

    A fail check's rejected rows then lead back to their messages. Queries that
    aggregate, group, deduplicate or combine rows are left as written.

    Examples
    --------
    >>> keep_origin("select id, amount * 2 as a from orders where amount > 0")
    'SELECT id, amount * 2 AS a, __dm_topic, __dm_partition, __dm_offset FROM orders WHERE amount > 0'
    >>> keep_origin("select id, count(*) from orders group by id")
    'select id, count(*) from orders group by id'
    """
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(query, read="duckdb")
    except sqlglot.errors.ParseError:
        return query  # the engine reports it
    if (not isinstance(tree, exp.Select) or tree.args.get("group") or tree.args.get("distinct")
            or tree.args.get("joins") or tree.args.get("with") or tree.find(exp.AggFunc) or tree.find(exp.Window)):
        return query
    names = {e.alias_or_name for e in tree.expressions}
    if any(isinstance(e, exp.Star) for e in tree.expressions) or set(ORIGIN) <= names:
        return query
    return tree.select(*[c for c in ORIGIN if c not in names]).sql(dialect="duckdb")


def _row_level(checks: Sequence[Any], name: str) -> bool:
    return any(c.name == name and c.row_level for c in checks)


def _with_origin(table: pa.Table, messages: Sequence[Any]) -> pa.Table:
    topics = pa.array([m.topic() for m in messages], pa.string())
    partitions = pa.array([m.partition() for m in messages], pa.int32())
    offsets = pa.array([m.offset() for m in messages], pa.int64())
    for name, column in zip(ORIGIN, (topics, partitions, offsets), strict=True):
        table = table.append_column(name, column)
    return table


def _without_origin(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in ORIGIN if c in table.column_names])


def _removed_rows(removed: pa.Table, by_origin: dict[tuple[str, int, int], Any], failing: set[str],
                  dataset: str) -> list[tuple[DeadLetter | None, dict[str, Any]]]:
    """Rows cleaning and checks set aside: each as a quarantine row, and a dead letter when a fail check removed it."""
    out: list[tuple[DeadLetter | None, dict[str, Any]]] = []
    for row in removed.to_pylist():  # few rows: the ones set aside
        raw = json.loads(row["raw"]) if row["raw"] else {}
        topic, partition, offset = (raw.pop(c, None) for c in ORIGIN)
        text = json.dumps(raw, ensure_ascii=False, default=str)
        reasons = {part.strip().removeprefix("check ") for part in (row["reason"] or "").split(";")}
        dead = None
        if reasons & failing:
            message = by_origin.get((topic, partition, offset))
            dead = DeadLetter(message, f"dataset '{dataset}': {row['reason']}", topic=topic, row=text)
        out.append((dead, {
            **row, "origin": f"{topic}/{partition}" if topic is not None else dataset,
            "line": offset, "raw": text,
        }))
    return out


def _quarantine(dead: Sequence[DeadLetter], run_id: str) -> list[dict[str, Any]]:
    """Unreadable messages as quarantine rows: origin ``topic/partition``, line = offset, raw = the value as text."""
    rows = []
    for d in dead:
        m = d.message
        value = m.value()
        rows.append({
            "origin": f"{m.topic()}/{m.partition()}", "run_id": run_id, "line": m.offset(), "column": None,
            "reason": d.error, "raw": value.decode("utf-8", "replace") if value is not None else None,
        })
    return rows


def keyed_quarantine(rows: list[dict[str, Any]], dataset: str, messages: Sequence[Any]) -> pa.Table:
    """Quarantine rows keyed by :data:`QUARANTINE_KEYS`, the same key each time their batch is read.

    The consumer upserts them by that key (with the batch's transactions), so
    quarantine rows are stored once even where a crash can land between the
    rows and their transaction (Cassandra writes the rows, then the txn row;
    the batch is then read and written again). The natural key of a row is
    its message: origin ``topic/partition`` and line = offset, then the reason.
    Two more rules make it whole and never null:

    - rows the SQL derived from several messages (it aggregated, or dropped the
      origin columns) have no message: they are filed under the batch's first
      message, as origin ``<dataset>@<topic>/<partition>`` and line = its
      offset (a batch read again starts at the same offsets);
    - rows with the same origin, line and reason (a message the SQL turned
      into several rows) are told apart by ``(row 2)``, ``(row 3)``... after the
      reason, in the order of their ``raw`` text. Reasons are cut at 500
      characters (keys must fit any storage's index); the dead letter keeps
      the whole. ``column`` is no part of the key: it may be null.

    Rows set aside by comparing messages (``dedupe``) depend on which messages
    share a batch; a batch read again with other messages may set aside others.

    Examples
    --------
    >>> rows = [{"origin": "t/0", "line": 7, "reason": "check a", "raw": r} for r in ("y", "x")]
    >>> keyed_quarantine(rows, "d", []).select(["raw", "reason"]).to_pylist()
    [{'raw': 'x', 'reason': 'check a'}, {'raw': 'y', 'reason': 'check a (row 2)'}]
    """
    first = min(((m.topic(), m.partition(), m.offset()) for m in messages), default=None)
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for row in rows:
        row = {**row, "reason": _cut(row.get("reason") or "")}
        if row.get("line") is None:
            topic, partition, offset = first if first is not None else ("", 0, 0)
            row["origin"], row["line"] = f"{dataset}@{topic}/{partition}", offset
        groups.setdefault((row["origin"], row["line"], row["reason"]), []).append(row)
    out = []
    for group in groups.values():
        group.sort(key=lambda r: (r.get("raw") or "", r.get("column") or ""))
        for i, row in enumerate(group):
            out.append({**row, "reason": row["reason"] + (f" (row {i + 1})" if i else "")})
    return pa.Table.from_pylist(out, schema=QUARANTINE_SCHEMA)


def _cut(reason: str) -> str:
    return reason if len(reason) <= _REASON_LIMIT else reason[: _REASON_LIMIT - 1] + "…"
