"""Run records: what ran, on which input versions, producing what.

Each run writes ``.datamill/runs/<run_id>.json`` in the project folder (one file
per run, replaced atomically, so readers never see half a record and nothing
locks), and the CLI keeps what libraries printed in ``<run_id>.log`` beside it.
``state/<node>.json`` keeps each node's last fingerprint and version for
up-to-date checks, one file per node for the same reasons: a ``datamill run``,
a stream and a monitor running at once each replace only the records of the
nodes they ran, never another's. (Before, one ``state.json`` held every node
and was saved whole; it is still read for nodes that have no file yet.)
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

__all__ = ["NodeRun", "RunRecord", "RunStore", "new_run_id"]

# up_to_date: not run, its inputs and config are as last time; unchanged: run (a source
# read), but its content is what is stored, so no new version was written; skipped: not the
# batch pipeline's to run (a streaming dataset: `datamill stream` runs it)
Status = Literal["ok", "up_to_date", "unchanged", "skipped", "failed", "blocked", "interrupted", "pending"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a random suffix."""
    # milliseconds, so runs started within one second still sort in order
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")[:-3] + "-" + uuid.uuid4().hex[:6]


@dataclass
class NodeRun:
    """What happened to one node in one run."""

    name: str
    kind: str
    status: Status = "pending"
    started: str | None = None
    ended: str | None = None
    seconds: float | None = None
    engine_jobs: int | None = None  # Spark jobs (DuckDB: queries) the node ran; None: not counted
    rows_in: int | None = None
    rows_out: int | None = None
    rows_quarantined: int = 0
    rows_skipped: int = 0
    input_versions: dict[str, int | None] = field(default_factory=dict)
    output_version: int | None = None
    fingerprint: str | None = None
    content: str | None = None  # digest of the records a source read, when its fingerprint cannot tell
    warnings: list[str] = field(default_factory=list)
    summary: str | None = None  # what the node produced, in words (a model: its best candidate and score)
    error: str | None = None
    traceback: str | None = None  # only for unexpected errors (bugs), shown with --debug


@dataclass
class RunRecord:
    """One ``datamill run``."""

    run_id: str
    project: str
    started: str = field(default_factory=_now)
    ended: str | None = None
    status: Literal["running", "ok", "failed", "interrupted"] = "running"
    selection: list[str] = field(default_factory=list)
    full_refresh: bool = False
    nodes: dict[str, NodeRun] = field(default_factory=dict)

    @property
    def failed(self) -> list[NodeRun]:
        return [n for n in self.nodes.values() if n.status in ("failed", "blocked", "interrupted")]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def raise_for_status(self) -> RunRecord:
        """Raise :class:`PipelineError` naming the failed nodes, for schedulers and scripts."""
        from datamill.exceptions import PipelineError

        if self.status != "ok":
            detail = "; ".join(f"{n.name}: {n.status}" + (f" ({n.error.splitlines()[0]})" if n.error else "") for n in self.failed)
            raise PipelineError(f"run {self.run_id} {self.status}: {detail}")
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        nodes = {k: NodeRun(**v) for k, v in data.pop("nodes", {}).items()}
        return cls(**data, nodes=nodes)


_TMP = ".tmp-"


def _write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically: readers see the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP, suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> Any:
    """The JSON in ``path``; ``None`` when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _file_name(node: str) -> str:
    """A file name for any node name (``/`` and a leading ``.`` escaped), readable for plain ones.

    Examples
    --------
    >>> _file_name("orders_clean"), _file_name("a/b"), _file_name(".x")
    ('orders_clean.json', 'a%2Fb.json', '%2Ex.json')
    """
    name = quote(node, safe="")
    return ("%2E" + name[1:] if name.startswith(".") else name) + ".json"


class RunStore:
    """Run records and node state under ``<project>/.datamill``."""

    def __init__(self, root: Path) -> None:
        self.root = root / ".datamill"
        self.runs_dir = self.root / "runs"
        self.state_dir = self.root / "state"
        self.state_file = self.root / "state.json"  # the old single file: read for nodes without their own

    def log_path(self, run_id: str) -> Path:
        """Where the CLI writes what libraries print during run ``run_id``."""
        return self.runs_dir / f"{run_id}.log"

    def save(self, record: RunRecord) -> None:
        _write_json(self.runs_dir / f"{record.run_id}.json", record.to_dict())

    def list(self) -> list[RunRecord]:
        """Every recorded run, newest first."""
        if not self.runs_dir.exists():
            return []
        out = []
        for path in sorted(self.runs_dir.glob("*.json"), reverse=True):
            try:
                out.append(RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8"))))
            except (ValueError, TypeError):
                continue  # a record from an incompatible version: not ours to fail on
        return out

    def get(self, run_id: str) -> RunRecord | None:
        matches = [r for r in self.list() if r.run_id.startswith(run_id)]
        return matches[0] if len(matches) == 1 else None

    def state(self) -> dict[str, dict[str, Any]]:
        """Every node's state after its last run, by node name."""
        legacy = _read_json(self.state_file)
        state = dict(legacy) if isinstance(legacy, dict) else {}
        if self.state_dir.is_dir():
            for path in self.state_dir.glob("*.json"):
                if path.name.startswith(_TMP):
                    continue  # being written by another process
                entry = _read_json(path)
                if isinstance(entry, dict):
                    state[unquote(path.name.removesuffix(".json"))] = entry
        return state

    def node_state(self, node: str) -> dict[str, Any] | None:
        """``node``'s state after its last run (by any process), or ``None``."""
        entry = _read_json(self.state_dir / _file_name(node))
        if entry is None:
            legacy = _read_json(self.state_file)
            entry = legacy.get(node) if isinstance(legacy, dict) else None
        return entry if isinstance(entry, dict) else None

    def save_node_state(self, node: str, entry: dict[str, Any]) -> None:
        """Replace ``node``'s state, atomically; other nodes' states are not touched."""
        _write_json(self.state_dir / _file_name(node), entry)
