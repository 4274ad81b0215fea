"""One pass of a ``monitors:`` entry's policy over a project: observe, decide, retrain.

The monitor stage holds the policy and the retrain (:mod:`datamill.monitor`);
this is where they meet the pipeline: fresh data for a retrain comes from
running the model's input tables (``datamill run --select +TABLE``), and the
signals come from an ``observe`` callable (drift and live performance, by the
caller: ``datamill retrain`` and ``datamill schedule`` pass the monitor
stage's own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamill.config.schema import ProjectConfig
from datamill.exceptions import ConfigError, PipelineError

__all__ = ["Pass", "monitor_pass", "monitor_spec"]

# observe(monitor name, spec) -> (drift result or None, performance verdict or None)
Observe = Callable[[str, Any], tuple[Any, Any]]


@dataclass
class Pass:
    """What one pass saw and did: the triggers that fired, the decision (None: nothing to do), the signals."""

    monitor: str
    triggers: list[str] = field(default_factory=list)
    decision: Any = None  # datamill.monitor.audit.Decision
    drift: Any = None
    performance: Any = None


def monitor_spec(config: ProjectConfig, name: str) -> Any:
    """The ``monitors:`` entry ``name``, or a ConfigError listing those there are."""
    if name not in config.monitors:
        from datamill._registry import did_you_mean

        known = ", ".join(config.monitors) or "none (add a monitors: block to datamill.yaml)"
        raise ConfigError(f"no monitor '{name}' under monitors:{did_you_mean(name, config.monitors)}; "
                          f"monitors: {known}")
    return config.monitors[name]


def refresher(config: ProjectConfig, root: Path, storage: Any, engine: Any,
              tables: list[str]) -> Callable[[], None] | None:
    """A call that rebuilds ``tables`` and what they read (None: no node builds any), raising if that fails."""
    built = [t for t in dict.fromkeys(tables) if t in config.sources or t in config.datasets]
    if not built:
        return None

    def refresh() -> None:
        from datamill.pipeline.runner import run_pipeline

        record = run_pipeline(config, root, storage, engine, selection=[f"+{t}" for t in built])
        if record.status != "ok":
            failed = "; ".join(f"{n.name} {n.status}" + (f" ({n.error.splitlines()[0]})" if n.error else "")
                               for n in record.failed)
            raise PipelineError(f"fresh data for the retrain: building {', '.join(built)} failed: {failed} "
                                f"(details: datamill runs {record.run_id})")

    return refresh


def monitor_pass(config: ProjectConfig, root: Path, storage: Any, engine: Any, name: str, *, force: bool = False,
                 scheduled: bool = False, observe: Observe | None = None, by: str | None = None,
                 project_file: Path | None = None) -> Pass:
    """Run monitor ``name``'s policy once; retrain (and gate, and record) when a trigger fires.

    Fresh data: the model's input table and the holdout are rebuilt first
    (as ``datamill run --select +TABLE`` would), so both are current.

    ``force``: retrain now whatever the signals say (trigger ``manual``);
    ``scheduled``: this pass is the monitor's scheduled one (trigger ``schedule``
    when ``retrain.when`` names it). Drift and performance are read through
    ``observe`` only when the monitor retrains on them.
    """
    from datamill.monitor.policy import fired
    from datamill.monitor.reference import reference_hook
    from datamill.monitor.retrain import retrain

    spec = monitor_spec(config, name)
    done = Pass(monitor=name)
    if spec.retrain is None and force:
        raise ConfigError(f"monitor '{name}' has no retrain: block, so there is nothing to retrain (fix: add "
                          "retrain: {holdout: {dataset: ...}, gate: ...} to it)")
    if force:
        done.triggers = ["manual"]
    else:
        wants = set(spec.retrain.when) if spec.retrain is not None else set()
        if observe is not None and wants & {"drift", "performance"}:
            done.drift, done.performance = observe(name, spec)
        done.triggers = fired(spec, drift=done.drift, performance=done.performance, scheduled=scheduled)
    if not done.triggers:
        return done
    model_spec = config.models[spec.model_name]  # the loader checked a retraining monitor's model is here
    done.decision = retrain(
        name, spec, model_spec, root=root, project=config.name, storage=storage, trigger=done.triggers[0],
        refresh=refresher(config, root, storage, engine, [model_spec.from_, spec.retrain.holdout.dataset]), by=by,
        project_file=project_file, after_register=reference_hook(engine, storage),
    )
    return done
