"""Message values to Arrow, without a broker: the fast path, the bad values, types kept across batches."""

from __future__ import annotations

import pyarrow as pa

from datamill.sources.kafka import KafkaOptions
from datamill.stream.formats import SchemaMemory, message_format


def _format(**options):  # noqa: ANN003, ANN202
    return message_format(KafkaOptions(brokers="b:9092", topic="t", **options))


def test_json_bad_values_are_reported_by_index_and_the_rest_parsed() -> None:
    parsed = _format().parse([b'{"a": 1}', b"{oops", b"[1, 2]", None, b'{"a": 4}'])
    assert parsed.table.column("a").to_pylist() == [1, 4]
    assert parsed.rows == [0, 4]
    assert [i for i, _ in parsed.bad] == [1, 2, 3]
    assert "expected an object" in parsed.bad[1][1]


def test_json_declared_types_hold_even_when_a_batch_is_all_null() -> None:
    parsed = _format(columns={"a": "int64", "b": "string"}).parse([b'{"a": null, "extra": 1}'])
    assert parsed.table.schema == pa.schema([("a", pa.int64()), ("b", pa.string())])


def test_csv_lines_with_wrong_field_counts_or_types_are_bad() -> None:
    parsed = _format(format="csv", columns={"id": "int64", "name": "string"}).parse([b"1,a\n", b"2", b"x,b", b"3,c"])
    assert parsed.table.column("id").to_pylist() == [1, 3]
    assert [i for i, _ in parsed.bad] == [1, 2]


def test_avro_values_that_do_not_fit_the_schema_are_bad() -> None:
    import io

    import fastavro

    schema = {"type": "record", "name": "r", "fields": [{"name": "id", "type": "long"}]}
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), {"id": 7})
    parsed = _format(format="avro", avro_schema=schema).parse([buffer.getvalue(), b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"])
    assert parsed.table.to_pylist() == [{"id": 7}]
    assert [i for i, _ in parsed.bad] == [1]


def test_schema_memory_keeps_types_and_columns_from_batch_to_batch() -> None:
    memory = SchemaMemory()
    memory.conform(pa.table({"a": [1], "b": ["x"]}))
    later = memory.conform(pa.table({"a": pa.nulls(2)}))
    assert later.schema == pa.schema([("a", pa.int64()), ("b", pa.string())])
    assert later.num_rows == 2
