"""The serving benchmark's load: wrk with a Lua script of JSON bodies, its figures, and a server's memory.

Pure parts (:func:`lua_script`, :func:`parse_wrk`, :func:`tree_rss_mb`) are
tested in ``tests/bench/test_serve.py``; :func:`run_wrk` and :class:`Server`
start real processes. Standard library only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARK = "WRK_JSON "  # the line the script's done() prints: everything the report needs, exactly
ERROR_KINDS = ("connect", "read", "write", "timeout", "status")

# done() runs once, after every thread, with the merged figures; latencies in microseconds
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"timeout": %%d, "status": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d, "mean_us": %%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
""" % MARK


def _long_string(text: str) -> str:
    """``text`` as a Lua long string, its level chosen so that nothing inside can close it."""
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def lua_script(bodies: Sequence[str], path: str = "/predict") -> str:
    """A wrk script that POSTs ``bodies`` (JSON text) to ``path`` in turn, and prints its figures as one JSON line.

    Each thread formats every request once, on its first call, and then cycles
    through them; ``done`` prints the line :func:`parse_wrk` reads.
    """
    if not bodies:
        raise ValueError("no bodies to send")
    items = ",\n".join(_long_string(b) for b in bodies)
    return f"""-- written by bench/serve.py: POST these JSON bodies in turn
local bodies = {{
{items}
}}
local formatted = nil
local i = 0

request = function()
  if formatted == nil then
    formatted = {{}}
    for k, b in ipairs(bodies) do
      formatted[k] = wrk.format("POST", {json.dumps(path)}, {{["Content-Type"] = "application/json"}}, b)
    end
  end
  i = i % #formatted + 1
  return formatted[i]
end
{_DONE}"""


def parse_wrk(output: str) -> dict[str, Any]:
    """The figures of one wrk run from its output: requests, req/s, p50/p90/p99/max in ms, errors by kind.

    ``errors`` counts non-2xx/3xx answers (``status``) and socket errors
    (connect, read, write, timeout) together.
    """
    lines = [line for line in output.splitlines() if line.startswith(MARK)]
    if not lines:
        raise ValueError(f"no {MARK.strip()} line in wrk's output (did the script's done() run?):\n{output[-2000:]}")
    raw = json.loads(lines[-1][len(MARK):])
    seconds = raw["duration_us"] / 1e6
    errors = {k: int(raw[k]) for k in ERROR_KINDS}
    return {
        "requests": int(raw["requests"]), "seconds": seconds,
        "rps": raw["requests"] / seconds if seconds > 0 else 0.0,
        "p50_ms": raw["p50_us"] / 1e3, "p90_ms": raw["p90_us"] / 1e3, "p99_ms": raw["p99_us"] / 1e3,
        "max_ms": raw["max_us"] / 1e3, "mean_ms": raw["mean_us"] / 1e3,
        "errors": sum(errors.values()), "errors_by_kind": errors,
    }


def wrk_command(url: str, script: Path, *, seconds: float, connections: int, core: int,
                timeout_s: float = 10.0) -> list[str]:
    """The load generator's command line: one wrk thread pinned to ``core``."""
    return ["taskset", "-c", str(core), "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            f"--timeout={timeout_s:g}s", "-s", str(script), url]


def run_wrk(command: list[str]) -> dict[str, Any]:
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {' '.join(command)}\n{out.stderr[-2000:]}")
    return parse_wrk(out.stdout)


# ------------------------------------------------------------------------- memory of a process tree
def _children(pid: int, proc: Path) -> list[int]:
    kids: list[int] = []
    try:
        for task in (proc / str(pid) / "task").iterdir():
            text = (task / "children").read_text()
            kids += [int(k) for k in text.split()]
    except OSError:
        pass
    return kids


def tree_pids(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """``pid`` and every process below it (from ``/proc/PID/task/*/children``)."""
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo += _children(p, proc)
    return seen


def rss_mb(pid: int, proc: Path = Path("/proc")) -> float:
    """``VmRSS`` of one process in MiB (0 when it is gone)."""
    try:
        for line in (proc / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def tree_rss_mb(pid: int, proc: Path = Path("/proc")) -> float:
    """The resident memory of ``pid`` and all its descendants, summed, in MiB."""
    return sum(rss_mb(p, proc) for p in tree_pids(pid, proc))


class RssSampler:
    """Samples a process tree's summed RSS in a thread; ``peak`` is the largest seen (``with`` block)."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        self.pid, self.every, self.peak = pid, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss_mb(self.pid))


# ------------------------------------------------------------------------- a server process
@dataclass
class Server:
    """A server started as its own process group (its log in a file: a pipe could fill and stall it)."""

    name: str
    command: list[str]
    url: str
    ready_path: str
    cwd: Path
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None

    def start(self) -> Server:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_ready(self, timeout: float = 300.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before it was ready:\n"
                                   f"{self.output()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} was not ready in {timeout:.0f} s:\n{self.output()[-3000:]}")

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to its whole process group, then SIGKILL after 30 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        group = os.getpgid(self.proc.pid)
        os.killpg(group, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.proc.wait()


def post_json(url: str, payload: Any, timeout: float = 60.0) -> tuple[int, Any]:
    """POST ``payload`` as JSON; (status, decoded answer or its text)."""
    data = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


def get_json(url: str, timeout: float = 30.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read())
