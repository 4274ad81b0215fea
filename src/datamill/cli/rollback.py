"""``datamill rollback NAME``: the previous champion back, recorded in the alias history and the audit."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from datamill.cli.app import app, console, open_project


@app.command()
def rollback(
    name: Annotated[str, typer.Argument(help="A monitor (under monitors:) or a registered model.")],
    alias: Annotated[Optional[str], typer.Option("--alias", "-a", help="The alias to move back (default: the "
                                                 "monitor's, else champion).")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", "-r", help="Why: kept in the history and audit.")]
    = None,
) -> None:
    """Point a model's alias (default champion) back at the version before; a server following it reloads.

    The move is kept in the registry's alias history and as a rolled_back row in monitor_audit.
    """
    from datamill.monitor.retrain import rollback as roll_back
    from datamill.registry import ModelStore

    project = open_project()
    monitors = project.config.monitors
    if name in monitors:
        spec, monitor = monitors[name], name
        model, alias = spec.model_name, alias or spec.alias
    else:
        model = name
        monitor = next((m for m, s in monitors.items() if s.model_name == name), "")
        alias = alias or (monitors[monitor].alias if monitor else "champion")
    entry = project.config.models.get(model)
    store = ModelStore.for_project(project.root, entry.tracking_uri if entry is not None else None)
    decision = roll_back(store, project.storage, model, alias, monitor=monitor, reason=reason)
    console.print(f"{decision.reason} by {decision.by} (recorded in monitor_audit)", markup=False, highlight=False,
                  emoji=False)
