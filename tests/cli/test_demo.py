"""The demo's ending: the web UI's command and the address of the business dashboard; ``--ui`` runs it until Ctrl-C.

The whole demo (which prints this ending, and with ``--ui`` starts the UI) runs
in tests/cli/test_cli.py::test_demo_end_to_end; these check the ending itself
on the demo's real project file, and the UI started and stopped as ``--ui`` does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from datamill.cli.demo_ui import print_ui_ending
from datamill.config import load_config
from datamill.demo import project_text
from tests.cli.test_cli import cli


def _demo_config(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "datamill.yaml").write_text(project_text(), encoding="utf-8")
    return load_config(folder / "datamill.yaml")[0]


def test_the_demo_ends_with_the_ui_command_and_its_business_dashboards_address(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "my demo"
    print_ui_ending(folder, _demo_config(folder))
    said = " ".join(capsys.readouterr().out.split())
    assert f"datamill -p '{folder}' ui, then open http://127.0.0.1:8765/dashboards/business" in said
    assert "web UI: the " in said and "dashboard" in said
    assert "datamill demo --ui" in said  # how to have the demo start it


def test_another_port_is_in_the_command_and_the_address(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "d"
    print_ui_ending(folder, _demo_config(folder), port=9001)
    said = " ".join(capsys.readouterr().out.split())
    assert f"datamill -p {folder} ui --port 9001, then open http://127.0.0.1:9001/dashboards/business" in said


def test_a_demo_project_made_before_the_dashboard_gets_the_uis_home_page(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "datamill.yaml").write_text("name: old\nstorage: lakehouse:./warehouse\n")
    print_ui_ending(folder, load_config(folder / "datamill.yaml")[0])
    said = " ".join(capsys.readouterr().out.split())
    assert f"datamill -p {folder} ui, then open http://127.0.0.1:8765/ " in said + " "
    assert "no business dashboard" in said


def test_demo_help_offers_ui() -> None:
    out = cli("demo", "--help")
    assert out.returncode == 0 and "--ui" in out.stdout and "--ui-port" in out.stdout


@pytest.mark.slow
def test_the_ui_runs_in_the_foreground_until_ctrl_c_sent_to_the_demo_alone(tmp_path: Path) -> None:
    from tests.services import free_port

    assert cli("init", "shop", cwd=tmp_path).returncode == 0
    port = free_port()
    # mlflow's import (as in the demo, which trains and registers a model) installs a SIGINT handler with SA_RESTART
    code = ("import sys; from pathlib import Path; import mlflow; from datamill.cli.demo_ui import serve_ui; "
            f"sys.exit(serve_ui(Path({str(tmp_path / 'shop')!r}), {port}))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "160"}, start_new_session=True)
    try:
        deadline, status = time.monotonic() + 120, None
        while status is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code
            except httpx.TransportError:
                time.sleep(0.3)
        assert status == 200, f"the UI did not answer (exit {proc.poll()})"
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the UI it started too
    assert proc.returncode == 0, out
    assert "web UI stopped" in out and "Traceback" not in out
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=5)  # the server went with it
