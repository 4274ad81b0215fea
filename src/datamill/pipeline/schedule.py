"""``datamill schedule``: the project's jobs on cron expressions, in one long-running process.

A :class:`Job` is a name, a cron expression and a call (a pipeline run, a
monitor's pass). :class:`Scheduler` runs them one at a time in fire order:
a job never overlaps itself (nor another: DuckDB files and the model store are
shared), and one that overruns its period skips the fires it missed rather than
running them back to back. :meth:`Scheduler.stop` (SIGTERM, Ctrl-C) lets the
running job finish and then ends the loop. The clock and the wait are
injected, so tests step through hours of schedule without waiting.

Examples
--------
>>> from datetime import datetime, timezone
>>> clock = FakeClock(datetime(2024, 1, 1, 0, 0, 30, tzinfo=timezone.utc))
>>> ran = []
>>> jobs = [Job("a", "*/2 * * * *", lambda: ran.append(clock().minute))]
>>> Scheduler(jobs, clock=clock, wait=clock.wait).run(max_runs=3)
3
>>> ran
[2, 4, 6]
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["FakeClock", "Job", "JobRun", "Scheduler", "next_fire"]


def next_fire(cron: str, after: datetime) -> datetime:
    """The first time after ``after`` that ``cron`` fires (in ``after``'s time zone)."""
    from datamill._deps import require

    croniter = require("croniter", purpose="datamill schedule").croniter
    return croniter(cron, after).get_next(datetime)


@dataclass
class Job:
    """A named call on a cron expression; the call returns a line to log (or None), raises when it fails."""

    name: str
    cron: str
    call: Callable[[], Any]
    description: str = ""


@dataclass
class JobRun:
    """One run of a job: when it was due, started and ended, and how it went."""

    job: str
    due: datetime
    started: datetime
    ended: datetime | None = None
    ok: bool = True
    detail: str = ""


class FakeClock:
    """A clock for tests: ``wait(seconds)`` moves it forward instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.now += timedelta(seconds=seconds)
        return False

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Scheduler:
    """Runs ``jobs`` on their cron expressions until :meth:`stop` (or ``max_runs`` runs).

    ``clock`` gives the (time-zone aware) time; ``wait(seconds)`` waits and
    returns True when woken early by :meth:`stop`. ``on_run`` hears of each
    job run as it ends (the CLI prints it).
    """

    jobs: list[Job]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())
    wait: Callable[[float], bool] | None = None
    on_run: Callable[[JobRun], None] | None = None
    on_start: Callable[[Job], None] | None = None
    runs: list[JobRun] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        if self.wait is None:  # in slices: a stop from a signal handler is seen within a second
            self.wait = lambda seconds: self._stop.wait(min(seconds, 1.0))
        self.running: Job | None = None

    def stop(self) -> None:
        """End the loop: a running job finishes first; no new one starts."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def upcoming(self) -> list[tuple[datetime, Job]]:
        """Each job's next fire from now, soonest first."""
        now = self.clock()
        return sorted(((next_fire(j.cron, now), j) for j in self.jobs), key=lambda p: p[0])

    def run(self, *, max_runs: int | None = None) -> int:
        """Run jobs as they fall due; return how many ran. Returns when stopped, or after ``max_runs``."""
        due = {job.name: next_fire(job.cron, self.clock()) for job in self.jobs}
        count = 0
        while not self.stopping and (max_runs is None or count < max_runs) and self.jobs:
            job = min(self.jobs, key=lambda j: (due[j.name], self.jobs.index(j)))
            delay = (due[job.name] - self.clock()).total_seconds()
            if delay > 0:
                assert self.wait is not None
                self.wait(delay)
                if self.stopping or self.clock() < due[job.name]:
                    continue  # stopped, or woken early: look again
            self._run(job, due[job.name])
            count += 1
            # from the end of this run: fires missed while it ran are skipped, never run back to back
            due[job.name] = next_fire(job.cron, self.clock())
        return count

    def _run(self, job: Job, due: datetime) -> None:
        run = JobRun(job=job.name, due=due, started=self.clock())
        self.running = job
        if self.on_start is not None:
            self.on_start(job)
        try:
            detail = job.call()
            run.detail = "" if detail is None else str(detail)
        except Exception as exc:  # noqa: BLE001  a failed job is logged; the schedule goes on
            from datamill.exceptions import DatamillError

            run.ok = False
            run.detail = str(exc) if isinstance(exc, DatamillError) else f"internal error {type(exc).__name__}: {exc}"
        finally:
            self.running = None
            run.ended = self.clock()
            self.runs.append(run)
        if self.on_run is not None:
            self.on_run(run)
