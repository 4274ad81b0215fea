"""A logged model is self-contained: pinned requirements of what its pickle imports, and datamill's own code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datamill.ml import fit
from datamill.ml._requirements import code_modules, pickled_modules, requirements
from tests.ml.conftest import FakeClock


def _versions(pins: list[str]) -> dict[str, str]:
    return dict(pin.split("==") for pin in pins)


@pytest.fixture(scope="module")
def dated_frame() -> pd.DataFrame:
    """A date column, so the pipeline holds datamill's DateParts."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "plan": rng.choice(["a", "b"], 200),
                          "signup": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, 200), unit="D")})
    frame["churned"] = np.where(frame.x + (frame.plan == "a") + frame.signup.dt.month / 12 > 1.0, "yes", "no")
    return frame


def _pipeline(frame: pd.DataFrame, candidate: str) -> object:
    return fit(frame, "churned", candidates=[candidate], cv=2, tune_top=0, ensemble=False, evaluate=False,
               tracking_uri=False, time_budget=60, clock=FakeClock()).best_pipeline


def test_datamill_code_and_pinned_libraries(dated_frame: pd.DataFrame) -> None:
    import sklearn

    modules = pickled_modules(_pipeline(dated_frame, "logistic"))
    assert "datamill.ml.features" in modules  # DateParts, by reference
    files, imported = code_modules(modules)
    assert {"datamill", "datamill.exceptions", "datamill.ml", "datamill.ml.features"} <= set(files)
    assert "datamill.ml.train" not in files and "datamill.project" not in files  # only what loading imports
    pins = _versions(requirements(modules | imported))
    assert pins["scikit-learn"] == sklearn.__version__
    for name in ("mlflow", "cloudpickle", "numpy", "pandas", "scipy", "pydantic"):  # pydantic: datamill.ml's spec
        assert name in pins, name
    assert "datamill" not in pins and "lightgbm" not in pins and "torch" not in pins


def test_lightgbm_and_torch_are_pinned_when_the_model_holds_them(dated_frame: pd.DataFrame) -> None:
    import lightgbm
    import torch
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from datamill.ml.torch_mlp import TorchMLPClassifier

    gbm = pickled_modules(_pipeline(dated_frame, "lightgbm"))
    assert _versions(requirements(gbm))["lightgbm"] == lightgbm.__version__
    X = np.random.default_rng(0).normal(size=(60, 3))  # noqa: N806
    mlp = make_pipeline(StandardScaler(), TorchMLPClassifier(hidden=(4,), max_epochs=2)).fit(X, (X[:, 0] > 0).astype(int))
    modules = pickled_modules(mlp)
    files, imported = code_modules(modules)
    assert "datamill.ml.torch_mlp" in files
    assert _versions(requirements(modules | imported))["torch"] == torch.__version__


@pytest.mark.slow
def test_the_model_loads_in_a_fresh_venv_made_from_its_requirements_alone(dated_frame: pd.DataFrame,
                                                                          tmp_path: Path) -> None:
    from datamill.ml.tracking import project_tracking
    from datamill.registry import ModelStore

    uri, _ = project_tracking(tmp_path)
    result = fit(dated_frame, "churned", candidates=["logistic"], cv=2, tune_top=0, ensemble=False, evaluate=False,
                 tracking_uri=uri, time_budget=60, clock=FakeClock())
    store = ModelStore(uri)
    folder = store.download(store.register("churn", result.model_uri))
    assert (folder / "code" / "datamill" / "ml" / "features.py").is_file()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r",
                              str(folder / "requirements.txt")], capture_output=True, text=True, env=env, timeout=1200)
    assert install.returncode == 0, install.stderr[-3000:]
    rows = dated_frame.drop(columns="churned").head(20)
    (tmp_path / "rows.json").write_text(rows.assign(signup=rows.signup.astype(str)).to_json(orient="records"))
    script = (
        "import json, sys, mlflow.sklearn, pandas as pd\n"
        f"rows = pd.DataFrame(json.load(open({str(tmp_path / 'rows.json')!r})))\n"
        "rows['signup'] = pd.to_datetime(rows['signup'])\n"
        f"model = mlflow.sklearn.load_model({str(folder)!r})\n"
        "print(json.dumps({'predictions': model.predict(rows).tolist(),\n"
        "                  'proba': model.predict_proba(rows)[:, 1].tolist(),\n"
        "                  'datamill': sys.modules['datamill'].__file__}))\n"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["datamill"].startswith(str(folder / "code"))  # the model's own copy: nothing else was installed
    assert loaded["predictions"] == result.predict(rows).tolist()
    assert loaded["proba"] == pytest.approx(result.predict_proba(rows)[:, 1].tolist(), abs=1e-9)
