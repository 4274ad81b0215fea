"""``datamill schedule``: jobs on cron expressions, never overlapping, stopped gracefully.

The :class:`Scheduler` runs on a fake clock (hours of schedule, no waiting);
the command runs as a real process on a cron expression with seconds, and is
stopped with SIGTERM while a job runs: the job finishes, the process exits 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from datamill.pipeline.schedule import FakeClock, Job, Scheduler

START = datetime(2024, 1, 1, 0, 0, 30, tzinfo=timezone.utc)


def test_jobs_run_when_due_in_fire_order() -> None:
    clock = FakeClock(START)
    ran: list[tuple[str, int]] = []
    jobs = [Job("two", "*/2 * * * *", lambda: ran.append(("two", clock().minute))),
            Job("three", "*/3 * * * *", lambda: ran.append(("three", clock().minute)))]
    assert Scheduler(jobs, clock=clock, wait=clock.wait).run(max_runs=6) == 6
    assert ran == [("two", 2), ("three", 3), ("two", 4), ("two", 6), ("three", 6), ("two", 8)]


def test_a_job_that_overruns_skips_the_fires_it_missed_and_never_overlaps_itself() -> None:
    clock = FakeClock(START)
    starts: list[int] = []
    active: list[int] = []

    def slow() -> str:
        assert not active, "a job started while it was still running"
        active.append(1)
        starts.append(clock().minute)
        clock.advance(5 * 60)  # runs 5 minutes on a 2-minute schedule
        active.pop()
        return "done"

    scheduler = Scheduler([Job("slow", "*/2 * * * *", slow)], clock=clock, wait=clock.wait)
    scheduler.run(max_runs=3)
    assert starts == [2, 8, 14]  # ends at 7 -> next fire 8; ends at 13 -> 14: missed fires are not made up
    assert [r.detail for r in scheduler.runs] == ["done"] * 3


def test_a_failing_job_is_recorded_and_the_schedule_goes_on() -> None:
    from datamill.exceptions import PipelineError

    clock = FakeClock(START)

    def broken() -> None:
        raise PipelineError("dataset 'x' failed")

    scheduler = Scheduler([Job("broken", "* * * * *", broken), Job("fine", "*/2 * * * *", lambda: "ok")],
                          clock=clock, wait=clock.wait)
    scheduler.run(max_runs=3)
    assert [(r.job, r.ok, r.detail) for r in scheduler.runs] == [
        ("broken", False, "dataset 'x' failed"), ("broken", False, "dataset 'x' failed"), ("fine", True, "ok")]


def test_stop_lets_the_running_job_finish_and_starts_no_other() -> None:
    clock = FakeClock(START)
    scheduler: Scheduler

    def job() -> str:
        scheduler.stop()  # SIGTERM arrives while the job runs
        clock.advance(30)
        return "finished"

    scheduler = Scheduler([Job("a", "* * * * *", job), Job("b", "* * * * *", lambda: "b")], clock=clock,
                          wait=clock.wait)
    assert scheduler.run() == 1
    assert [(r.job, r.detail) for r in scheduler.runs] == [("a", "finished")]


SLOW = '''
import time
from pathlib import Path


def build(customers):
    Path("started").write_text("1")
    time.sleep(3)
    Path("finished").write_text("1")
    return customers
'''


def _project(root: Path, schedule: str) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "customers.csv").write_text("id,visits\n1,3\n2,5\n")
    (root / "slowmod.py").write_text(SLOW)
    (root / "datamill.yaml").write_text(
        "name: shop\nsources:\n  customers: {type: csv, path: data/customers.csv}\n"
        "datasets:\n  slow: {python: 'slowmod:build', inputs: [customers]}\n" + schedule)
    return root


def test_datamill_schedule_runs_the_pipeline_and_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    project = _project(tmp_path / "shop", "schedule:\n  often: '* * * * * */2'\n")
    env = {**os.environ, "COLUMNS": "200"}
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "datamill", "schedule"], cwd=project, env=env, stdout=out,
                                stderr=err)
    try:
        deadline = time.monotonic() + 120
        while not (project / "started").exists():
            assert proc.poll() is None, (tmp_path / "out").read_text() + (tmp_path / "err").read_text()
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)  # while the job runs
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = (tmp_path / "out").read_text()
    assert (project / "finished").exists()  # the running job was let finish
    assert "often: started (datamill run)" in text and "stopping: letting often finish" in text
    assert "often: ok: run " in text and "scheduler stopped after 1 job run (0 failed)" in text
    runs = subprocess.run([sys.executable, "-m", "datamill", "runs"], cwd=project, capture_output=True, text=True,
                          env=env)
    assert runs.stdout.count(" ok ") + runs.stdout.count("│ ok") >= 1, runs.stdout


def test_datamill_schedule_lists_its_jobs_and_refuses_an_empty_schedule(tmp_path: Path) -> None:
    project = _project(tmp_path / "shop", "schedule:\n  nightly: {cron: '0 2 * * *', select: [slow]}\n")
    out = subprocess.run([sys.executable, "-m", "datamill", "schedule", "--list"], cwd=project, capture_output=True,
                         text=True, env={**os.environ, "COLUMNS": "200"}, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "nightly" in out.stdout and "0 2 * * *" in out.stdout and "datamill run --select slow" in out.stdout
    assert " 02:00:00" in out.stdout
    out = subprocess.run([sys.executable, "-m", "datamill", "schedule", "--job", "nightli"], cwd=project,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "--job nightli: no such job (did you mean 'nightly'?)" in out.stderr
    (project / "datamill.yaml").write_text((project / "datamill.yaml").read_text().split("schedule:")[0])
    out = subprocess.run([sys.executable, "-m", "datamill", "schedule"], cwd=project, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1 and "nothing to schedule" in out.stderr and "Traceback" not in out.stderr
