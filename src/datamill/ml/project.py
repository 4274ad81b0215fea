"""Train a project's ``models:`` entry: read its table, fit, track in the project's store.

Used by ``datamill train``, by the pipeline's model nodes and by
:meth:`datamill.Project.train`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from datamill.ml.spec import ModelSpec

__all__ = ["load_model_record", "model_record_path", "train_model"]


def model_record_path(root: Path, name: str) -> Path:
    """Where the last training of model ``name`` is summarised (run id, score, report)."""
    return root / ".datamill" / "models" / f"{name}.json"


def load_model_record(root: Path, name: str) -> dict[str, Any] | None:
    """The last training's summary, or ``None``."""
    path = model_record_path(root, name)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def train_model(root: Path, project_name: str, name: str, spec: ModelSpec, storage: Any, *,
                trials: int | None = None, timeout: float | None = None, progress: Any = None,
                fingerprint: str | None = None) -> Any:
    """Train model ``name`` on its ``from:`` table; write its report and record; return the TrainResult."""
    from datamill.ml.tracking import project_tracking
    from datamill.ml.train import fit

    scan = storage.scan(spec.from_)
    table = scan.to_arrow()
    version = {"table": spec.from_, "version": scan.version, "rows": table.num_rows}
    uri = spec.tracking_uri
    if uri is None:
        uri, _ = project_tracking(root)
    result = fit(
        table, spec.target, task=spec.task, metric=spec.metric, candidates=spec.candidates,
        time_budget=timeout or spec.tune.timeout, trials=trials or spec.tune.trials, cv=spec.cv,
        test_size=spec.test_size, seed=spec.seed, time_column=spec.time_column, group_column=spec.group_column,
        tracking_uri=uri, experiment=f"{project_name}.{name}", progress=progress, drop=spec.features.drop,
        select=spec.features.select, tune_top=spec.tune.top, ensemble=spec.ensemble,
        report_path=root / "reports" / f"model-{name}.html", data_version=version,
    )
    record = {
        "model": name, "run_id": result.run_id, "tracking_uri": result.tracking_uri, "model_uri": result.model_uri,
        "best": result.best_name, "metric": result.metric, "test_score": result.test_score,
        "cv_mean": result.cv_mean, "cv_std": result.cv_std, "test_digest": result.test_digest, "data": version,
        "fingerprint": fingerprint,
        "report": str(result.report_path) if result.report_path else None, "warnings": result.warnings,
    }
    path = model_record_path(root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)
    return result
