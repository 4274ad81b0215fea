"""Typed objects for ``datamill.yaml``.

The project file is parsed once into these models; code deeper in receives them,
never raw dicts. Backend-specific options (a CSV source's delimiter, a Spark
master URL) are validated by the backend's own ``Options`` model, looked up by
``type`` in the stage's registry, so third-party backends bring their own.

The blocks that belong to stages above config (a dataset's ``clean:`` and
``checks:``, quality's; ``models:``, ml's) are those stages' own models too,
named here as :class:`StageModel` and imported the first time such a block is
validated: config imports nothing above it, so ``import datamill.config``
loads no stage, and a project with only sources loads neither quality nor ml.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainValidator,
    PrivateAttr,
    field_validator,
    model_validator,
)

from datamill.config.dashboards import DashboardSpec, SavedQuery

__all__ = [
    "BackendSpec",
    "SourceSpec",
    "WriteSpec",
    "DatasetSpec",
    "PredictionSpec",
    "ProjectConfig",
    "ScheduledRun",
    "StageModel",
    "quarantine_table_name",
]

_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def quarantine_table_name(name: str) -> str:
    """The table that keeps the rows table ``name``'s node set aside (malformed, quarantined, duplicates).

    Examples
    --------
    >>> quarantine_table_name("customers")
    'customers__quarantine'
    """
    return f"{name}__quarantine"


class StageModel:
    """A block of the project file validated by a stage's own model, ``"module:Class"``.

    Used as ``Annotated[Any, StageModel("datamill.ml.spec:ModelSpec")]``. The
    stage is imported, and its model built, when a block of its kind is first
    validated: ``import datamill.config`` loads no stage, and a project without
    ``datasets:`` or ``models:`` never loads quality or ml. Errors inside the
    block keep their place (``datasets.d.clean.impute``), as in a nested model.
    """

    def __init__(self, target: str) -> None:
        self.target = target

    def load(self) -> type[BaseModel]:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)

    def validate(self, value: Any) -> Any:
        return self.load().model_validate(value)  # its errors carry their own locations on

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return handler.generate_schema(Annotated[Any, PlainValidator(self.validate)])

    def __repr__(self) -> str:
        return f"StageModel({self.target!r})"


# pydantic models only: validating a project imports no scikit-learn and runs no engine
_Clean = Annotated[Any, StageModel("datamill.quality.config:CleanSpec")]
_Check = Annotated[Any, StageModel("datamill.quality.config:CheckSpec")]
_Model = Annotated[Any, StageModel("datamill.ml.spec:ModelSpec")]
_Monitor = Annotated[Any, StageModel("datamill.monitor.config:MonitorSpec")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class BackendSpec(BaseModel):
    """An engine or a storage: a ``type`` plus the backend's own options.

    Written in the file either as a string (``duckdb``, ``lakehouse:./warehouse``,
    ``postgresql://user@host/db``, ``cassandra://host:9042/keyspace``) or as a mapping with ``type:``.
    """

    model_config = ConfigDict(extra="allow")
    type: str
    _parsed: Any = PrivateAttr(default=None)

    @property
    def options(self) -> dict[str, Any]:
        """The backend's own keys, as written."""
        return dict(self.model_extra or {})

    @property
    def parsed(self) -> Any:
        """The backend's validated ``Options`` object (set by the loader)."""
        return self._parsed


class SourceSpec(BaseModel):
    """One entry under ``sources:``; the rest of its keys belong to its ``type``."""

    model_config = ConfigDict(extra="allow")
    type: str
    on_bad_rows: Literal["fail", "quarantine", "skip"] = "fail"
    description: str = ""
    _parsed: Any = PrivateAttr(default=None)

    @property
    def options(self) -> dict[str, Any]:
        """The source type's own keys, as written."""
        return dict(self.model_extra or {})

    @property
    def parsed(self) -> Any:
        """The source type's validated ``Options`` object (set by the loader)."""
        return self._parsed


class WriteSpec(_Strict):
    """How a dataset's result is written to storage."""

    mode: Literal["overwrite", "append", "upsert"] = "overwrite"
    keys: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _upsert_needs_keys(self) -> WriteSpec:
        if self.mode == "upsert" and not self.keys:
            raise ValueError("mode upsert needs keys: [column, ...] to match rows on")
        return self


class DatasetSpec(_Strict):
    """One entry under ``datasets:``: a transform over sources and other datasets.

    Exactly one of ``sql`` (DuckDB's dialect, translated for Spark), ``python``
    (``"module:function"`` taking Arrow tables by name) or ``from`` (a copy of one
    table, the start for cleaning steps) says where the rows come from.
    """

    model_config = ConfigDict(defer_build=True)  # built on first use, not when config is imported

    from_: str | None = Field(default=None, alias="from")
    sql: str | None = None
    python: str | None = None
    inputs: list[str] = Field(default_factory=list)
    clean: _Clean | None = None  # datamill.quality.config.CleanSpec
    checks: list[_Check] = Field(default_factory=list)  # datamill.quality.config.CheckSpec
    allow_empty: bool = False  # let cleaning and checks remove every row
    write: WriteSpec = Field(default_factory=WriteSpec)
    # a streaming dataset's own storage (e.g. cassandra://host/keyspace); others use the project's
    storage: BackendSpec | None = None
    description: str = ""

    @field_validator("storage", mode="before")
    @classmethod
    def _storage(cls, value: Any) -> Any:
        return None if value is None else _backend(value, "storage")

    @model_validator(mode="after")
    def _one_body(self) -> DatasetSpec:
        given = [k for k in ("from_", "sql", "python") if getattr(self, k)]
        if given == ["from_", "sql"]:  # a streaming dataset: the kafka source, transformed (the loader checks it)
            return self
        if len(given) != 1:
            raise ValueError("give exactly one of from:, sql: or python: for a dataset")
        if self.python and ":" not in self.python:
            raise ValueError("python: must be 'module:function', e.g. 'features:build'")
        return self


_MODEL_REF = r"^[^@/\s]+(@[^@/\s]+|/[0-9]+)?$"


class PredictionSpec(_Strict):
    """One entry under ``predictions:``: a table scored by a registered model.

    The entry's key names the output table: the ``from`` table's columns, the
    ``prediction``, one ``probability_<class>`` column per class for a
    classifier, and ``model_name`` / ``model_version`` on every row. It is
    scored again when the input table changes or ``model`` resolves to another
    version (a moved alias, a newly registered version).
    """

    model_config = ConfigDict(defer_build=True)  # built on first use, not when config is imported

    model: str  # NAME (its latest version), NAME@ALIAS or NAME/VERSION
    from_: str = Field(alias="from")
    tracking_uri: str | None = None  # the model store; the project's own (.datamill/mlflow.db) by default
    description: str = ""

    @field_validator("model")
    @classmethod
    def _reference(cls, value: str) -> str:
        import re

        if not re.match(_MODEL_REF, value):
            raise ValueError(f"{value!r} is not a model reference: write NAME, NAME@ALIAS or NAME/VERSION "
                             "(e.g. churn@champion)")
        return value

    @property
    def model_name(self) -> str:
        """The registered model's name, without alias or version."""
        return self.model.split("@")[0].split("/")[0]


class ScheduledRun(_Strict):
    """One entry under ``schedule:``: ``datamill run`` (or a ``select``) on a cron expression.

    Written as the cron expression alone (``nightly: "0 2 * * *"``) or as a
    mapping with ``cron``, ``select`` (as ``datamill run --select``) and ``full_refresh``.
    """

    cron: str
    select: list[str] = Field(default_factory=list)
    full_refresh: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"cron": value} if isinstance(value, str) else value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from datamill.config.cron import check_cron

        return check_cron(value)


def _backend(value: Any, default_key: str) -> Any:
    if isinstance(value, str):
        if default_key == "storage":
            scheme, sep, rest = value.partition(":")
            if scheme in ("postgresql", "postgres"):
                return {"type": "postgres", "url": value}
            if scheme == "cassandra":
                return {"type": "cassandra", "url": value}
            if sep:
                return {"type": scheme, "path": rest}
        return {"type": value}
    return value


class ProjectConfig(_Strict):
    """The whole project file."""

    model_config = ConfigDict(defer_build=True)  # built on first use, not when config is imported

    name: str = Field(pattern=_NAME_PATTERN)
    description: str = ""
    engine: BackendSpec = Field(default_factory=lambda: BackendSpec(type="duckdb"))
    storage: BackendSpec = Field(
        default_factory=lambda: BackendSpec(type="lakehouse", path="./warehouse")
    )
    sources: dict[str, SourceSpec] = Field(default_factory=dict)
    datasets: dict[str, DatasetSpec] = Field(default_factory=dict)
    models: dict[str, _Model] = Field(default_factory=dict)  # datamill.ml.spec.ModelSpec
    predictions: dict[str, PredictionSpec] = Field(default_factory=dict)
    monitors: dict[str, _Monitor] = Field(default_factory=dict)  # datamill.monitor.config.MonitorSpec
    schedule: dict[str, ScheduledRun] = Field(default_factory=dict)  # pipeline runs for `datamill schedule`
    queries: dict[str, SavedQuery] = Field(default_factory=dict)  # SQL saved by name (the console, dashboards)
    dashboards: dict[str, DashboardSpec] = Field(default_factory=dict)  # `datamill dashboard NAME`, the UI

    @field_validator("engine", mode="before")
    @classmethod
    def _engine(cls, value: Any) -> Any:
        return _backend(value, "engine")

    @field_validator("storage", mode="before")
    @classmethod
    def _storage(cls, value: Any) -> Any:
        return _backend(value, "storage")

    @field_validator("sources", "datasets", "models", "predictions", "monitors", "schedule")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        import re

        for key in value:
            if not re.match(_NAME_PATTERN, key):
                raise ValueError(
                    f"'{key}' is not a valid table name: use letters, digits and _ "
                    "and start with a letter"
                )
        return value

    @field_validator("queries", "dashboards")
    @classmethod
    def _saved_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        import re

        for key in value:
            if not re.match(_NAME_PATTERN, key):
                raise ValueError(f"'{key}' is not a valid name: use letters, digits and _ and start with a letter")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> ProjectConfig:
        both = set(self.sources) & set(self.datasets)
        if both:
            raise ValueError(
                f"{sorted(both)} named both as a source and a dataset: "
                "every table needs its own name"
            )
        clash = set(self.models) & (set(self.sources) | set(self.datasets) | set(self.predictions))
        if clash:
            raise ValueError(
                f"{sorted(clash)} named both as a model and a table: "
                "give the model its own name (e.g. churn_model)"
            )
        scored = set(self.predictions) & (set(self.sources) | set(self.datasets))
        if scored:
            raise ValueError(
                f"{sorted(scored)} named both under predictions: and as a source or dataset: "
                "every table needs its own name (e.g. customers_scored)"
            )
        return self
