"""A streaming dataset, resolved for ``datamill stream NAME``: its kafka source, group and write mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datamill.config.schema import DatasetSpec, ProjectConfig
from datamill.config.streaming import streaming_datasets
from datamill.exceptions import ConfigError

__all__ = ["StreamTarget", "app_id", "stream_target"]


def app_id(dataset: str, topic: str, partition: int) -> str:
    """The storage transaction id of one partition of a stream (Contract 1).

    Examples
    --------
    >>> app_id("orders_clean", "orders", 3)
    'datamill.stream/orders_clean/orders/3'
    """
    return f"datamill.stream/{dataset}/{topic}/{partition}"


@dataclass
class StreamTarget:
    """A streaming dataset, resolved: its spec, its kafka source and the options of both."""

    name: str
    spec: DatasetSpec
    source: str
    options: Any  # datamill.sources.kafka.KafkaOptions

    @property
    def mode(self) -> str:
        """append unless the dataset says upsert (a stream never overwrites)."""
        return self.spec.write.mode if "write" in self.spec.model_fields_set else "append"

    @property
    def group(self) -> str:
        return self.options.group or f"datamill.{self.name}"

    @property
    def query(self) -> str:
        return self.spec.sql or f'select * from "{self.source}"'


def stream_target(config: ProjectConfig, name: str) -> StreamTarget:
    """The streaming dataset ``name``; a ConfigError names the streaming datasets when it is not one."""
    from datamill._registry import did_you_mean

    streams = streaming_datasets(config)
    if name not in streams:
        known = ", ".join(sorted(streams)) or "none (a streaming dataset has from: a kafka source)"
        what = ("a batch dataset (run it with `datamill run`)" if name in config.datasets else
                "a source" if name in config.sources else "not in the project file")
        raise ConfigError(f"'{name}' is {what}, not a streaming dataset{did_you_mean(name, streams)}; "
                          f"streaming datasets: {known}")
    spec = config.datasets[name]
    source = streams[name]
    src = config.sources[source]
    from datamill.sources import SOURCES

    options = src.parsed or SOURCES.load(src.type).Options.model_validate(src.options)
    return StreamTarget(name, spec, source, options)
