"""The demo's ending: where the web UI shows its business dashboard, and (``datamill demo --ui``) starting it.

By default the demo only prints the command and the address, so scripts and
tests never wait on a server; ``--ui`` runs ``datamill ui`` in the foreground
until Ctrl-C.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from datamill.cli.app import console

DASHBOARD = "business"  # the demo project's `dashboards: business` (churn by plan, revenue by month)
HOST = "127.0.0.1"
PORT = 8765  # `datamill ui`'s default


def ui_command(folder: Path, port: int = PORT) -> str:
    """The command that starts the web UI on the demo project, as a user types it."""
    return f"datamill -p {shlex.quote(str(folder))} ui" + ("" if port == PORT else f" --port {port}")


def ui_address(config: Any, port: int = PORT) -> tuple[str, str]:
    """The address to open (the business dashboard, when the project has it) and what it shows."""
    root = f"http://{HOST}:{port}"
    dashboards = getattr(config, "dashboards", None) or {}
    if DASHBOARD in dashboards:
        spec = dashboards[DASHBOARD]
        titles = [c.title for c in spec.charts if c.title]
        what = f"the {spec.title or DASHBOARD} dashboard" + (f" ({', '.join(titles)})" if titles else "")
        return f"{root}/dashboards/{DASHBOARD}", what
    return f"{root}/", ("tables, runs, models, the SQL console (this project has no business dashboard: "
                        "a demo project made before it; `datamill demo` in a new folder has one)")


def print_ui_ending(folder: Path, config: Any, *, port: int = PORT, start: bool = False) -> None:
    """The demo's last lines: the web UI's command and address (started by ``--ui``, else just said)."""
    url, what = ui_address(config, port)
    command = ui_command(folder, port)
    console.print(f"\n[bold]web UI[/]: {what}", highlight=False, soft_wrap=True)
    if start:
        console.print(f"  starting [cyan]{command}[/] at {url} (Ctrl-C stops it)", highlight=False, soft_wrap=True)
    else:
        console.print(f"  [cyan]{command}[/], then open {url}", highlight=False, soft_wrap=True)
        console.print("  (or `datamill demo --ui` next time: it starts the UI itself at the end)", highlight=False,
                      soft_wrap=True)


def serve_ui(folder: Path, port: int = PORT) -> int:
    """Run ``datamill ui`` on ``folder`` in the foreground until it stops or Ctrl-C; its exit code (0 on Ctrl-C)."""
    command = [sys.executable, "-m", "datamill", "-p", str(folder), "ui", "--host", HOST, "--port", str(port)]
    sys.stdout.flush()
    # Python's own handler again: a library imported by the demo (through mlflow) installs a SIGINT handler with
    # SA_RESTART, under which a blocking wait for the child never returns to Python to raise KeyboardInterrupt.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    server = subprocess.Popen(command)
    try:
        code = _wait(server)
    except KeyboardInterrupt:  # a terminal's Ctrl-C reaches both; a signal to us alone is passed on
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        console.print("web UI stopped")
        return 0
    finally:
        if previous is not None:  # None: the handler was not set from Python
            signal.signal(signal.SIGINT, previous)
    if code != 0:
        console.print(f"[red]the web UI stopped[/] (exit {code}); start it yourself with "
                      f"[cyan]{ui_command(folder, port)}[/]", highlight=False, soft_wrap=True)
    return code


def _wait(server: subprocess.Popen) -> int:
    """The child's exit code, waiting in slices so that a signal to us is handled within half a second."""
    while True:
        try:
            return server.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            continue
