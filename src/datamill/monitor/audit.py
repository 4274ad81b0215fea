"""The ``monitor_audit`` table: one row per decision of the continuous-training loop.

Every retrain (promoted, refused or failed) and every rollback appends a row
to the project's storage: when, which monitor and model, what triggered it,
both versions and their holdout scores, the gate as written, the outcome, why,
and who (a person, or the process: ``datamill schedule``). The table is only
ever appended to, so the trail survives everything but a deliberate drop.

Examples
--------
>>> row = Decision(monitor="churn_watch", model="churn", trigger="manual", outcome="refused")
>>> sorted(set(AUDIT_SCHEMA.names) - set(row.to_row()))
[]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

__all__ = ["AUDIT_SCHEMA", "AUDIT_TABLE", "OUTCOMES", "Decision", "read_audit", "record"]

AUDIT_TABLE = "monitor_audit"
OUTCOMES = ("promoted", "refused", "failed", "rolled_back")
AUDIT_SCHEMA = pa.schema([
    pa.field("at", pa.string()),  # ISO 8601, UTC, to the millisecond
    pa.field("monitor", pa.string()),
    pa.field("model", pa.string()),
    pa.field("trigger", pa.string()),  # drift | performance | schedule | manual
    pa.field("champion_version", pa.int64()),
    pa.field("challenger_version", pa.int64()),
    pa.field("metric", pa.string()),
    pa.field("champion_score", pa.float64()),
    pa.field("challenger_score", pa.float64()),
    pa.field("gate", pa.string()),
    pa.field("outcome", pa.string()),  # promoted | refused | failed | rolled_back
    pa.field("reason", pa.string()),
    pa.field("by", pa.string()),
])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Decision:
    """One row of ``monitor_audit``."""

    monitor: str
    model: str
    trigger: str
    outcome: str = ""
    champion_version: int | None = None
    challenger_version: int | None = None
    metric: str | None = None
    champion_score: float | None = None
    challenger_score: float | None = None
    gate: str | None = None
    reason: str | None = None
    by: str | None = None
    at: str = field(default_factory=_now)

    def to_row(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Decision:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})

    def line(self) -> str:
        """The decision in one line, for the terminal and the scheduler's log."""
        versions = (f"v{self.challenger_version}" if self.challenger_version is not None else "no challenger")
        champion = f"champion v{self.champion_version}" if self.champion_version is not None else "no champion"
        scores = ""
        if self.challenger_score is not None:
            scores = f"; {self.metric} {self.challenger_score:.4f}" + (
                f" vs {self.champion_score:.4f}" if self.champion_score is not None else "")
        return (f"{self.outcome}: {self.model} {versions} ({champion}; trigger {self.trigger}{scores})"
                + (f": {self.reason}" if self.reason else ""))


def record(storage: Any, decision: Decision) -> Decision:
    """Append ``decision`` to the project's ``monitor_audit`` table (created on first use)."""
    if decision.outcome not in OUTCOMES:
        raise ValueError(f"outcome {decision.outcome!r}: one of {', '.join(OUTCOMES)}")
    row = pa.Table.from_pylist([decision.to_row()], schema=AUDIT_SCHEMA)
    storage.write(AUDIT_TABLE, row, mode="append")
    return decision


def read_audit(storage: Any, *, monitor: str | None = None, model: str | None = None) -> list[Decision]:
    """The decisions recorded (for one monitor, or one model), oldest first; none when the table is missing."""
    if AUDIT_TABLE not in storage.list():
        return []
    rows = storage.read(AUDIT_TABLE).to_pylist()
    found = [Decision.from_row(r) for r in rows
             if (monitor is None or r.get("monitor") == monitor) and (model is None or r.get("model") == model)]
    return sorted(found, key=lambda d: d.at)
