"""``datamill schedule``: run the project's jobs on their cron expressions until stopped.

Jobs: each ``schedule:`` entry (``datamill run``, or its ``select``) and each
monitor with a ``schedule:`` (one pass of its policy). One job runs at a time;
SIGTERM or Ctrl-C lets the running job finish, then the process exits 0 (a
second Ctrl-C stops at once). For an external scheduler, run the single passes
instead: ``datamill run --select ...`` and ``datamill retrain MONITOR``.
"""

from __future__ import annotations

import signal
import sys
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from datamill.cli.app import app, console, open_project
from datamill.cli.output import whole


def jobs(project: Any) -> list[Any]:
    """The project's scheduled jobs: pipeline runs, then monitors."""
    from datamill.pipeline.schedule import Job

    out = []
    for name, spec in project.config.schedule.items():
        what = "datamill run" + "".join(f" --select {s}" for s in spec.select) + (" --full-refresh"
                                                                                   if spec.full_refresh else "")
        out.append(Job(name, spec.cron, _pipeline_call(project, spec), what))
    for name, spec in project.config.monitors.items():
        if spec.schedule:
            what = f"monitor {name}" + (f" (retrain on {', '.join(spec.retrain.when)})" if spec.retrain else "")
            out.append(Job(f"monitor:{name}", spec.schedule, _monitor_call(project, name), what))
    return out


def _pipeline_call(project: Any, spec: Any) -> Any:
    def call() -> str:
        from datamill.exceptions import PipelineError

        record = project.run(spec.select, full_refresh=spec.full_refresh)
        if record.status != "ok":
            failed = "; ".join(f"{n.name} {n.status}" + (f" ({n.error.splitlines()[0]})" if n.error else "")
                               for n in record.failed)
            raise PipelineError(f"run {record.run_id} {record.status}: {failed} (details: datamill runs "
                                f"{record.run_id})")
        ran = sum(1 for n in record.nodes.values() if n.status == "ok")
        return f"run {record.run_id} ok: {ran} of {len(record.nodes)} nodes ran, the others up to date"

    return call


def _monitor_call(project: Any, name: str) -> Any:
    def call() -> str:
        from datamill.cli.retrain import describe_pass, observer
        from datamill.exceptions import ModelError
        from datamill.pipeline.monitoring import monitor_pass

        done = monitor_pass(project.config, project.root, project.storage, project.engine, name, scheduled=True,
                            observe=observer(project), by="datamill schedule", project_file=project.file)
        if done.decision is not None and done.decision.outcome == "failed":
            raise ModelError(describe_pass(done))
        return describe_pass(done)

    return call


def _say(text: str, style: str = "") -> None:
    from datetime import datetime

    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
    console.print(f"[dim]{stamp}[/] " + (f"[{style}]" if style else ""), end="")
    console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
    sys.stdout.flush()  # a log file or a pipe sees each line as it happens


@app.command()
def schedule(
    job: Annotated[Optional[list[str]], typer.Option("--job", "-j", help="Run only these jobs (repeatable).")]
    = None,
    list_only: Annotated[bool, typer.Option("--list", help="List the jobs and their next runs, then exit.")] = False,
) -> None:
    """Run the project's jobs (schedule: entries, monitors with a schedule:) on their cron expressions.

    A long-running process: one job at a time, never overlapping itself; SIGTERM or Ctrl-C finishes the
    running job, then exits 0.
    """
    from datamill.exceptions import ConfigError
    from datamill.pipeline.schedule import Scheduler

    project = open_project()
    found = jobs(project)
    if job:
        unknown = [j for j in job if j not in {f.name for f in found}]
        if unknown:
            from datamill._registry import did_you_mean

            names = [f.name for f in found]
            raise ConfigError(f"--job {unknown[0]}: no such job{did_you_mean(unknown[0], names)}; jobs: "
                              f"{', '.join(names) or 'none'}")
        found = [f for f in found if f.name in job]
    if not found:
        raise ConfigError("nothing to schedule: the project has no schedule: entries and no monitor with a "
                          "schedule: (fix: add e.g. `schedule: {nightly: \"0 2 * * *\"}` to datamill.yaml)")
    scheduler = Scheduler(found, on_start=lambda j: _say(f"{j.name}: started ({j.description})"),
                          on_run=lambda r: _say(f"{r.job}: {'ok' if r.ok else 'failed'}: {r.detail}",
                                                "" if r.ok else "red"))
    table = Table(title=f"jobs of {project.config.name}", title_justify="left")
    for col in ("job", "cron", "what", "next run"):
        table.add_column(col)
    for at, j in scheduler.upcoming():
        table.add_row(j.name, j.cron, j.description, at.strftime("%Y-%m-%d %H:%M:%S"))
    console.print(whole(table))
    if list_only:
        return

    def stop(signum: int, frame: Any) -> None:
        if scheduler.stopping and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        running = scheduler.running
        _say(f"stopping: {'letting ' + running.name + ' finish' if running else 'no job is running'}")
        scheduler.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _say(f"scheduler started: {len(found)} job{'s' * (len(found) != 1)}; SIGTERM or Ctrl-C stops it")
    ran = scheduler.run()
    failed = sum(1 for r in scheduler.runs if not r.ok)
    _say(f"scheduler stopped after {ran} job run{'s' * (ran != 1)} ({failed} failed)")
