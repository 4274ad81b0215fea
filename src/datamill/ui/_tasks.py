"""Long actions started from the UI (run the pipeline, profile a table): a thread each, progress polled.

The page posts the action, gets a task id, and polls ``/api/tasks/{id}`` for
``done`` (0..1, or ``null`` while unknown), ``message`` and ``status``
(running, ok, failed) and draws a progress bar.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from datamill.exceptions import DatamillError
from datamill.pipeline.progress import Progress
from datamill.ui._secrets import redact

__all__ = ["PipelineProgress", "Task", "Tasks"]


@dataclass
class Task:
    id: str
    kind: str
    label: str
    status: str = "running"  # running | ok | failed
    done: float | None = None
    message: str = ""
    link: str | None = None  # where to look once it is done
    started: float = field(default_factory=time.time)
    ended: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "status": self.status, "done": self.done,
                "message": redact(self.message), "link": self.link, "started": self.started, "ended": self.ended}


class Tasks:
    """The UI's background tasks (kept in memory: the UI is one process)."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, label: str, work: Callable[[Task], str | None]) -> Task:
        """Run ``work(task)`` in a thread; it updates ``task.done``/``message`` and returns the link to show."""
        task = Task(uuid.uuid4().hex[:12], kind, label)
        with self._lock:
            self._tasks[task.id] = task

        def body() -> None:
            try:
                task.link = work(task)
                task.status, task.done = "ok", 1.0
                task.message = task.message or "done"
            except DatamillError as exc:
                task.status, task.message = "failed", str(exc)
            except Exception as exc:  # shown on the page, not lost in a thread
                task.status, task.message = "failed", f"internal error: {type(exc).__name__}: {exc}"
            finally:
                task.ended = time.time()

        threading.Thread(target=body, name=f"datamill-ui-{kind}-{task.id}", daemon=True).start()
        return task

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def recent(self, limit: int = 10) -> list[Task]:
        return sorted(self._tasks.values(), key=lambda t: -t.started)[:limit]


class PipelineProgress(Progress):
    """The runner's callbacks as one fraction: finished nodes, plus the running ones' share."""

    def __init__(self, task: Task, nodes: int) -> None:
        self.task, self.total = task, max(nodes, 1)
        self.finished: set[str] = set()
        self.partial: dict[str, float] = {}
        self.rows: dict[str, int] = {}
        self.expected: dict[str, int | None] = {}

    def _update(self, message: str) -> None:
        running = sum(v for k, v in self.partial.items() if k not in self.finished)
        self.task.done = min((len(self.finished) + running) / self.total, 0.99)
        self.task.message = message

    def start(self, node: str, description: str, total: int | None = None) -> None:
        self.expected[node], self.partial[node] = total, 0.0
        self._update(description)

    def advance(self, node: str, rows: int) -> None:
        self.rows[node] = self.rows.get(node, 0) + rows
        total = self.expected.get(node)
        if total:
            self.partial[node] = min(self.rows[node] / total, 1.0)
        self._update(f"{node}: {self.rows[node]:,} rows")

    def fraction(self, node: str, done: float) -> None:
        self.partial[node] = max(0.0, min(done, 1.0))
        self._update(f"{node}: {done:.0%}")

    def finish(self, node: str, status: str, detail: str = "") -> None:
        self.finished.add(node)
        self._update(f"{node}: {status}" + (f" ({detail})" if detail else ""))
