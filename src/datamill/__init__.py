"""datamill: one tool for the whole data lifecycle.

Import is kept light: engines, storages and sources load their libraries only
when first used.

Examples
--------
>>> import datamill
>>> datamill.DatamillError.__name__
'DatamillError'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datamill.exceptions import (
    BadRowsError,
    ConfigError,
    DatamillError,
    DependencyError,
    EngineError,
    ModelError,
    PipelineError,
    QualityError,
    ServingError,
    SourceError,
    StorageError,
    TableNotFound,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from datamill.project import Project

__all__ = [
    "BadRowsError",
    "ConfigError",
    "DatamillError",
    "DependencyError",
    "EngineError",
    "ModelError",
    "PipelineError",
    "Project",
    "QualityError",
    "ServingError",
    "SourceError",
    "StorageError",
    "TableNotFound",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "Project":
        from datamill.project import Project

        return Project
    raise AttributeError(f"module 'datamill' has no attribute {name!r}")
