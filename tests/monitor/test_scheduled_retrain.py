"""A monitor on a schedule: ``datamill schedule`` runs its policy, which retrains, gates and promotes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.monitor.loop_project import audit, champion, make_project, monitor_yaml


def test_datamill_schedule_runs_a_monitors_policy(tmp_path: Path) -> None:
    monitors = monitor_yaml(extra="    schedule: '* * * * * */2'\n").replace("when: [drift]", "when: [schedule]")
    project = make_project(tmp_path / "shop", monitors)
    env = {**os.environ, "COLUMNS": "250"}
    out_file = tmp_path / "out"
    with open(out_file, "wb") as out, open(tmp_path / "err", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "datamill", "schedule"], cwd=project, env=env, stdout=out,
                                stderr=err)
    try:
        deadline = time.monotonic() + 180
        while "monitor:watch: ok" not in out_file.read_text():
            assert proc.poll() is None, out_file.read_text() + (tmp_path / "err").read_text()
            assert time.monotonic() < deadline, "no scheduled pass:\n" + out_file.read_text()
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=240) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out_file.read_text()
    assert "monitor:watch: started (monitor watch (retrain on schedule))" in text
    assert "monitor:watch: ok: promoted: churn v2 (champion v1; trigger schedule;" in text
    first = audit(project)[0]
    assert (first["trigger"], first["outcome"], first["by"]) == ("schedule", "promoted", "datamill schedule")
    assert champion(project) >= 2
