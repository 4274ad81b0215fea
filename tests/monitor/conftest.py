"""Monitor test fixtures.

- A real project with a model trained by ``datamill train`` (so its reference is
  kept), and a real prediction log: the model ``churn_model`` learns from
  ``customers`` (age: numbers, visits: integers, plan: categories); predictions
  are written to ``predictions_log`` by :class:`~datamill.serve.predlog.PredictionLog`
  itself, as the server writes them.
- For reports, history and live performance: a real storage per backend, the
  DuckDB engine, a logged prediction history and drift results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datamill.engine.duckdb import DuckDBEngine
from datamill.monitor.result import DriftResult, FeatureDrift
from datamill.registry import ModelVersion
from datamill.serve.predlog import PREDICTION_SCHEMA
from datamill.storage import Storage

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

DAY0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["lakehouse", "duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """The history and the label join on real storages (each test on a fresh place)."""
    from tests.storage.conftest import make_store

    s = make_store(request.param, tmp_path, request)
    yield s
    s.close()


@pytest.fixture
def engine() -> Iterator[DuckDBEngine]:
    with DuckDBEngine() as e:
        yield e


def model_version(metric: str = "roc_auc", test_score: float = 0.9, task: str = "binary", version: int = 3) -> ModelVersion:
    """A registered version as the registry returns it: its lineage tags carry the test metric."""
    tags = {"datamill.metric": metric, "datamill.test_score": str(test_score), "datamill.task": task}
    return ModelVersion("churn", version, "champion", "run1", f"models:/churn/{version}", tags)


def log_rows(rows: list[dict]) -> pa.Table:
    """Prediction-log rows (the server's shape: inputs, prediction and probabilities as JSON text)."""
    out = []
    for r in rows:
        out.append({"request_id": r["request_id"], "ts": r["ts"], "model": r.get("model", "churn"),
                    "version": r.get("version", 3), "latency_ms": 1.0, "inputs": json.dumps(r["inputs"]),
                    "prediction": json.dumps(r["prediction"]),
                    "probabilities": None if r.get("probabilities") is None else json.dumps(r["probabilities"])})
    return pa.Table.from_pylist(out, schema=PREDICTION_SCHEMA)


def churn_log(days: int = 3, per_day: int = 60, seed: int = 0) -> tuple[pa.Table, dict[int, int]]:
    """A model that gets worse day by day: the log, and the true label of each customer."""
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    cid = 0
    for day in range(days):
        for i in range(per_day):
            y = int(rng.integers(0, 2))
            noise = 0.15 + 0.3 * day  # later days: probabilities less tied to the truth
            p1 = float(np.clip(0.5 + (0.4 if y else -0.4) * (1 - noise) + rng.normal(0, noise), 0.01, 0.99))
            rows.append({"request_id": f"r{cid}", "ts": DAY0 + timedelta(days=day, minutes=i),
                         "inputs": {"customer_id": cid, "age": 30 + i % 40}, "prediction": int(p1 >= 0.5),
                         "probabilities": [1 - p1, p1]})
            truth[cid] = y
            cid += 1
    return log_rows(rows), truth


def drift_result(*, computed_at: str = "2024-03-03T12:00:00+00:00", shift: float = 1.0, version: int = 3) -> DriftResult:
    """A drift result shaped as drift's ``detect`` returns it (Contract 2).

    ks and chi2 decide by p-value (drifted when ``p < threshold``), psi by distance (``statistic >= threshold``).
    Numeric bins: ``counts`` has ``len(edges) + 1`` entries, the first and last for rows below and above the edges.
    """
    edges = [float(e) for e in np.linspace(23, 73, 11)]
    ref_counts = [int(1000 * np.exp(-((i - 6) ** 2) / 8)) for i in range(12)]
    cur_counts = [int(1000 * np.exp(-((i - 6 - 3 * shift) ** 2) / 8)) for i in range(12)]
    age_p = 0.5 * 10 ** (-8 * shift)
    age = FeatureDrift("age", "numeric", "ks", 0.05 + 0.3 * shift, age_p, 0.05, age_p < 0.05,
                       {"ks": 0.05 + 0.3 * shift, "ks_pvalue": age_p, "psi": 0.02 + 0.5 * shift,
                        "wasserstein": 0.1 * shift},
                       0.01, 0.01 + 0.1 * shift, [], {"edges": edges, "counts": ref_counts},
                       {"edges": edges, "counts": cur_counts})
    income_edges = [0, 1e4, 2e4, 4e4, 8e4, 1.6e5]
    income = FeatureDrift("income", "numeric", "psi", 0.03, None, 0.2, False, {"psi": 0.03, "ks": 0.02}, 0.0, 0.0,
                          [], {"edges": income_edges, "counts": [0, 100, 300, 400, 150, 50, 0]},
                          {"edges": income_edges, "counts": [0, 110, 290, 390, 160, 50, 0]})
    plan_p = 0.3 * 10 ** (-20 * shift)
    plan = FeatureDrift("plan", "categorical", "chi2", 40.0 * shift + 1, plan_p, 0.05, plan_p < 0.05,
                        {"chi2": 40.0 * shift + 1, "chi2_pvalue": plan_p, "jensenshannon": 0.2 * shift}, 0.0, 0.0,
                        ["platinum"] if shift else [], {"values": {"basic": 500, "pro": 300, "team": 200}},
                        {"values": {"basic": 300, "pro": 300, "team": 200, **({"platinum": 200} if shift else {})}})
    pred = FeatureDrift("prediction", "prediction", "psi", 0.05 + 0.2 * shift, None, 0.2, 0.05 + 0.2 * shift >= 0.2,
                        {"psi": 0.05 + 0.2 * shift}, 0.0, 0.0, [], {"values": {"0": 700, "1": 300}},
                        {"values": {"0": 700 - 300 * shift, "1": 300 + 300 * shift}})
    features = sorted([age, income, plan], key=lambda f: (not f.drifted, -f.severity))
    n = sum(f.drifted for f in features)
    return DriftResult("churn", version, "champion", "last 1000 rows of predictions_log", 10_000, 1000, features, pred,
                       n / 3, n / 3 >= 0.5, computed_at, [f"{n} of 3 features drifted"],
                       {"ks": 0.05, "chi2": 0.05, "psi": 0.2, "share": 0.5})
