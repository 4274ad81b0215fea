"""Run benchmark contenders side by side, each in its own process, and report ratios.

Each contender runs in a fresh Python process (``python -m bench.NAME --one KEY``)
so its peak RSS is its own; the parent collects wall time and peak RSS and writes
a Markdown table.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"


def measure(func: Callable[[], object]) -> None:
    """Inside a child: time ``func`` and print one JSON line with seconds and peak RSS."""
    start = time.perf_counter()
    extra = func()
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "extra": extra}))


def run_child(module: str, key: str, *args: str, repeat: int = 1, python: str | Path | None = None) -> dict:
    """Run one contender ``repeat`` times in fresh processes; keep the fastest.

    ``python`` is the interpreter to run it with (default: this one), for a peer
    that needs its own virtual environment.
    """
    best: dict | None = None
    for _ in range(repeat):
        out = subprocess.run(
            [str(python or sys.executable), "-m", module, "--one", key, *args],
            capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if out.returncode != 0:
            raise RuntimeError(f"{key} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    return best


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def update_benchmarks_md(section: str, body: str) -> None:
    """Replace (or add) ``## section`` in BENCHMARKS.md."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\nEvery figure comes from one command, run on the machine it names; peers and datamill run side by side in the same run.\n"
    head = f"## {section}\n"
    if head in text:
        start = text.index(head)
        nxt = text.find("\n## ", start + len(head))
        text = text[:start] + head + body + (text[nxt:] if nxt != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + head + body
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
