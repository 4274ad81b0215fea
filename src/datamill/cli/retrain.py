"""``datamill retrain MONITOR``: one pass of a monitor's continuous-training policy.

Reads the signals the monitor retrains on (drift, live performance); when one
fires (or with ``--force``), retrains the model on fresh data, scores the
challenger and the champion on the holdout, promotes or refuses, and records
the decision in ``monitor_audit``. Exit code 0 when the pass ran (promoted,
refused, or nothing fired), 1 when the retrain failed: an external scheduler
(cron, Airflow) can run it as it is.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from datamill.cli.app import app, console, open_project


def observer(project: Any) -> Any:
    """The signals a pass reads, on the project's engine: drift (``detect``), live performance (delayed labels)."""

    def observe(name: str, spec: Any) -> tuple[Any, Any]:
        from datamill.registry import ModelStore

        store = ModelStore.for_project(project.root, project.config.models[spec.model_name].tracking_uri)
        wants = spec.retrain.when
        drift = _drift(project, store, name, spec) if "drift" in wants else None
        performance = _performance(project, store, name, spec) if "performance" in wants else None
        return drift, performance

    return observe


def _stage(name: str, module: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        from datamill.exceptions import ConfigError

        raise ConfigError(f"monitor '{name}' retrains on {what}, but {module} cannot be imported here ({exc}) "
                          "(fix: pip install 'datamill[monitor]')") from exc


def _drift(project: Any, store: Any, name: str, spec: Any) -> Any:
    from datamill.monitor.config import PREDICTION_LOG

    detect = _stage(name, "datamill.monitor.drift", "drift").detect
    return detect(store, spec.model, project=project, window=spec.window,
                  current=None if spec.current == PREDICTION_LOG else spec.current, thresholds=spec.thresholds or None)


def _performance(project: Any, store: Any, name: str, spec: Any) -> Any:
    from datamill.exceptions import ConfigError

    if spec.labels is None:
        raise ConfigError(f"monitor '{name}' retrains on performance, but has no labels: (fix: labels: {{dataset: "
                          "LABELS, key: request_id, target: COLUMN}}, the delayed ground truth)")
    performance = _stage(name, "datamill.monitor.performance", "performance")
    floor = spec.labels.floor if spec.labels.floor is not None else spec.retrain.gate.floor
    if floor is None:
        raise ConfigError(f"monitor '{name}' retrains on performance, but gives no floor for the live metric "
                          "(fix: labels.floor, or retrain.gate.floor)")
    model = project.config.models[spec.model_name]
    return performance.live_performance(project.storage, project.engine, store.resolve(spec.model),
                                        labels=spec.labels.dataset, key=spec.labels.key or "request_id",
                                        target=spec.labels.target or model.target, floor=floor)


def describe_pass(done: Any) -> str:
    """One line for a pass: the decision, or why nothing was done."""
    if done.decision is not None:
        return done.decision.line()
    seen = []
    if done.drift is not None:
        seen.append(f"drift: {getattr(done.drift, 'share_drifted', 0):.0%} of features drifted, "
                    f"dataset drift {'yes' if getattr(done.drift, 'dataset_drift', False) else 'no'}")
    return "no retrain: no trigger fired" + (f" ({'; '.join(seen)})" if seen else "")


@app.command()
def retrain(
    monitor: Annotated[str, typer.Argument(help="A name under monitors: in datamill.yaml.")],
    force: Annotated[bool, typer.Option("--force", help="Retrain now, whatever the signals say (trigger manual).")]
    = False,
) -> None:
    """Run a monitor's retrain policy once: retrain → score challenger and champion on the holdout → gate →
    promote or refuse. Every decision goes to the monitor_audit table (see `datamill monitor NAME --history`).
    """
    from datamill.pipeline.monitoring import monitor_pass

    project = open_project()
    with console.status(f"monitor {monitor}: {'retraining' if force else 'reading its signals'}"):
        done = monitor_pass(project.config, project.root, project.storage, project.engine, monitor, force=force,
                            observe=observer(project), project_file=project.file)
    line = describe_pass(done)
    colour = {"promoted": "green", "refused": "yellow", "failed": "red"}.get(getattr(done.decision, "outcome", ""),
                                                                             "dim")
    console.print(f"[{colour}]{monitor}[/] ", end="", emoji=False)
    console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
    if done.decision is not None and done.decision.outcome == "failed":
        raise typer.Exit(1)
