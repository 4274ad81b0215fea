"""The cleaning record: what every step and check did in one run, kept as JSON.

Stored at ``.datamill/quality/<dataset>/<run_id>.json``; ``datamill quality``
reads the newest and renders it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["QualityRecord", "StepRecord", "load_records", "save_record"]


@dataclass
class StepRecord:
    step: str
    description: str
    rows_in: int
    rows_out: int
    rows_removed: int = 0
    removed_as: str = ""  # "duplicate" or "quarantined"
    cells_changed: dict[str, int] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    dropped_columns: list[str] = field(default_factory=list)


@dataclass
class QualityRecord:
    dataset: str
    run_id: str
    engine: str
    rows_in: int
    rows_out: int = 0
    rows_quarantined: int = 0  # by checks and row-removing steps (not duplicates)
    rows_duplicates: int = 0
    steps: list[StepRecord] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    distributions: dict[str, Any] = field(default_factory=dict)  # column -> {before, after}
    warnings: list[str] = field(default_factory=list)
    created: str = ""

    @property
    def balanced(self) -> bool:
        """rows in = rows out + rows quarantined + rows removed as duplicates."""
        return self.rows_in == self.rows_out + self.rows_quarantined + self.rows_duplicates

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityRecord:
        steps = [StepRecord(**s) for s in data.pop("steps", [])]
        return cls(**data, steps=steps)


def _folder(root: Path, dataset: str) -> Path:
    return root / ".datamill" / "quality" / dataset


def save_record(root: Path, record: QualityRecord) -> Path:
    import os
    import tempfile

    folder = _folder(root, record.dataset)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record.run_id}.json"
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(record.to_dict(), f, indent=2, default=str)
    os.replace(tmp, path)
    return path


def load_records(root: Path, dataset: str) -> list[QualityRecord]:
    """Records of ``dataset``, newest first."""
    folder = _folder(root, dataset)
    if not folder.is_dir():
        return []
    return [
        QualityRecord.from_dict(json.loads(p.read_text(encoding="utf-8")))
        for p in sorted(folder.glob("*.json"), reverse=True)
    ]
