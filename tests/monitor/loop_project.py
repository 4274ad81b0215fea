"""A real project for the continuous-training loop: CSV sources, a fast model, a monitor, a real registry.

A helper module, not a conftest (tests/monitor/conftest.py holds the drift tests' fixtures).

:func:`make_project` writes it, trains version 1 with ``datamill run`` and
makes it the champion through the CLI; the tests then drive ``datamill
retrain``, ``rollback`` and ``serve`` as subprocesses, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

DATAMILL = [sys.executable, "-m", "datamill"]

MODEL = ("models:\n  churn:\n    from: customers\n    target: churned\n    candidates: [logistic]\n    cv: 2\n"
         "    ensemble: false\n    tune: {top: 0, timeout: 60s}\n")


def cli(project: Path, *args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "250", **(env or {})}
    return subprocess.run([*DATAMILL, "-p", str(project), *args], capture_output=True, text=True, env=environment,
                          timeout=timeout)


def write_rows(path: Path, n: int, *, seed: int, flip: bool = False, constant: bool = False,
               drop: str | None = None) -> None:
    """Customers whose churn follows visits (``flip``: the opposite way; ``constant``: nobody churns)."""
    rng = np.random.default_rng(seed)
    columns = [c for c in ("age", "visits", "plan", "churned") if c != drop]
    lines = [",".join(columns)]
    for _ in range(n):
        age, visits = int(rng.integers(18, 80)), int(rng.integers(0, 30))
        churned = 0 if constant else int((visits + rng.normal(0, 5) > 15) != flip)
        row = {"age": age, "visits": visits, "plan": rng.choice(["a", "b"]), "churned": churned}
        lines.append(",".join(str(row[c]) for c in columns))
    path.write_text("\n".join(lines) + "\n")


def monitor_yaml(gate: str = "{min_gain: 0.0, floor: 0.5}", extra: str = "") -> str:
    return ("monitors:\n  watch:\n    model: churn@champion\n    retrain:\n      when: [drift]\n"
            f"      gate: {gate}\n      holdout: {{dataset: recent}}\n{extra}")


def write_config(project: Path, monitors: str) -> None:
    (project / "datamill.yaml").write_text(
        "name: shop\nsources:\n  customers: {type: csv, path: data/customers.csv}\n"
        "  recent: {type: csv, path: data/recent.csv}\n" + MODEL + monitors)


def make_project(root: Path, monitors: str | None = None) -> Path:
    """A project with churn v1 trained by `datamill run` and promoted to champion."""
    (root / "data").mkdir(parents=True)
    write_rows(root / "data" / "customers.csv", 200, seed=0)
    write_rows(root / "data" / "recent.csv", 120, seed=1)
    write_config(root, monitor_yaml() if monitors is None else monitors)
    run = cli(root, "run")
    assert run.returncode == 0, run.stdout + run.stderr
    promote = cli(root, "models", "promote", "churn", "1")
    assert promote.returncode == 0, promote.stdout + promote.stderr
    return root


def champion(project: Path) -> int:
    from datamill.registry import ModelStore

    return ModelStore.for_project(project).resolve("churn@champion").version


def audit(project: Path) -> list[dict]:
    from datamill import Project

    with Project(project) as p:
        if "monitor_audit" not in p.tables():
            return []
        return sorted(p.table("monitor_audit").to_pylist(), key=lambda r: r["at"])
