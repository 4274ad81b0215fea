"""The training flow behind :func:`datamill.ml.fit`, once the data is planned.

internal: may change.
"""

from __future__ import annotations

import math
import tempfile
import time
import warnings as _warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datamill.exceptions import ModelError
from datamill.ml import _checks
from datamill.ml._search import CandidateResult, OutOfTime, Search, limit_threads
from datamill.ml.candidates import Candidate, get_candidate
from datamill.ml.features import make_features

__all__ = ["run"]

_ENSEMBLE = "ensemble"


def run(plan: Any, names: list[str], *, tracker: Any, started: float, budget: float, trials: int, tune_top: int,
        ensemble: bool, select: int | None, seed: int, progress: Any, evaluate: bool, report_path: Any,
        data_version: dict[str, Any], target: str) -> Any:
    """Defaults, tuning, ensemble, refit, test, evaluation, tracking; returns a TrainResult."""
    deadline = started + budget
    search = Search(plan.X, plan.y, plan.folds, plan.task, plan.metric,
                    lambda: make_features(plan.columns, task=plan.task, seed=seed, select=select), seed, deadline)
    tracker.start(f"train {target}", {"task": plan.task, "metric": plan.metric.name, "candidates": ",".join(names),
                                      "folds": len(plan.folds), "time_budget": budget, "trials": trials, "seed": seed,
                                      "train_rows": len(plan.X), "test_rows": len(plan.X_test), "test_digest": plan.test_digest,
                                      **{f"data.{k}": v for k, v in data_version.items()}},
                  {"datamill.target": target})
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(search.threads):
            return _steps(plan, search, names, tracker=tracker, started=started, trials=trials, tune_top=tune_top,
                          ensemble=ensemble, progress=progress, evaluate=evaluate, report_path=report_path,
                          target=target, seed=seed)
    except BaseException as exc:
        tracker.fail(f"{type(exc).__name__}: {exc}")
        raise


def _steps(plan: Any, search: Search, names: list[str], *, tracker: Any, started: float, trials: int, tune_top: int,
           ensemble: bool, progress: Any, evaluate: bool, report_path: Any, target: str, seed: int) -> Any:
    results = _defaults(search, names, tracker, progress, plan.warnings)
    results = _tune(search, results, tracker, progress, trials, tune_top, plan.warnings)
    if ensemble:
        results.append(_ensemble(search, results, tracker, progress))
    return _finish(plan, search, results, tracker=tracker, started=started, progress=progress, evaluate=evaluate,
                   report_path=report_path, target=target, seed=seed)


def _ranked(search: Search, results: list[CandidateResult]) -> list[CandidateResult]:
    ok = [r for r in results if not r.error and r.scores]
    return sorted(ok, key=lambda r: (-search.metric.sign(r.cv_mean), r.fit_seconds))


_COST = {name: i for i, name in enumerate(
    ["baseline", "logistic", "ridge", "lightgbm", "hist_gbm", "random_forest", "torch_mlp"])}


def _defaults(search: Search, names: list[str], tracker: Any, progress: Any, warnings: list[str]) -> list[CandidateResult]:
    results = []
    # the baseline first (the bar to beat), then cheap to costly, so a tight budget
    # drops the slow candidates rather than the quick strong ones
    order = sorted(names, key=lambda n: _COST.get(n, len(_COST)))
    for done, name in enumerate(order):
        progress("defaults", done, len(order), name)
        if time.monotonic() > search.deadline and results:
            warnings.append(f"time budget spent before candidate {name} ran with defaults; it was skipped")
            continue
        try:
            # the first candidate always finishes: there must be a model at the end
            result = search.defaults(get_candidate(name), may_stop=bool(results))
        except OutOfTime as exc:
            warnings.append(f"candidate {name} {exc}; it was skipped (give a bigger time budget to include it)")
            continue
        if result.error:
            warnings.append(f"candidate {name} failed: {result.error}")
        tracker.candidate(result, "defaults")
        results.append(result)
    progress("defaults", len(order), len(order), "")
    if not _ranked(search, results):
        raise ModelError("every candidate failed: " + "; ".join(f"{r.name}: {r.error}" for r in results))
    return results


def _tune(search: Search, results: list[CandidateResult], tracker: Any, progress: Any, trials: int, top: int,
          warnings: list[str]) -> list[CandidateResult]:
    chosen = [r for r in _ranked(search, results) if get_candidate(r.key).space is not None][:top]
    if not chosen:
        return results
    reserve = 2.5 * max(r.fit_seconds for r in chosen)  # the refit on all training rows
    done = 0
    for i, base in enumerate(chosen):
        left = search.deadline - time.monotonic() - reserve
        if left <= 0:
            warnings.append(f"time budget spent before tuning {base.name}; it keeps its defaults")
            continue
        share = math.ceil((trials - done) / (len(chosen) - i))

        def on_trial(result: CandidateResult, trial: Any, name: str = base.name) -> None:
            nonlocal done
            done += 1
            tracker.trial(result, trial)
            progress("tune", done, trials, f"{name} trial {trial.number}")

        search.on_trial = on_trial
        tuned = search.tune(get_candidate(base.key), base, share, left / (len(chosen) - i))
        tracker.candidate(tuned, "tuned")
        results[results.index(base)] = tuned
    progress("tune", trials, trials, "")
    return results


class _Ensemble(Candidate):
    pass


def _ensemble(search: Search, results: list[CandidateResult], tracker: Any, progress: Any) -> CandidateResult:
    """A soft-voting (averaging) ensemble of the three best non-baseline candidates."""
    members = [r for r in _ranked(search, results) if r.key != "baseline"][:3]
    progress("ensemble", 0, 1, ", ".join(m.name for m in members))

    def make(task: str, seed: int, **params: Any) -> Any:
        from sklearn.ensemble import VotingClassifier, VotingRegressor

        estimators = [(m.name, get_candidate(m.key).make(task, seed, **m.params)) for m in members]
        if task == "regression":
            return VotingRegressor(estimators, n_jobs=1)
        return VotingClassifier(estimators, voting="soft", n_jobs=1)

    candidate = _Ensemble(_ENSEMBLE, make)
    result = search.defaults(candidate)
    result.params = {m.name: m.params for m in members}
    tracker.candidate(result, "ensemble")
    progress("ensemble", 1, 1, "")
    _ENSEMBLES[id(result)] = candidate
    return result


_ENSEMBLES: dict[int, Candidate] = {}


def _candidate_of(result: CandidateResult) -> Candidate:
    return _ENSEMBLES.pop(id(result)) if result.key == _ENSEMBLE else get_candidate(result.key)


def _refit(search: Search, result: CandidateResult, candidate: Candidate, X_test: Any, y_test: Any) -> Any:  # noqa: N803
    pipeline = search.pipeline(candidate, {} if result.key == _ENSEMBLE else result.params)
    limit_threads(pipeline, 2)  # the saved model serves with the machine's threads, not the CV's one
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        pipeline.fit(search.X, search.y)
        result.test_score = search.metric.score(pipeline, X_test, y_test)
    return pipeline


def _finish(plan: Any, search: Search, results: list[CandidateResult], *, tracker: Any, started: float, progress: Any,
            evaluate: bool, report_path: Any, target: str, seed: int) -> Any:
    from datamill.ml.train import TrainResult

    ranked = _ranked(search, results)
    best = ranked[0]
    progress("refit", 0, len(ranked), best.name)
    pipeline = _refit(search, best, _candidate_of(best), plan.X_test, plan.y_test)
    for done, other in enumerate(ranked[1:], start=1):  # test scores for the others while time allows
        if other.key == _ENSEMBLE or time.monotonic() + other.fit_seconds * 1.5 > search.deadline:
            continue
        progress("refit", done, len(ranked), other.name)
        _refit(search, other, _candidate_of(other), plan.X_test, plan.y_test)
    progress("refit", len(ranked), len(ranked), "")
    plan.warnings += _checks.gap_warning(plan.metric, best.cv_mean, best.cv_std, best.test_score)
    board = leaderboard(results, plan.metric)
    out = TrainResult(board, best.name, pipeline, float(best.test_score), plan.metric.name, plan.task,
                      list(plan.X.columns), plan.warnings, tracker.run_id, tracker.uri, cv_mean=best.cv_mean,
                      cv_std=best.cv_std, test_digest=plan.test_digest)
    if evaluate:
        progress("evaluate", 0, 1, best.name)
        out.evaluation, out.report_path = _evaluate(out, plan, board, report_path, target, seed)
        progress("evaluate", 1, 1, "")
    out.seconds = round(time.monotonic() - started, 2)
    metrics = {f"test_{plan.metric.name}": out.test_score, f"cv_{plan.metric.name}_mean": best.cv_mean,
               f"cv_{plan.metric.name}_std": best.cv_std, "seconds": out.seconds}
    metrics.update({f"test_{k}": v for k, v in _numbers(getattr(out.evaluation, "metrics", {})).items()})
    progress("track", 0, 1, "")
    tracker.finish(metrics=metrics, tags={"datamill.best": best.name, "datamill.warnings": str(len(out.warnings))},
                   pipeline=pipeline, example=plan.X.head(5), report=out.report_path, evaluation=out.evaluation)
    out.model_uri = getattr(tracker, "model_uri", None)
    progress("track", 1, 1, "")
    return out


def _numbers(metrics: Any) -> dict[str, float]:
    if not isinstance(metrics, dict):
        return {}
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def leaderboard(results: list[CandidateResult], metric: Any) -> pd.DataFrame:
    """Candidates by CV score, best first; failed candidates last."""
    rows = [{"candidate": r.name, "cv_mean": r.cv_mean, "cv_std": r.cv_std,
             "test_score": r.test_score if r.test_score is not None else float("nan"),
             "fit_seconds": round(r.fit_seconds, 3), "tuned": r.tuned, "trials": r.trials,
             "params": dict(r.params), "error": r.error or ""} for r in results]
    frame = pd.DataFrame(rows)
    key = frame["cv_mean"].map(lambda v: -math.inf if v != v else metric.sign(v))
    order = np.lexsort((frame["fit_seconds"].to_numpy(), -key.to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    frame.attrs["metric"] = metric.name
    return frame


def _evaluate(out: Any, plan: Any, board: pd.DataFrame, report_path: Any, target: str, seed: int) -> tuple[Any, Any]:
    """C's evaluation and HTML report, where that module is installed; a warning if it fails."""
    try:
        from datamill.ml.evaluate import evaluate
    except ImportError:
        return None, None
    labels = sorted(pd.unique(plan.y).tolist(), key=str) if plan.task != "regression" else None
    try:
        evaluation = evaluate(out.best_pipeline, plan.X_test, plan.y_test, task=plan.task, X_train=plan.X,
                              y_train=plan.y, labels=labels, metric=plan.metric.name, seed=seed, cv_score=out.cv_mean)
    except Exception as exc:  # the model is trained; a failed chart must not lose it
        out.warnings.append(f"evaluation failed: {type(exc).__name__}: {exc}")
        return None, None
    try:
        from datamill.ml.report import write_evaluation_report
    except ImportError:
        return evaluation, None
    path = Path(report_path) if report_path else Path(tempfile.mkdtemp(prefix="datamill-eval-")) / f"{target}.html"
    rows = board.drop(columns=["params"]).assign(params=board["params"].map(str)).to_dict("records")
    try:
        written = write_evaluation_report(evaluation, rows, path, title=f"model for {target}: {out.best_name}")
    except Exception as exc:
        out.warnings.append(f"evaluation report failed: {type(exc).__name__}: {exc}")
        return evaluation, None
    return evaluation, Path(written)
