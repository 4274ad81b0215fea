"""A real project with a model trained by ``datamill train`` (so its reference is kept), and a real prediction log.

The model ``churn_model`` learns from ``customers`` (age: numbers, visits:
integers, plan: categories). Predictions are written to the project's
``predictions_log`` by :class:`~datamill.serve.predlog.PredictionLog` itself,
as the server writes them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

DATAMILL = [sys.executable, "-m", "datamill"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*DATAMILL, *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=600)


def customers(n: int, seed: int, *, age_shift: float = 0.0, plans: tuple[str, ...] = ("basic", "pro", "team"),
              shares: tuple[float, ...] = (0.5, 0.3, 0.2)) -> list[dict]:
    rng = np.random.default_rng(seed)
    age = rng.normal(45, 12, n) + age_shift
    visits = rng.integers(0, 30, n)
    plan = rng.choice(list(plans), n, p=list(shares))
    churned = (visits + rng.normal(0, 5, n) > 15).astype(int)
    return [{"age": round(float(a), 2), "visits": int(v), "plan": str(p), "churned": int(c)}
            for a, v, p, c in zip(age, visits, plan, churned, strict=True)]


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project, its model trained and registered (version 1, alias champion)."""
    root = tmp_path_factory.mktemp("monitor") / "shop"
    (root / "data").mkdir(parents=True)
    rows = customers(1500, 0)
    lines = ["age,visits,plan,churned"] + [f"{r['age']},{r['visits']},{r['plan']},{r['churned']}" for r in rows]
    (root / "data" / "customers.csv").write_text("\n".join(lines) + "\n")
    (root / "datamill.yaml").write_text(
        "name: shop\nsources:\n  customers: {type: csv, path: data/customers.csv}\n"
        "models:\n  churn_model:\n    from: customers\n    target: churned\n"
        "    candidates: [logistic]\n    cv: 2\n    tune: {top: 0, timeout: 60s}\n"
    )
    out = cli("train", "churn_model", cwd=root)
    assert out.returncode == 0, out.stdout + out.stderr
    out = cli("models", "promote", "churn_model", "1", "--alias", "champion", cwd=root)
    assert out.returncode == 0, out.stdout + out.stderr
    return root


def log_predictions(root: Path, rows: list[dict], *, model: str = "churn_model", ts: datetime | None = None) -> None:
    """Append ``rows`` (inputs, without the target) to the project's prediction log, as the server would."""
    from datamill.project import Project
    from datamill.serve.predlog import PredictionLog

    when = ts or datetime.now(UTC)
    with Project(root) as p:
        log = PredictionLog(p.storage, spill_dir=root / ".datamill" / f"spill-{uuid.uuid4().hex}", batch_rows=10_000)
        records = []
        for i, row in enumerate(rows):
            inputs = {k: v for k, v in row.items() if k != "churned"}
            records.append({"request_id": f"r{i}", "ts": when + timedelta(milliseconds=i), "model": model,
                            "version": 1, "latency_ms": 1.0, "inputs": json.dumps(inputs),
                            "prediction": json.dumps(int(row.get("churned", 0)))})
        log.append(records)
        assert log.close(timeout=60)["written"] == len(rows)
