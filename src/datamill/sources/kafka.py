"""``type: kafka``: a topic read as a stream of micro-batches by ``datamill stream DATASET``.

```yaml
sources:
  orders:
    type: kafka
    brokers: "127.0.0.1:9092"
    topic: orders                 # or topics: [a, b]
    format: json                  # json | csv | avro
datasets:
  orders_clean:
    from: orders                  # a dataset on a kafka source is a streaming dataset
    sql: "select id, amount from orders where amount > 0"
    write: {mode: upsert, keys: [id]}
```

A kafka source is never read as a batch source: ``datamill run`` skips it and
the streaming datasets on it, which :mod:`datamill.stream` runs. This module is
only the typed configuration (confluent-kafka is imported by the stream, not here).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from datamill._deps import require
from datamill.exceptions import SourceError
from datamill.sources.base import ReadContext, Source, SourceOptions

try:  # the producer's ``publish:`` block (datamill.stream.producer); a mapping until it is installed
    from datamill.sources.publish import PublishSpec as _Publish
except ImportError:  # pragma: no cover - until the producer lands
    _Publish = dict[str, Any]  # type: ignore[misc, assignment]

__all__ = ["KafkaOptions", "KafkaSource", "arrow_type"]

# column types a csv or json message may declare (``columns: {id: int64, ...}``)
_TYPES = {
    "string": pa.string(), "str": pa.string(), "text": pa.string(), "varchar": pa.string(),
    "int": pa.int64(), "int64": pa.int64(), "bigint": pa.int64(), "int32": pa.int32(), "integer": pa.int32(),
    "double": pa.float64(), "float64": pa.float64(), "float": pa.float64(), "float32": pa.float32(),
    "bool": pa.bool_(), "boolean": pa.bool_(), "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"), "timestamptz": pa.timestamp("us", tz="UTC"),
}


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type for a declared column type.

    Examples
    --------
    >>> arrow_type("int64")
    DataType(int64)
    """
    found = _TYPES.get(name.strip().lower())
    if found is None:
        from datamill._registry import did_you_mean

        raise ValueError(f"unknown column type '{name}'{did_you_mean(name, _TYPES)}; known: {', '.join(sorted(_TYPES))}")
    return found


class KafkaOptions(SourceOptions):
    """Keys of a ``type: kafka`` source (see the module docstring)."""

    brokers: str = Field(min_length=1)  # bootstrap servers, "host:port[,host:port]"
    topic: str | None = None
    topics: list[str] | None = None
    group: str | None = None  # consumer group; default "datamill.<dataset>"
    format: Literal["json", "csv", "avro"] = "json"
    # csv: the column names in order (a mapping declares their types too); json: declared types
    columns: list[str] | dict[str, str] | None = None
    avro_schema: dict[str, Any] | None = None  # avro: the writer's schema, inline
    batch_messages: int = Field(10_000, gt=0)  # a micro-batch ends at this many messages ...
    batch_seconds: float = Field(1.0, gt=0)  # ... or after this long
    dead_letter_topic: str | None = None  # default "<topic>.dead"
    start: Literal["earliest", "latest"] = "earliest"  # a new group with nothing stored starts here
    consumer: dict[str, Any] = Field(default_factory=dict)  # extra librdkafka settings, as written
    publish: _Publish | None = None  # API -> Kafka (datamill.stream.producer)

    @field_validator("columns")
    @classmethod
    def _types(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for name in value.values():
                arrow_type(str(name))
        return value

    @model_validator(mode="after")
    def _shape(self) -> KafkaOptions:
        if (self.topic is None) == (self.topics is None):
            raise ValueError("give exactly one of topic: NAME or topics: [A, B]")
        if self.topics is not None and not self.topics:
            raise ValueError("topics: is empty: name at least one topic")
        if self.format == "csv" and not self.columns:
            raise ValueError("format csv needs columns: [name, ...] (the fields of each line, in order)")
        if self.format == "avro" and not self.avro_schema:
            raise ValueError("format avro needs avro_schema: {type: record, name: ..., fields: [...]}")
        if self.format == "avro" and self.columns:
            raise ValueError("format avro takes its columns from avro_schema: remove columns:")
        if self.avro_schema is not None:
            fastavro = require("fastavro", purpose="format avro")
            try:
                fastavro.parse_schema(self.avro_schema)
            except Exception as exc:  # fastavro's SchemaParseException, KeyError, ...
                raise ValueError(f"avro_schema is not a valid Avro schema: {exc}") from None
        return self

    @property
    def topic_names(self) -> list[str]:
        return [self.topic] if self.topic is not None else list(self.topics or [])

    def dead_letters(self, topic: str) -> str:
        """The dead-letter topic for messages of ``topic``."""
        return self.dead_letter_topic or f"{topic}.dead"


class KafkaSource(Source):
    """A Kafka topic: consumed by ``datamill stream``, never read whole."""

    Options = KafkaOptions
    #: read continuously by datamill.stream, not by the batch pipeline
    streaming: ClassVar[bool] = True

    def read(self, ctx: ReadContext) -> pa.RecordBatchReader:
        raise SourceError(
            f"source '{self.name}' is a Kafka topic, which is read as a stream, not as a batch "
            f"(fix: name it in a dataset's from: and run `datamill stream DATASET`)"
        )
