"""The training flow behind :func:`datamill.ml.fit`, once the data is planned.

The time budget covers all of it. The search (defaults, tuning, ensemble) ends
early enough to leave a reserve for what follows: the refit of the current
leader (its fold time, scaled to every training row), the evaluation's share
and MLflow's logging. A fit running at the search's deadline is stopped; a
refit that would overrun gives way to the next best model.

internal: may change.
"""

from __future__ import annotations

import math
import tempfile
import warnings as _warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from datamill.exceptions import ModelError
from datamill.ml import _checks
from datamill.ml._budget import Budget, OutOfTime, fit_within, never
from datamill.ml._search import CandidateResult, Search, limit_threads
from datamill.ml.candidates import Candidate, get_candidate
from datamill.ml.features import make_features

__all__ = ["run"]

_ENSEMBLE = "ensemble"
_REFIT = 1.5  # a refit on every training row, in folds' time (k/(k-1) more rows, and a margin)
_EVALUATE_SHARE, _EVALUATE_MAX = 0.1, 30.0  # of the budget kept for the evaluation, in seconds at most
_SERVE_THREADS = 2
# refits this close to the cheapest (a share of the budget, or seconds) count as cheap
_CHEAP_SHARE, _CHEAP_SECONDS = 0.01, 1.0
_BLEND_MEMBERS = 3  # the ensemble's refit is kept time for as that of the best few candidates


@dataclass
class _Reserve:
    """Seconds the search leaves for what follows it; the search's deadline is the budget's end less these."""

    evaluate: float = 0.0
    log_of: Callable[[], float] = lambda: 0.0  # MLflow's logging at the end (known better once its store is open)
    refit: float = 0.0  # the leader's expected refit
    leader: float = -math.inf  # the leader's CV score, larger is better
    blend: float = 0.0  # the expected refit of an ensemble of the best few candidates

    @property
    def log(self) -> float:
        return self.log_of()

    def __call__(self, fold_seconds: float = 0.0) -> float:
        """The seconds to keep; ``fold_seconds``: a candidate's, whose own refit must fit too if it is to lead."""
        return max(self.refit, self.blend, _REFIT * fold_seconds) + self.evaluate + self.log

    def note(self, signed_score: float, fold_seconds: float) -> None:
        """A new CV result: if it leads, its refit is the one to keep time for."""
        if signed_score == signed_score and signed_score > self.leader:
            self.leader, self.refit = signed_score, _REFIT * fold_seconds


@dataclass
class _Run:
    """One training's shared state."""

    plan: Any
    search: Search
    tracker: Any
    progress: Any
    reserve: _Reserve
    warnings: list[str]
    extra: dict[int, Candidate] = field(default_factory=dict)  # id(result) -> a candidate not in the registry
    ensemble: bool = False

    def note_blend(self, results: list[CandidateResult]) -> None:
        """Keep time for refitting an ensemble of the best candidates (when one is to be tried)."""
        if self.ensemble:
            best = [r for r in _ranked(self.search, results) if r.key != "baseline"][:_BLEND_MEMBERS]
            self.reserve.blend = _REFIT * sum(r.fit_seconds for r in best) if len(best) > 1 else 0.0

    @property
    def budget(self) -> Budget:
        return self.search.budget

    def candidate_of(self, result: CandidateResult) -> Candidate:
        return self.extra[id(result)] if result.key == _ENSEMBLE else get_candidate(result.key)


def run(plan: Any, names: list[str], *, tracker: Any, budget: Budget, trials: int, tune_top: int,
        ensemble: bool, select: int | None, seed: int, progress: Any, evaluate: bool, report_path: Any,
        data_version: dict[str, Any], target: str) -> Any:
    """Defaults, tuning, ensemble, refit, test, evaluation, tracking; returns a TrainResult."""
    reserve = _Reserve(evaluate=min(_EVALUATE_SHARE * budget.seconds, _EVALUATE_MAX) if evaluate else 0.0,
                       log_of=lambda: float(getattr(tracker, "finish_seconds", 0.0)))
    search = Search(plan.X, plan.y, plan.folds, plan.task, plan.metric,
                    lambda: make_features(plan.columns, task=plan.task, seed=seed, select=select), seed, budget,
                    reserve=reserve)
    tracker.start(f"train {target}", {"task": plan.task, "metric": plan.metric.name, "candidates": ",".join(names),
                                      "folds": len(plan.folds), "time_budget": budget.seconds, "trials": trials,
                                      "seed": seed, "train_rows": len(plan.X), "test_rows": len(plan.X_test),
                                      "test_digest": plan.test_digest,
                                      **{f"data.{k}": v for k, v in data_version.items()}},
                  {"datamill.target": target})
    state = _Run(plan, search, tracker, progress, reserve, plan.warnings, ensemble=ensemble)
    from threadpoolctl import threadpool_limits

    try:
        with threadpool_limits(search.threads):
            results = _defaults(state, names)
            tracker.check()  # a store that cannot be opened stops the training here, not at its end
            results = _tune(state, results, trials, tune_top)
            if ensemble:
                results += _ensemble(state, results)
            out = _finish(state, results, evaluate=evaluate, report_path=report_path, target=target, seed=seed)
            out.data_version = dict(data_version)
            return out
    except BaseException as exc:
        tracker.fail(f"{type(exc).__name__}: {exc}")
        raise


def _ranked(search: Search, results: list[CandidateResult]) -> list[CandidateResult]:
    ok = [r for r in results if not r.error and r.scores]
    return sorted(ok, key=lambda r: (-search.metric.sign(r.cv_mean), r.fit_seconds))


_COST = {name: i for i, name in enumerate(
    ["baseline", "logistic", "ridge", "lightgbm", "hist_gbm", "random_forest", "torch_mlp"])}


def _defaults(state: _Run, names: list[str]) -> list[CandidateResult]:
    search, results = state.search, []
    # the baseline first (the bar to beat), then cheap to costly, so a tight budget
    # drops the slow candidates rather than the quick strong ones
    order = sorted(names, key=lambda n: _COST.get(n, len(_COST)))
    for done, name in enumerate(order):
        state.progress("defaults", done, len(order), name)
        first = not _ranked(search, results)  # until one candidate has scores, it must finish: a model is due
        if not first and state.budget.now() + _import_seconds(name) > search.deadline:
            state.warnings.append(f"time budget spent before candidate {name} ran with defaults; it was skipped")
            continue
        try:
            result = search.defaults(get_candidate(name), may_stop=not first)
        except OutOfTime as exc:
            state.warnings.append(f"candidate {name} {exc}; it was skipped (give a bigger time budget to include it)")
            continue
        if result.error:
            state.warnings.append(f"candidate {name} failed: {result.error}")
        else:
            state.reserve.note(search.metric.sign(result.cv_mean), result.fit_seconds)
        state.tracker.candidate(result, "defaults")
        results.append(result)
        state.note_blend(results)
    state.progress("defaults", len(order), len(order), "")
    if not _ranked(search, results):
        raise ModelError("every candidate failed: " + "; ".join(f"{r.name}: {r.error}" for r in results))
    return results


_IMPORTS = {"torch_mlp": ("torch", 3.0)}  # a candidate's library, and the seconds importing it takes (2-5 s measured)


def _import_seconds(name: str) -> float:
    """Seconds a candidate spends importing its library before its first fold (0 once imported)."""
    import sys

    module, seconds = _IMPORTS.get(name, ("", 0.0))
    return seconds if module and module not in sys.modules else 0.0


def _tune(state: _Run, results: list[CandidateResult], trials: int, top: int) -> list[CandidateResult]:
    """Tune the ``top`` best candidates, the leader with the most trials and time (halving down the ranks)."""
    search = state.search
    chosen = [r for r in _ranked(search, results) if get_candidate(r.key).space is not None][:top]
    weights = [2.0 ** -i for i in range(len(chosen))]
    done = 0
    for i, base in enumerate(chosen):
        left = search.deadline - state.budget.now()
        if left <= 0:
            state.warnings.append(f"time budget spent before tuning {base.name}; it keeps its defaults")
            continue
        part = weights[i] / sum(weights[i:])
        share = max(1, math.ceil((trials - done) * part))

        def on_trial(result: CandidateResult, trial: Any, name: str = base.name) -> None:
            nonlocal done
            done += 1
            if trial.value is not None and "fit_seconds" in trial.user_attrs:
                state.reserve.note(trial.value, trial.user_attrs["fit_seconds"])
            state.tracker.trial(result, trial)
            state.progress("tune", done, trials, f"{name} trial {trial.number}")

        search.on_trial = on_trial
        tuned = search.tune(get_candidate(base.key), base, share, state.budget.now() + left * part)
        state.tracker.candidate(tuned, "tuned")
        results[results.index(base)] = tuned
        state.note_blend(results)
    state.progress("tune", trials, trials, "")
    return results


class _Ensemble(Candidate):
    pass


def _ensemble(state: _Run, results: list[CandidateResult]) -> list[CandidateResult]:
    """A weighted soft-voting (averaging) ensemble, chosen from the candidates' out-of-fold predictions.

    Nothing is fitted here: the weights come from greedy selection on the predictions the
    search already made (:func:`datamill.ml._ensemble.select`); the ensemble's CV scores are
    those of its blended out-of-fold predictions, fold by fold, comparable to every candidate's.
    """
    from datamill.ml._ensemble import select

    search = state.search
    members = {r.name: r for r in _ranked(search, results)}
    chosen = select(list(members.values()), search.metric, search.y.to_numpy(), search.classes, search.folds,
                    stop=lambda: state.budget.now() > search.deadline)
    if chosen is None:
        return []
    weights, scores, blend = chosen
    parts = [(members[name], count) for name, count in weights.items()]

    def make(task: str, seed: int, **params: Any) -> Any:
        from sklearn.ensemble import VotingClassifier, VotingRegressor

        estimators = [(m.name, get_candidate(m.key).make(task, seed, **m.params)) for m, _ in parts]
        counts = [count for _, count in parts]
        if task == "regression":
            return VotingRegressor(estimators, weights=counts, n_jobs=1)
        return VotingClassifier(estimators, voting="soft", weights=counts, n_jobs=1)

    candidate = _Ensemble(_ENSEMBLE, make)
    # its params: each member's weight (the members' own parameters are on their rows)
    result = CandidateResult(_ENSEMBLE, _ENSEMBLE, {m.name: count for m, count in parts},
                             scores, sum(m.fit_seconds for m, _ in parts), oof=blend)
    state.reserve.note(search.metric.sign(result.cv_mean), result.fit_seconds)
    state.tracker.candidate(result, "ensemble")
    state.extra[id(result)] = candidate
    return [result]


def _refit(search: Search, result: CandidateResult, candidate: Candidate, X_test: Any, y_test: Any,  # noqa: N803
           check: Callable[[], None]) -> Any:
    """Fit ``result``'s pipeline on every training row (as many threads as the search) and score it on the test rows."""
    pipeline = search.pipeline(candidate, {} if result.key == _ENSEMBLE else result.params)
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        fit_within(pipeline, search.X, search.y, check)
        result.test_score = search.metric.score(pipeline, X_test, y_test)
    return pipeline


def _refit_best(state: _Run, ranked: list[CandidateResult], until: float) -> tuple[CandidateResult, Any]:
    """The best model whose refit ends by ``until``.

    A model is due whatever the time: the best of the cheapest to refit (within
    1% of the budget, or a second, of the cheapest) is refit even when late, and never stopped.
    """
    budget, plan = state.budget, state.plan
    cheap = min(r.fit_seconds for r in ranked) + max(_CHEAP_SHARE * budget.seconds, _CHEAP_SECONDS) / _REFIT
    last = next(i for i, r in enumerate(ranked) if r.fit_seconds <= cheap)
    for i, result in enumerate(ranked[:last + 1]):
        last_resort = i == last
        if not last_resort and budget.now() + _REFIT * result.fit_seconds > until:
            state.warnings.append(f"{result.name} leads in CV, but its refit would end past the time budget; "
                                  "the next best model is used (give a bigger time budget to keep it)")
            continue
        check = never if last_resort else budget.checker(lambda: until)
        try:
            return result, _refit(state.search, result, state.candidate_of(result), plan.X_test, plan.y_test, check)
        except OutOfTime:
            state.warnings.append(f"the refit of {result.name} was stopped at the time budget; "
                                  "the next best model is used (give a bigger time budget to keep it)")
    raise AssertionError("unreachable: the last resort always finishes")  # pragma: no cover


def _test_the_others(state: _Run, ranked: list[CandidateResult], best: CandidateResult, until: float) -> None:
    """Test scores for the other candidates, while time allows (a fit past ``until`` is stopped)."""
    for done, other in enumerate(ranked, start=1):
        if other is best or other.key == _ENSEMBLE or state.budget.now() + _REFIT * other.fit_seconds > until:
            continue
        state.progress("refit", done, len(ranked), other.name)
        try:
            _refit(state.search, other, state.candidate_of(other), state.plan.X_test, state.plan.y_test,
                   state.budget.checker(lambda: until))
        except OutOfTime:
            other.test_score = None


def _finish(state: _Run, results: list[CandidateResult], *, evaluate: bool, report_path: Any, target: str,
            seed: int) -> Any:
    from datamill.ml.train import TrainResult

    plan, search, budget, tracker = state.plan, state.search, state.budget, state.tracker
    ranked = _ranked(search, results)
    log_at = budget.end - state.reserve.log
    state.progress("refit", 0, len(ranked), ranked[0].name)
    best, pipeline = _refit_best(state, ranked, log_at)
    _test_the_others(state, ranked, best, log_at - state.reserve.evaluate)
    state.progress("refit", len(ranked), len(ranked), "")
    plan.warnings += _checks.gap_warning(plan.metric, best.cv_mean, best.cv_std, best.test_score)
    board = leaderboard(results, plan.metric)
    out = TrainResult(board, best.name, pipeline, float(best.test_score), plan.metric.name, plan.task,
                      list(plan.X.columns), plan.warnings, tracker.run_id, tracker.uri, cv_mean=best.cv_mean,
                      cv_std=best.cv_std, test_digest=plan.test_digest, folds=len(plan.folds))
    if evaluate:
        state.progress("evaluate", 0, 1, best.name)
        out.evaluation, out.report_path = _evaluate(out, plan, board, report_path, target, seed, budget, log_at)
        state.progress("evaluate", 1, 1, "")
    _serving_threads(pipeline)
    metrics = {f"test_{plan.metric.name}": out.test_score, f"cv_{plan.metric.name}_mean": best.cv_mean,
               f"cv_{plan.metric.name}_std": best.cv_std, "seconds": round(budget.elapsed(), 2)}  # before logging
    metrics.update({f"test_{k}": v for k, v in _numbers(getattr(out.evaluation, "metrics", {})).items()})
    state.progress("track", 0, 1, "")
    tracker.finish(metrics=metrics, tags={"datamill.best": best.name, "datamill.warnings": str(len(out.warnings))},
                   pipeline=pipeline, example=plan.X.head(5), report=out.report_path, evaluation=out.evaluation)
    out.model_uri, out.run_id = getattr(tracker, "model_uri", None), tracker.run_id
    out.seconds = round(budget.elapsed(), 2)
    state.progress("track", 1, 1, "")
    return out


_ORDERLESS = ("RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor")


def _serving_threads(pipeline: Any) -> None:
    """The saved model serves with the machine's threads, not the CV's; a forest predicts on one.

    A forest's threads add up its trees' votes in whatever order they finish, so the same
    model would predict differently in the last digits from one call to the next.
    """
    limit_threads(pipeline, _SERVE_THREADS)
    forests = {f"{key}__n_jobs": 1 for key, value in pipeline.get_params(deep=True).items()
               if type(value).__name__ in _ORDERLESS}
    pipeline.set_params(**forests)


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


def _evaluate(out: Any, plan: Any, board: pd.DataFrame, report_path: Any, target: str, seed: int, budget: Budget,
              until: float) -> tuple[Any, Any]:
    """The evaluation (ending by ``until``) and its HTML report; a warning if it fails."""
    try:
        from datamill.ml.evaluate import evaluate
    except ImportError:
        return None, None
    labels = sorted(pd.unique(plan.y).tolist(), key=str) if plan.task != "regression" else None
    try:
        evaluation = evaluate(out.best_pipeline, plan.X_test, plan.y_test, task=plan.task, X_train=plan.X,
                              y_train=plan.y, labels=labels, metric=plan.metric.name, seed=seed, cv_score=out.cv_mean,
                              time_limit=max(until - budget.now(), 0.0), clock=budget.clock)
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
