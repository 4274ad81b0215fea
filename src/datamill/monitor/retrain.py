"""One turn of the continuous-training loop: retrain, judge, promote or refuse, record.

:func:`retrain` trains the monitored model again with its own ``models:``
config on fresh data (``refresh`` rebuilds its input tables first), which
registers a challenger while the champion's alias stays where it is. Then
challenger and champion are scored on the same recent labelled holdout with
the gate's metric; only if the gate passes does the alias move to the
challenger (a server following the alias hot-reloads it). Whatever happens,
the decision is appended to ``monitor_audit``; a failure anywhere before the
alias moves leaves the champion untouched and is recorded as ``failed``.

``rollback`` puts the alias back on the version before, and records that too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from datamill.exceptions import DatamillError, ModelError
from datamill.monitor.audit import Decision, record
from datamill.monitor.config import MonitorSpec
from datamill.monitor.gate import Gate, holdout_score

__all__ = ["champion_of", "retrain", "rollback"]


def champion_of(store: Any, name: str, alias: str) -> Any:
    """The version ``name@alias`` points at, or ``None`` when the model or the alias does not exist yet.

    A store that cannot be read raises (a ModelError): "no champion" is never guessed.
    """
    summary = next((m for m in store.models() if m.name == name), None)
    version = None if summary is None else summary.aliases.get(alias)
    return None if version is None else store.resolve(f"{name}/{version}")


def _gate(spec: MonitorSpec, model_spec: Any, task: str) -> Gate:
    from datamill.ml import get_metric

    assert spec.retrain is not None
    wanted = spec.retrain.gate
    metric = get_metric(wanted.metric or model_spec.metric, task)
    return Gate(metric.name, metric.greater_is_better, wanted.min_gain, wanted.floor)


def retrain(monitor: str, spec: MonitorSpec, model_spec: Any, *, root: Path, project: str, storage: Any,
            trigger: str, refresh: Callable[[], None] | None = None, by: str | None = None,
            project_file: Path | None = None, store: Any = None,
            after_register: Callable[[Any, Any], None] | None = None) -> Decision:
    """Retrain ``spec``'s model, gate the challenger against the champion, promote or refuse; the decision.

    Parameters
    ----------
    monitor, spec
        The ``monitors:`` entry (it must have ``retrain:``).
    model_spec
        The model's ``models:`` entry: the config it is trained with again.
    root, project, storage
        The project folder, its name and its storage (the holdout is read, the audit row written there).
    trigger
        What started this: ``drift``, ``performance``, ``schedule`` or ``manual``.
    refresh
        Called first to rebuild the model's input tables (fresh data); it raises when that fails.
    by
        Who decided, for the audit and the alias history (default ``datamill monitor MONITOR``).
    after_register
        Called with the training result and the store once the challenger is registered: keeps its reference
        statistics (:func:`datamill.monitor.reference.reference_hook`), so the challenger can be monitored too.
    """
    from datamill.registry import ModelStore, train_and_register

    if spec.retrain is None:
        raise ModelError(f"monitor '{monitor}' has no retrain: block (fix: add retrain: with a holdout and a gate)")
    by = by or f"datamill monitor {monitor}"
    name, alias = spec.model_name, spec.alias
    decision = Decision(monitor=monitor, model=name, trigger=trigger, by=by)
    holdout = spec.retrain.holdout
    target = holdout.target or model_spec.target
    try:
        store = store or ModelStore.for_project(root, model_spec.tracking_uri)
        champion = champion_of(store, name, alias)
        decision.champion_version = None if champion is None else champion.version
        if refresh is not None:
            refresh()
        result = train_and_register(root, project, name, model_spec, storage, by=by, project_file=project_file,
                                    after_register=after_register)
        challenger = result.model_version
        decision.challenger_version = challenger.version
        rows = storage.read(holdout.dataset)
        gate = _gate(spec, model_spec, result.task)
        decision.metric, decision.gate = gate.metric, gate.describe()
        decision.challenger_score, _, labelled = holdout_score(store, challenger, rows, table=holdout.dataset,
                                                               target=target, metric=gate.metric)
        if champion is not None:
            decision.champion_score = holdout_score(store, champion, rows, table=holdout.dataset, target=target,
                                                    metric=gate.metric)[0]
        verdict = gate.check(decision.challenger_score, decision.champion_score)
        decision.reason = f"{verdict.text} (holdout {holdout.dataset}: {labelled:,} labelled rows)"
        if verdict.passed:
            store.promote(name, challenger.version, alias, by=by, reason=f"monitor {monitor} ({trigger}): "
                                                                           f"{verdict.text}")
        decision.outcome = "promoted" if verdict.passed else "refused"
    except Exception as exc:  # noqa: BLE001  every failure is a decision to record; the alias has not moved
        decision.outcome = "failed"
        if not isinstance(exc, DatamillError):  # a bug: its traceback goes to the run log
            logging.getLogger(__name__).error("monitor %s: the retrain failed", monitor, exc_info=exc)
        what = str(exc) if isinstance(exc, DatamillError) else f"internal error {type(exc).__name__}: {exc}"
        decision.reason = f"{what} ({name}@{alias} untouched)"
    return record(storage, decision)


def rollback(store: Any, storage: Any, name: str, alias: str = "champion", *, monitor: str = "",
             by: str | None = None, reason: str | None = None) -> Decision:
    """Point ``name@alias`` back at its previous version (the registry's history) and record it in the audit."""
    event = store.rollback(name, alias, by=by, reason=reason)
    by = event.by
    text = f"{name}@{alias} rolled back from v{event.from_version} to v{event.to_version}"
    decision = Decision(monitor=monitor, model=name, trigger="manual", outcome="rolled_back",
                        champion_version=event.from_version, challenger_version=event.to_version, by=by,
                        reason=text + (f": {reason}" if reason else ""))
    return record(storage, decision)
