"""Rich progress bars for pipeline runs."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column

from datamill.pipeline.progress import Progress as PipelineProgress

_STYLE = {"ok": "green", "up_to_date": "dim", "unchanged": "dim", "failed": "red", "blocked": "yellow", "interrupted": "yellow"}


class RichProgress(PipelineProgress):
    """One line per node: a spinner and a row count while it runs, its outcome after.

    Names and row counts are never cut: on a narrow console the bar and the
    clock give way, and the outcome wraps under itself. A node's result or
    error is told in full by the run's report; the line keeps its first line.
    """

    def __init__(self, console) -> None:
        width = console.width
        self._wide = width >= _WIDE
        self._unit = " rows" if width >= _NARROW else ""
        columns: list[Any] = [
            SpinnerColumn(),
            TextColumn("{task.description}", table_column=Column(no_wrap=True, min_width=min(28, width // 3))),
        ]
        if width >= _WIDE:
            columns.append(BarColumn(bar_width=24))
        columns.append(TextColumn("{task.fields[rows]}", justify="right", table_column=Column(no_wrap=True)))
        if width >= _WIDE:
            columns.append(TimeElapsedColumn())
        columns.append(TextColumn("{task.fields[detail]}", table_column=Column(overflow="fold")))
        self._bar = Progress(
            *columns,
            console=console,
            transient=False,
            redirect_stderr=False,  # library warnings go to the run's log (standard error), not above the bars
        )
        self._tasks: dict[str, int] = {}
        self._rows: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def start(self, node: str, description: str, total: int | None = None) -> None:
        self._rows[node] = 0
        if node in self._tasks:
            self._bar.update(self._tasks[node], description=description, rows=self._rows_text(0), total=total,
                             completed=0)
            return
        self._tasks[node] = self._bar.add_task(description, total=total, rows=self._rows_text(0), detail="")

    def advance(self, node: str, rows: int) -> None:
        self._rows[node] = self._rows.get(node, 0) + rows
        self._bar.update(self._tasks[node], advance=rows, rows=self._rows_text(self._rows[node]))

    def fraction(self, node: str, done: float) -> None:
        self._bar.update(self._tasks[node], total=1.0, completed=min(max(done, 0.0), 1.0), rows="")

    def finish(self, node: str, status: str, detail: str = "") -> None:
        if node not in self._tasks:
            self._tasks[node] = self._bar.add_task(node, total=None, rows="", detail="")
        style = _STYLE.get(status, "white")
        # ok: the rows column says it; on a narrow console the report below tells the rest
        first = detail.splitlines()[0] if detail and status != "ok" and self._wide else ""
        task = self._tasks[node]
        rows = self._rows_text(self._rows[node]) if self._rows.get(node) else ""
        label = status.replace("_", " ")
        self._bar.update(task, total=1, completed=1, detail=f"[{style}]{label}[/] {escape(first)}",
                         **({"rows": rows} if rows else {}))
        self._bar.stop_task(task)


    def _rows_text(self, n: int) -> str:
        return f"{n:,}{self._unit}"


_WIDE = 100  # columns from which the bar, the clock and a failure's first line are shown
_NARROW = 60  # columns below which counts go without their unit
