"""Rich progress bars for pipeline runs."""

from __future__ import annotations

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from datamill.pipeline.progress import Progress as PipelineProgress

_STYLE = {"ok": "green", "up_to_date": "dim", "failed": "red", "blocked": "yellow", "interrupted": "yellow"}


class RichProgress(PipelineProgress):
    """One line per node: a spinner and a row count while it runs, its outcome after."""

    def __init__(self, console) -> None:
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<28}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[rows]:>12} rows"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
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
            self._bar.update(self._tasks[node], description=description, rows="0", total=total, completed=0)
            return
        self._tasks[node] = self._bar.add_task(description, total=total, rows="0", detail="")

    def advance(self, node: str, rows: int) -> None:
        self._rows[node] = self._rows.get(node, 0) + rows
        self._bar.update(self._tasks[node], advance=rows, rows=f"{self._rows[node]:,}")

    def fraction(self, node: str, done: float) -> None:
        self._bar.update(self._tasks[node], total=1.0, completed=min(max(done, 0.0), 1.0))

    def finish(self, node: str, status: str, detail: str = "") -> None:
        if node not in self._tasks:
            self._tasks[node] = self._bar.add_task(node, total=None, rows="", detail="")
        style = _STYLE.get(status, "white")
        short = detail.splitlines()[0][:80] if detail else ""
        task = self._tasks[node]
        rows = f"{self._rows[node]:,}" if self._rows.get(node) else ""
        label = status.replace("_", " ")
        self._bar.update(task, total=1, completed=1, detail=f"[{style}]{label}[/] {short}", **({"rows": rows} if rows else {}))
        self._bar.stop_task(task)
