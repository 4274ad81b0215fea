"""MLflow tracking: one parent run per training, nested runs per candidate and trial.

The embedded default keeps MLflow's store in the project
(``sqlite:///<project>/.datamill/mlflow.db``, artifacts in
``.datamill/mlartifacts``); ``tracking_uri`` points at a server instead.
MLflow is imported only here, and kept quiet: its messages go to logging at
WARNING and above, never to stdout.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from datamill.exceptions import ModelError

__all__ = ["NullTracker", "Tracker", "default_tracking", "project_tracking"]

_TEMP_ROOT: Path | None = None


def _quiet() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    for name in ("mlflow", "mlflow.store.db.utils", "mlflow.sklearn", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.ERROR)


def project_tracking(root: Path) -> tuple[str, str]:
    """The embedded store of a project: (tracking URI, artifact location)."""
    folder = root / ".datamill"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'mlflow.db').resolve()}", (folder / "mlartifacts").resolve().as_uri()


def default_tracking() -> tuple[str, str]:
    """Where ``fit`` without a project tracks: one temporary store per process."""
    global _TEMP_ROOT
    if _TEMP_ROOT is None:
        _TEMP_ROOT = Path(tempfile.mkdtemp(prefix="datamill-mlflow-"))
    return project_tracking(_TEMP_ROOT)


def _flat(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    return {f"{prefix}{k}": str(v)[:500] for k, v in params.items()}


class NullTracker:
    """Tracking switched off (``tracking_uri=False``)."""

    run_id: str | None = None
    uri: str | None = None
    finish_seconds = 0.0  # what :meth:`finish` is expected to take: the time budget keeps it

    def start(self, name: str, params: dict[str, Any], tags: dict[str, str]) -> None: ...
    def candidate(self, result: Any, phase: str) -> None: ...
    def trial(self, result: Any, trial: Any) -> None: ...
    def finish(self, **kwargs: Any) -> None: ...
    def fail(self, message: str) -> None: ...


class Tracker(NullTracker):
    """Writes one training to MLflow as it goes, so even a killed training leaves its trials."""

    # logging the model (signature, pickle, requirements) and closing the run; measured
    # 0.3-0.7 s here, kept with a margin for a busy machine
    finish_seconds = 2.0

    def __init__(self, uri: str, experiment: str, artifact_location: str | None = None) -> None:
        _quiet()
        from mlflow import MlflowClient

        # imported now, while the time is counted before the search, so logging at the end stays short
        import mlflow.models  # noqa: F401
        import mlflow.sklearn  # noqa: F401

        _quiet()  # again: importing mlflow configures its loggers

        self.uri = uri
        try:
            self.client = MlflowClient(tracking_uri=uri)
            found = self.client.get_experiment_by_name(experiment)
            self.experiment_id = (found.experiment_id if found is not None else
                                  self.client.create_experiment(experiment, artifact_location=artifact_location))
        except Exception as exc:  # unreachable server, broken store: one clear message
            raise ModelError(f"MLflow tracking at {uri} failed: {type(exc).__name__}: {exc} "
                             "(fix: check tracking_uri, or pass tracking_uri=False to train without tracking)") from exc
        self.run_id = None

    def _run(self, name: str, params: dict[str, Any], metrics: dict[str, float], tags: dict[str, str],
             steps: dict[str, list[float]] | None = None, parent: bool = False) -> str:
        from mlflow.entities import Metric, Param, RunTag

        all_tags = dict(tags)
        if not parent:
            all_tags["mlflow.parentRunId"] = self.run_id or ""
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v == v]
        for key, values in (steps or {}).items():
            batch += [Metric(key, float(v), now, i) for i, v in enumerate(values)]
        self.client.log_batch(run.info.run_id, metrics=batch, params=[Param(k, v) for k, v in _flat(params).items()],
                              tags=[RunTag(k, v) for k, v in all_tags.items()])
        if not parent:
            self.client.set_terminated(run.info.run_id, "FINISHED" if tags.get("state", "ok") != "failed" else "FAILED")
        return run.info.run_id

    def start(self, name: str, params: dict[str, Any], tags: dict[str, str]) -> None:
        """Open the parent run."""
        self.run_id = self._run(name, params, {}, {**tags, "datamill.kind": "training"}, parent=True)

    def candidate(self, result: Any, phase: str) -> None:
        """A nested run for a candidate's CV with its defaults, or its tuned result."""
        metrics = {"cv_mean": result.cv_mean, "cv_std": result.cv_std, "fit_seconds": result.fit_seconds}
        if result.test_score is not None:
            metrics["test_score"] = result.test_score
        tags = {"datamill.kind": "candidate", "datamill.candidate": result.name, "datamill.phase": phase,
                "state": "failed" if result.error else "ok"}
        if result.error:
            tags["error"] = result.error[:500]
        self._run(f"{result.name} ({phase})", result.params, metrics, tags, {"cv_fold_score": result.scores})

    def trial(self, result: Any, trial: Any) -> None:
        """A nested run for one Optuna trial: its parameters, per-fold scores, state."""
        import numpy as np

        scores = trial.user_attrs.get("scores", [])
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() if trial.datetime_complete else 0.0
        metrics = {"cv_mean": float(np.mean(scores)) if scores else float("nan"),
                   "cv_std": float(np.std(scores)) if scores else float("nan"), "seconds": seconds}
        tags = {"datamill.kind": "trial", "datamill.candidate": result.name, "datamill.trial": str(trial.number),
                "datamill.trial_state": trial.state.name.lower(), "state": "ok"}
        self._run(f"{result.name} trial {trial.number}", trial.user_attrs.get("params", trial.params), metrics, tags,
                  {"cv_fold_score": scores})

    def finish(self, *, metrics: dict[str, float], tags: dict[str, str], pipeline: Any = None,
               example: Any = None, report: Path | None = None, evaluation: Any = None) -> None:
        """Log the test metrics, the evaluation report and the best model; close the parent run."""
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if v == v],
                              tags=[RunTag(k, v) for k, v in tags.items()])
        if report is not None and Path(report).exists():
            self.client.log_artifact(self.run_id, str(report), artifact_path="evaluation")
        if evaluation is not None:
            self._log_evaluation(evaluation)
        if pipeline is not None:
            self._log_model(pipeline, example)
        self.client.set_terminated(self.run_id, "FINISHED")

    def _log_evaluation(self, evaluation: Any) -> None:
        import json
        from dataclasses import asdict, is_dataclass

        data = evaluation.to_dict() if hasattr(evaluation, "to_dict") else asdict(evaluation) if is_dataclass(evaluation) else None
        if data is not None:
            self.client.log_text(self.run_id, json.dumps(data, default=str, indent=1), "evaluation/evaluation.json")

    def _log_model(self, pipeline: Any, example: Any) -> None:
        import mlflow
        import sklearn
        from mlflow.models import infer_signature

        signature = infer_signature(example, pipeline.predict(example))
        requirements = [f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}", "pandas", "numpy"]
        try:
            import lightgbm

            requirements.append(f"lightgbm=={lightgbm.__version__}")
        except ImportError:
            pass
        with _tracking_uri(self.uri), mlflow.start_run(run_id=self.run_id, experiment_id=self.experiment_id):
            # cloudpickle: skops' loader rejects datamill's own transformers, and importing it costs seconds
            info = mlflow.sklearn.log_model(pipeline, name="model", signature=signature, input_example=example,
                                            pip_requirements=requirements, serialization_format="cloudpickle")
        self.client.set_tag(self.run_id, "datamill.model_uri", info.model_uri)
        self.model_uri = info.model_uri

    def fail(self, message: str) -> None:
        """Close the parent run as failed, with the reason."""
        if self.run_id is not None:
            self.client.set_tag(self.run_id, "error", message[:500])
            self.client.set_terminated(self.run_id, "FAILED")


@contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri`` for a moment, restoring what the caller had."""
    import mlflow

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)
