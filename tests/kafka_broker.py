"""A real Kafka-protocol broker for the tests: datamill's local ``tansu`` (``datamill.stream.broker``).

Its log lives in memory (:meth:`KafkaBroker.restart` starts an empty broker on the
same port: a test that wants the log back produces it again), and its high
watermark reads low, so :meth:`KafkaBroker.read_all` reads until a quiet spell.

Consumer-group joins take about half the consumer's ``session.timeout.ms``:
:data:`FAST_GROUP` keeps them near a second and a half.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import Any

from datamill.stream.broker import KafkaBroker as _Broker
from datamill.stream.broker import kafka_broker as _kafka_broker

# consumer settings that keep a group join (and a rebalance after a kill -9) short
FAST_GROUP = {"session.timeout.ms": 3000, "heartbeat.interval.ms": 500, "reconnect.backoff.max.ms": 1000}


class KafkaBroker(_Broker):
    """The local broker (``datamill.stream.broker``) with the tests' helpers to produce and read back."""

    def produce(self, topic: str, values: Iterable[bytes | str | None], *, keys: Iterable[Any] | None = None,
                partition: int | Iterable[int] | None = None) -> int:
        """Produce ``values`` (with ``keys``; to ``partition``, one for all or one per value); wait for delivery."""
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        failed: list[str] = []

        def report(err: Any, msg: Any) -> None:
            if err is not None:
                failed.append(str(err))

        keys_it = iter(keys) if keys is not None else None
        parts = iter(partition) if partition is not None and not isinstance(partition, int) else None
        n = 0
        for value in values:
            extra: dict[str, Any] = {}
            if keys_it is not None:
                key = next(keys_it)
                extra["key"] = key if key is None or isinstance(key, bytes) else str(key).encode()
            if parts is not None:
                extra["partition"] = next(parts)
            elif isinstance(partition, int):
                extra["partition"] = partition
            data = value.encode() if isinstance(value, str) else value
            while True:
                try:
                    producer.produce(topic, value=data, on_delivery=report, **extra)
                    break
                except BufferError:
                    producer.poll(0.1)
            n += 1
        left = producer.flush(30)
        if left or failed:
            raise RuntimeError(f"{left} messages undelivered, {len(failed)} failed: {failed[:3]}")
        return n

    def read_all(self, topic: str, *, quiet: float = 3.0, timeout: float = 60.0) -> list[Any]:
        """Every message of ``topic`` (all partitions), read without a group until ``quiet`` seconds pass with none."""
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "datamill-tests-reader",
                             "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        try:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
            out: list[Any] = []
            deadline = time.monotonic() + timeout
            last = time.monotonic()
            while time.monotonic() < deadline and time.monotonic() - last < quiet:
                for msg in consumer.consume(1000, 0.2):
                    if msg.error() is None:
                        out.append(msg)
                        last = time.monotonic()
            return out
        finally:
            consumer.close()


def kafka_broker() -> contextlib.AbstractContextManager[KafkaBroker]:
    """A started broker with the tests' helpers, closed when the block ends."""
    return _kafka_broker(KafkaBroker)
