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
    """The signals a pass reads: drift on the project's engine (the monitor stage's ``detect``)."""

    def observe(name: str, spec: Any) -> tuple[Any, Any]:
        drift = None
        if "drift" in spec.retrain.when:
            try:
                from datamill.monitor.drift import detect
            except ImportError as exc:
                from datamill.exceptions import ConfigError

                raise ConfigError(f"monitor '{name}' retrains on drift, but drift detection is not available "
                                  f"here ({exc}) (fix: install datamill[monitor])") from exc
            from datamill.monitor.config import PREDICTION_LOG
            from datamill.registry import ModelStore

            store = ModelStore.for_project(project.root, project.config.models[spec.model_name].tracking_uri)
            drift = detect(store, spec.model, project=project, window=spec.window,
                           current=None if spec.current == PREDICTION_LOG else spec.current,
                           thresholds=spec.thresholds or None)
        # live performance (delayed labels joined to the prediction log) comes in as a verdict with `degraded`
        return drift, None

    return observe


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
