"""Train a project's ``models:`` entry: read its table, fit, track in the project's store.

Used by :func:`datamill.registry.train_and_register`, which registers the
result: the pipeline's model nodes, ``datamill train`` and
:meth:`datamill.Project.train` go through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from datamill.ml.spec import ModelSpec

__all__ = ["train_model"]


def train_model(root: Path, project_name: str, name: str, spec: ModelSpec, storage: Any, *,
                trials: int | None = None, timeout: float | None = None, progress: Any = None) -> Any:
    """Train model ``name`` on its ``from:`` table; write its report; return the TrainResult.

    The result's ``data_version`` names the table, its storage version and its rows.
    """
    from datamill.ml.tracking import project_tracking
    from datamill.ml.train import fit

    scan = storage.scan(spec.from_)
    table = scan.to_arrow()
    version = {"table": spec.from_, "version": scan.version, "rows": table.num_rows}
    uri = spec.tracking_uri
    if uri is None:
        uri, _ = project_tracking(root)
    return fit(
        table, spec.target, task=spec.task, metric=spec.metric, candidates=spec.candidates,
        time_budget=timeout or spec.tune.timeout, trials=trials or spec.tune.trials, cv=spec.cv,
        test_size=spec.test_size, seed=spec.seed, time_column=spec.time_column, group_column=spec.group_column,
        tracking_uri=uri, experiment=f"{project_name}.{name}", progress=progress, drop=spec.features.drop,
        select=spec.features.select, tune_top=spec.tune.top, ensemble=spec.ensemble,
        report_path=root / "reports" / f"model-{name}.html", data_version=version,
    )
