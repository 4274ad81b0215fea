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

__all__ = ["NullTracker", "Tracker", "default_tracking", "prepare_store", "project_tracking", "quiet_mlflow"]

_TEMP_ROOT: Path | None = None


def quiet_mlflow() -> None:
    """Keep MLflow quiet: no progress bars, no telemetry, its loggers at ERROR."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    for name in ("mlflow", "mlflow.store.db.utils", "mlflow.sklearn", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.ERROR)


_quiet = quiet_mlflow
_PREPARED: set[str] = set()


def prepare_store(uri: str) -> None:
    """Switch a SQLite store to WAL (once per process), so readers never block its writer.

    MLflow's SQLite sessions already wait 20 s for a lock; in WAL mode a reader
    (a server polling an alias, the UI) never holds the writer up, and the writer
    never holds readers up. The mode is kept in the file; a store that cannot be
    switched now (busy, read-only) stays as it is.
    """
    import sqlite3

    if not uri.startswith("sqlite:///") or uri in _PREPARED:
        return
    path = Path(uri[len("sqlite:///"):])
    if not path.exists():
        return
    try:
        con = sqlite3.connect(path, timeout=30)
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")
        finally:
            con.close()
        _PREPARED.add(uri)
    except sqlite3.Error:
        pass


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
    def check(self) -> None: ...
    def close(self) -> None: ...


class Tracker(NullTracker):
    """Writes one training to MLflow, in a background thread, so the search never waits for it.

    Importing MLflow and opening its store take seconds (a new SQLite store runs every
    schema migration; the first logged model scans the installed packages): a thread
    does all of it while the first candidates run, then writes each candidate and trial
    as it comes, in order, so even a killed training leaves what was logged by then.
    :meth:`finish` waits for everything. A store that cannot be opened is reported by
    :meth:`check` (the training calls it after the candidates' defaults) and by :meth:`finish`.
    """

    # logging the model (signature, pickle, requirements) and closing the run, once the thread
    # has warmed MLflow's caches; measured 0.3-0.7 s here, kept with a margin for a busy machine
    _FINISH_SECONDS = 1.5
    _FINISH_PER_OPEN = 0.25  # a busy machine slows both: opening took 4-20 s where the finish took 0.4-1.5 s

    def __init__(self, uri: str, experiment: str, artifact_location: str | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        # scikit-learn tells data frames apart by looking polars up in sys.modules, and MLflow imports
        # polars: seen half-imported from the search's thread, it breaks a fit. Import it here, first.
        try:
            import polars  # noqa: F401
        except ImportError:
            pass
        self.uri = uri
        self.run_id: str | None = None
        self.model_uri: str | None = None
        self.open_seconds: float | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="datamill-mlflow")
        self._opened = self._pool.submit(self._open, experiment, artifact_location)
        self._pending: list[Any] = []

    @property
    def finish_seconds(self) -> float:  # type: ignore[override]
        """What :meth:`finish` is expected to take, from how long the store took to open (once it has)."""
        if self.open_seconds is None:
            return self._FINISH_SECONDS
        return max(self._FINISH_SECONDS, self._FINISH_PER_OPEN * self.open_seconds)

    def _open(self, experiment: str, artifact_location: str | None) -> None:
        started = time.monotonic()
        _quiet()
        from mlflow import MlflowClient

        import mlflow.models  # noqa: F401
        import mlflow.sklearn  # noqa: F401

        _quiet()  # again: importing mlflow configures its loggers
        try:
            _fresh_store(self.uri, artifact_location)
            prepare_store(self.uri)
            self.client = MlflowClient(tracking_uri=self.uri)
            found = self.client.get_experiment_by_name(experiment)
            self.experiment_id = (found.experiment_id if found is not None else
                                  self.client.create_experiment(experiment, artifact_location=artifact_location))
        except Exception as exc:  # unreachable server, broken store: one clear message
            raise ModelError(f"MLflow tracking at {self.uri} failed: {type(exc).__name__}: {exc} "
                             "(fix: check tracking_uri, or pass tracking_uri=False to train without tracking)") from exc
        self.open_seconds = time.monotonic() - started
        _warm()

    def _submit(self, work: Any, *args: Any) -> None:
        self._pending.append(self._pool.submit(self._after_open, work, *args))

    def _after_open(self, work: Any, *args: Any) -> Any:
        if self._opened.exception() is not None:
            return None  # reported by check() and finish()
        return work(*args)

    def close(self) -> None:
        """Stop without logging anything more (a training that failed before it started)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def check(self) -> None:
        """Raise the :class:`ModelError` of a store that could not be opened (waits for the opening)."""
        exc = self._opened.exception()
        if exc is not None:
            raise exc

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

        def start() -> None:
            self.run_id = self._run(name, params, {}, {**tags, "datamill.kind": "training"}, parent=True)

        self._submit(start)

    def candidate(self, result: Any, phase: str) -> None:
        """A nested run for a candidate's CV with its defaults, or its tuned result."""
        metrics = {"cv_mean": result.cv_mean, "cv_std": result.cv_std, "fit_seconds": result.fit_seconds}
        if result.test_score is not None:
            metrics["test_score"] = result.test_score
        tags = {"datamill.kind": "candidate", "datamill.candidate": result.name, "datamill.phase": phase,
                "state": "failed" if result.error else "ok"}
        if result.error:
            tags["error"] = result.error[:500]
        # what the result holds now: it may change before the thread writes it
        self._submit(self._run, f"{result.name} ({phase})", dict(result.params), metrics, tags,
                     {"cv_fold_score": list(result.scores)})

    def trial(self, result: Any, trial: Any) -> None:
        """A nested run for one Optuna trial: its parameters, per-fold scores, state."""
        import numpy as np

        scores = list(trial.user_attrs.get("scores", []))
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() if trial.datetime_complete else 0.0
        metrics = {"cv_mean": float(np.mean(scores)) if scores else float("nan"),
                   "cv_std": float(np.std(scores)) if scores else float("nan"), "seconds": seconds}
        tags = {"datamill.kind": "trial", "datamill.candidate": result.name, "datamill.trial": str(trial.number),
                "datamill.trial_state": trial.state.name.lower(), "state": "ok"}
        self._submit(self._run, f"{result.name} trial {trial.number}",
                     dict(trial.user_attrs.get("params", trial.params)), metrics, tags, {"cv_fold_score": scores})

    def finish(self, *, metrics: dict[str, float], tags: dict[str, str], pipeline: Any = None,
               example: Any = None, report: Path | None = None, evaluation: Any = None) -> None:
        """Log the test metrics, the evaluation report and the best model; close the parent run (waits for all)."""
        self._submit(self._finish, metrics, tags, pipeline, example, report, evaluation)
        self._drain()

    def _finish(self, metrics: dict[str, float], tags: dict[str, str], pipeline: Any, example: Any,
                report: Path | None, evaluation: Any) -> None:
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

    def _drain(self) -> None:
        """Wait for every write; the first error (the store's, or a write's) is raised here."""
        try:
            self.check()
            for future in self._pending:
                future.result()
        finally:
            self._pending = []
            self._pool.shutdown(wait=True)

    def _log_evaluation(self, evaluation: Any) -> None:
        import json
        from dataclasses import asdict, is_dataclass

        data = evaluation.to_dict() if hasattr(evaluation, "to_dict") else asdict(evaluation) if is_dataclass(evaluation) else None
        if data is not None:
            self.client.log_text(self.run_id, json.dumps(data, default=str, indent=1), "evaluation/evaluation.json")

    def _log_model(self, pipeline: Any, example: Any) -> None:
        """Log the pipeline with everything loading it needs: pinned requirements and datamill's own code."""
        import mlflow
        from mlflow.models import infer_signature

        from datamill.ml import _requirements

        signature = infer_signature(example, pipeline.predict(example))
        modules = _requirements.pickled_modules(pipeline)
        files, imported = _requirements.code_modules(modules)
        requirements = _requirements.requirements(modules | imported)
        with tempfile.TemporaryDirectory(prefix="datamill-code-") as folder:
            code = [str(_requirements.write_code(files, Path(folder)))] if files else None
            with _tracking_uri(self.uri), mlflow.start_run(run_id=self.run_id, experiment_id=self.experiment_id):
                # cloudpickle: skops' loader rejects datamill's own transformers, and importing it costs seconds
                info = mlflow.sklearn.log_model(pipeline, name="model", signature=signature, input_example=example,
                                                pip_requirements=requirements, code_paths=code,
                                                serialization_format="cloudpickle")
        self.client.set_tag(self.run_id, "datamill.model_uri", info.model_uri)
        self.model_uri = info.model_uri

    def fail(self, message: str) -> None:
        """Close the parent run as failed, with the reason (waits for the writes before it)."""

        def fail() -> None:
            if self.run_id is not None:
                self.client.set_tag(self.run_id, "error", message[:500])
                self.client.set_terminated(self.run_id, "FAILED")

        try:
            self._submit(fail)
        except RuntimeError:  # the run was closed already (the error came after finish): nothing to mark
            return
        try:
            self._drain()
        except Exception:  # the training's own error is the one to raise
            pass


def _warm() -> None:
    """Fill MLflow's slow caches now, in the background, so logging the model at the end is quick.

    The first logged model maps every installed package to its modules (to check the
    model's requirements: seconds in a big environment) and imports the schema code.
    """
    try:
        import pandas as pd
        from mlflow.models import infer_signature
        from mlflow.utils import requirements_utils

        requirements_utils._init_packages_to_modules_map()  # internal: absent in another MLflow, no harm
        from datamill.ml._requirements import distributions

        distributions()
        infer_signature(pd.DataFrame({"x": [1.0], "t": ["a"]}), pd.Series([0]))
    except Exception:  # a cache left cold costs time at the end, nothing else
        pass


def _template() -> Path:
    """An empty SQLite store of this MLflow version, made once per machine (its migrations take seconds)."""
    import mlflow
    from mlflow import MlflowClient

    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "datamill"
    template = folder / f"mlflow-{mlflow.__version__}-empty.db"
    if not template.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{template.name}.{os.getpid()}.tmp"
        MlflowClient(tracking_uri=f"sqlite:///{tmp}").search_experiments()
        os.replace(tmp, template)
    return template


def _fresh_store(uri: str, artifact_location: str | None) -> None:
    """A new SQLite store begins as a copy of the empty template, so MLflow finds its schema up to date.

    Anything that goes wrong leaves the store to MLflow, which creates it as usual.
    """
    import shutil
    import sqlite3

    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri[len("sqlite:///"):])
    if path.exists() or not path.parent.is_dir():
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(_template(), tmp)
        root = artifact_location or (Path.cwd() / "mlruns").as_uri()
        with sqlite3.connect(tmp) as con:  # the Default experiment's artifacts: where this store's would go
            con.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0", (f"{root}/0",))
        con.close()
        try:
            os.link(tmp, path)  # never over a store another process made meanwhile
        except FileExistsError:
            pass
    except (OSError, sqlite3.Error):
        pass
    finally:
        tmp.unlink(missing_ok=True)


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
