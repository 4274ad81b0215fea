"""Lineage of a registered version: the data, the run, the scores, the project file and the code.

Every key starts with ``datamill.``; readers show them all and require none.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["code_version", "file_digest", "lineage_tags"]

_MAX_TAG = 5000  # what every MLflow backend stores in a version tag's value


def file_digest(path: Path | None) -> str | None:
    """``sha256:<hex>`` of a file's bytes, or ``None`` when it cannot be read."""
    if path is None:
        return None
    try:
        return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def code_version(root: Path | None) -> str:
    """``datamill 0.1.0``, plus the project's git commit (``+dirty`` with uncommitted changes) in a git repo."""
    import datamill

    text = f"datamill {datamill.__version__}"
    if root is None:
        return text
    commit = _git(root, "rev-parse", "HEAD")
    if commit:
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
        text += f"; git {commit}{'+dirty' if dirty else ''}"
    return text


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= _MAX_TAG else text[: _MAX_TAG - 1] + "…"


def _signature_text(signature: Any) -> str | None:
    if signature is None or getattr(signature, "inputs", None) is None:
        return None
    return json.dumps([{"name": c.name, "type": type_name(c)} for c in signature.inputs.inputs])


def type_name(column: Any) -> str:
    """A signature column's type as MLflow writes it in ``MLmodel`` (``long``, ``string``, ``datetime``)."""
    kind = getattr(column, "type", None)
    return str(getattr(kind, "name", None) or getattr(column, "dtype", None) or kind)


def lineage_tags(result: Any, *, root: Path | None, project_file: Path | None, fingerprint: str | None,
                 by: str, signature: Any = None) -> dict[str, str]:
    """The ``datamill.*`` tags of the version a training (a :class:`~datamill.ml.TrainResult`) registers."""
    data = dict(getattr(result, "data_version", None) or {})
    tags: dict[str, Any] = {
        "datamill.table": data.get("table"),
        "datamill.table_version": data.get("version"),
        "datamill.rows": data.get("rows"),
        "datamill.run_id": result.run_id,
        "datamill.metric": result.metric,
        "datamill.test_score": result.test_score,
        "datamill.cv_mean": result.cv_mean,
        "datamill.cv_std": result.cv_std,
        "datamill.best": result.best_name,
        "datamill.task": result.task,
        "datamill.test_digest": result.test_digest or None,
        "datamill.signature": _signature_text(signature),
        "datamill.project_digest": file_digest(project_file),
        "datamill.code_version": code_version(root),
        "datamill.fingerprint": fingerprint,
        "datamill.report": str(result.report_path) if result.report_path else None,
        "datamill.warnings": list(result.warnings) or None,
        "datamill.registered_by": by,
    }
    return {k: _text(v) for k, v in tags.items() if v is not None}
