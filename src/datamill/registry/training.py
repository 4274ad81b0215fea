"""Train a project's model and register the result as a new version, with its lineage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from datamill.exceptions import ModelError
from datamill.registry._history import who
from datamill.registry._lineage import lineage_tags
from datamill.registry.store import ModelStore

__all__ = ["FINGERPRINT_TAG", "train_and_register"]

FINGERPRINT_TAG = "datamill.fingerprint"  # what `datamill run` compares to tell a model is up to date


def train_and_register(root: Path, project_name: str, name: str, spec: Any, storage: Any, *,
                       trials: int | None = None, timeout: float | None = None, progress: Any = None,
                       fingerprint: str | None = None, project_file: Path | None = None,
                       by: str | None = None, after_register: Callable[[Any, ModelStore], None] | None = None) -> Any:
    """Train the ``models:`` entry ``name`` and register it; return the TrainResult (``model_version`` set).

    ``fingerprint`` (the pipeline's, for up-to-date checks) and the lineage go
    in the version's tags; ``by`` says who trained it (default: the user).
    ``after_register(result, store)`` runs once the version is registered: the
    callers above this layer pass :func:`datamill.monitor.reference.reference_hook`,
    which keeps the training data's reference statistics with the version.
    """
    from datamill.ml.project import train_model

    result = train_model(root, project_name, name, spec, storage, trials=trials, timeout=timeout, progress=progress)
    if not result.model_uri:
        raise ModelError(f"model '{name}': the training logged no model to register (MLflow run {result.run_id})")
    store = ModelStore.for_project(root, spec.tracking_uri)
    signature = store.signature_at(store.artifact_location(result.model_uri))
    tags = lineage_tags(result, root=root, project_file=project_file or root / "datamill.yaml",
                        fingerprint=fingerprint, by=by or who(), signature=signature)
    description = f"best {result.best_name}: test {result.metric} {result.test_score:.4f}"
    result.model_version = store.register(name, result.model_uri, run_id=result.run_id, tags=tags,
                                          description=description)
    if after_register is not None:
        after_register(result, store)
    return result
