"""The errors datamill raises.

Every error derives from :class:`DatamillError`; each stage has its own subtree so
callers can catch one stage's failures without catching a backend's exceptions
(those are translated at the boundary with ``raise ... from exc``)::

    DatamillError
    ├── ConfigError          the project file or a CLI argument is wrong
    │   └── DependencyError  an optional extra is not installed
    ├── SourceError          reading a source failed (file, HTTP, SQL, Kafka)
    │   └── BadRowsError     a source has malformed rows and on_bad_rows is fail
    ├── EngineError          a transform failed on DuckDB or Spark
    ├── StorageError         reading or writing a table failed
    │   └── TableNotFound    the named table does not exist
    ├── PipelineError        the DAG is malformed or a node failed
    ├── QualityError         a cleaning step or a check failed
    ├── ModelError           training, tuning or evaluation failed
    └── ServingError         the model server could not answer

A message says what went wrong, where, and how to fix it, ending with a hint
where one helps: ``"customers.csv line 1043: 7 fields, expected 9 (use
on_bad_rows: quarantine to keep going)"``.
"""

from __future__ import annotations

__all__ = [
    "DatamillError",
    "ConfigError",
    "DependencyError",
    "SourceError",
    "BadRowsError",
    "EngineError",
    "StorageError",
    "TableNotFound",
    "PipelineError",
    "QualityError",
    "ModelError",
    "ServingError",
]


class DatamillError(Exception):
    """Root of every error datamill raises on purpose."""


class ConfigError(DatamillError):
    """The project file, an option or an argument is invalid."""


class DependencyError(ConfigError):
    """An optional dependency is missing; the message names the extra to install."""


class SourceError(DatamillError):
    """A source could not be read."""


class BadRowsError(SourceError):
    """A source has malformed rows and ``on_bad_rows`` is ``fail``."""


class EngineError(DatamillError):
    """A transform failed on the compute engine."""


class StorageError(DatamillError):
    """A table could not be read or written."""


class TableNotFound(StorageError):
    """The named table does not exist in the project's storage."""


class PipelineError(DatamillError):
    """The pipeline's DAG is malformed, or one of its nodes failed."""


class QualityError(DatamillError):
    """A cleaning step or a data check failed."""


class ModelError(DatamillError):
    """Training, tuning or evaluating a model failed."""


class ServingError(DatamillError):
    """The model server could not answer a request."""
