"""Streaming datasets in the project file: which they are, and what only they may say.

A dataset whose ``from:`` names a source of a streaming type (``type: kafka``)
is a streaming dataset: ``datamill stream NAME`` runs it, ``datamill run``
skips it. Only it may name its own ``storage:`` (e.g. Cassandra) and give
``sql:`` together with ``from:`` (the topic, transformed).
"""

from __future__ import annotations

from typing import Any

from datamill.config.schema import DatasetSpec, ProjectConfig, SourceSpec
from datamill.exceptions import ConfigError

__all__ = ["check_streaming", "is_streaming_source", "streaming_datasets"]


def is_streaming_source(spec: SourceSpec) -> bool:
    """Whether a source is read as a stream (its type's class says ``streaming = True``)."""
    from datamill.sources import SOURCES

    try:
        return bool(getattr(SOURCES.load(spec.type), "streaming", False))
    except ConfigError:  # an unknown type: the loader reports it
        return False


def streaming_datasets(config: ProjectConfig) -> dict[str, str]:
    """Streaming dataset name -> the kafka source it reads."""
    streams = {name for name, spec in config.sources.items() if is_streaming_source(spec)}
    return {name: spec.from_ for name, spec in config.datasets.items() if spec.from_ in streams}


def check_streaming(config: ProjectConfig) -> list[tuple[tuple[Any, ...], str]]:
    """Problems with streaming datasets and ``storage:`` in a valid-looking config, as (path, message)."""
    streams = {name for name, spec in config.sources.items() if is_streaming_source(spec)}
    problems: list[tuple[tuple[Any, ...], str]] = []
    for name, spec in config.datasets.items():
        path = ("datasets", name)
        streaming = spec.from_ in streams
        if spec.storage is not None and not streaming:
            problems.append((path + ("storage",), "only a streaming dataset (from: a kafka source) has its own "
                             "storage: a batch dataset is stored in the project's storage (fix: remove storage:)"))
        if spec.from_ and spec.sql and not streaming:
            problems.append((path, "give exactly one of from:, sql: or python: for a dataset (from: together with "
                             "sql: is for a dataset on a kafka source)"))
        if streaming and spec.python:
            problems.append((path + ("python",), "a streaming dataset transforms with sql: (python: is for batch "
                             "datasets)"))
        if streaming and "write" in spec.model_fields_set and spec.write.mode == "overwrite":
            problems.append((path + ("write", "mode"), "a streaming dataset writes each micro-batch: overwrite would "
                             "keep only the last one (fix: mode: append, or mode: upsert with keys)"))
        if not streaming:
            read = _reads(spec)
            for source in sorted(read & streams):
                problems.append((path, f"reads kafka source '{source}', which is a stream, not a table (fix: make "
                                 f"it a streaming dataset: from: {source}, with sql: reading {source})"))
    return problems


def _reads(spec: DatasetSpec) -> set[str]:
    from datamill.engine.sql import referenced_tables
    from datamill.exceptions import EngineError

    if spec.from_:
        return {spec.from_}
    if spec.sql:
        try:
            return set(referenced_tables(spec.sql))
        except EngineError:
            return set()  # the pipeline reports bad SQL
    return set(spec.inputs)
