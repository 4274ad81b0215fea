"""The consumer loop: poll a micro-batch, transform it, write it with its offsets, then commit them to Kafka.

Exactly-once into the table rests on the storage, not on Kafka:

1. every write carries one transaction per partition in the batch,
   ``(app_id(dataset, topic, partition), next offset)`` (:mod:`datamill.storage`,
   ``txn=``), recorded in the same commit as the rows;
2. only then are the offsets committed to Kafka (synchronously);
3. when a partition is assigned (start, restart, a rebalance) the consumer seeks
   to what the table recorded (``last_txn``), else to the group's committed
   offset, else to ``start:``.

A crash between 1 and 2 leaves Kafka behind the table: on restart the consumer
seeks to the table's offset, so nothing is written twice; a crash before 1
leaves both behind, so the batch is read again. Messages below the recorded
offset that still arrive (a broker that reset a partition) are dropped, so a
write never mixes old and new rows. Unreadable messages and rows a ``fail``
check rejects go to the dead-letter topic (at least once: they are sent before
the write) and to ``<dataset>__quarantine`` (exactly once: upserted by a key
of their message, with the same transactions, recorded for that table).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from datamill._deps import require
from datamill.config.schema import quarantine_table_name
from datamill.exceptions import SourceError, StorageError
from datamill.stream.batch import QUARANTINE_KEYS, MicroBatch, Outcome
from datamill.stream.dataset import StreamTarget, app_id

__all__ = ["FAULT_VARIABLE", "StreamStats", "run_stream"]

#: internal, for fault tests: ``POINT:N`` kills the process (SIGKILL) at POINT of the Nth batch,
#: POINT one of before_write, after_quarantine, after_write, after_commit
FAULT_VARIABLE = "DATAMILL_STREAM_FAULT"

Partition = tuple[str, int]
# seconds between tries of a failed write: ~30 s in all, so a storage restarting (a 10-20 s outage) is ridden
# out, and at most 2 s apart, so the batch lands soon after the storage is back
_RETRY_DELAYS = (0.2, 0.5, 1.0, *(2.0,) * 14)
_RETRY_WINDOW = sum(_RETRY_DELAYS)


@dataclass
class StreamStats:
    """What one ``datamill stream`` process did."""

    messages: int = 0  # read (each counted once, when its batch was stored)
    rows: int = 0  # rows written to the table
    dead: int = 0  # dead letters
    quarantined: int = 0  # rows in the quarantine table
    batches: int = 0
    replayed: int = 0  # messages dropped because the table already held them
    warnings: list[str] = field(default_factory=list)


class _Fault:
    def __init__(self) -> None:
        point, _, n = os.environ.get(FAULT_VARIABLE, "").partition(":")
        self.point, self.batch = point, int(n) if n.isdigit() else 0

    def __call__(self, point: str, batch: int) -> None:
        if point == self.point and batch == self.batch:
            os.kill(os.getpid(), signal.SIGKILL)


class _Loop:
    """State of one consumer: assigned partitions, their floors, the batch being gathered."""

    def __init__(self, target: StreamTarget, engine: Any, storage: Any, *, run_id: str, metrics: Any,
                 on_event: Callable[[str], None]) -> None:
        self.kafka = require("confluent_kafka", purpose="datamill stream")
        self.target = target
        self.storage = storage
        self.metrics = metrics
        self.on_event = on_event
        self.batch = MicroBatch(target, engine, storage, run_id)
        self.table = target.name
        self.quarantine = quarantine_table_name(target.name)
        self.floors: dict[Partition, int] = {}  # next offset the table expects, per assigned partition
        self.qfloors: dict[Partition, int] = {}  # the same for the quarantine table
        self.buffer: list[Any] = []
        self.stats = StreamStats()
        self.fault = _Fault()
        self.consumer = self.kafka.Consumer(self._config())
        self._producer: Any = None
        self._said: dict[str, float] = {}  # error text -> when it was last shown
        self.assigned_at: float | None = None  # when partitions were last assigned (idleness counts from there)

    def _config(self) -> dict[str, Any]:
        o = self.target.options
        conf: dict[str, Any] = {
            "bootstrap.servers": o.brokers,
            "group.id": self.target.group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": o.start,
            # a group join waits about half of this on some brokers; Kafka's default (45 s) is long for a restart
            "session.timeout.ms": 10_000,
            "error_cb": self._error,
            "logger": _kafka_log(),  # librdkafka's lines (a broker gone at shutdown) go to the run log, not stderr
        }
        conf.update(o.consumer)
        return conf

    def _error(self, err: Any) -> None:
        """librdkafka's errors (a broker down: it reconnects by itself), each said once in 10 s."""
        text = f"kafka: {err.str() if hasattr(err, 'str') else err}"
        now = time.monotonic()
        if self._said.get(text, -1e9) + 10 <= now:
            self._said[text] = now
            self.on_event(text)

    # -- partitions come and go ------------------------------------------------------------

    def on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            key = (tp.topic, tp.partition)
            app = app_id(self.table, tp.topic, tp.partition)
            stored = self._last_txn(app, self.table)
            self.floors[key] = stored or 0
            self.qfloors[key] = max(self._last_txn(app, self.quarantine) or 0, stored or 0)
            if stored is not None:  # the table is the truth: resume where it ends
                tp.offset = stored
        consumer.assign(partitions)
        self.assigned_at = time.monotonic()
        where = ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset if tp.offset >= 0 else 'group/start'}"
                          for tp in partitions)
        self.on_event(f"assigned {where or 'no partitions'}")

    def _last_txn(self, app: str, table: str) -> int | None:
        try:
            return self.storage.last_txn(app, table)
        except StorageError as exc:
            if self.storage.exists(table):
                raise
            del exc
            return None

    def on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        gone = {(tp.topic, tp.partition) for tp in partitions}
        # messages gathered but not stored: the partition's next owner reads them from the table's offset
        self.buffer = [m for m in self.buffer if (m.topic(), m.partition()) not in gone]
        for key in gone:
            self.floors.pop(key, None)
            self.qfloors.pop(key, None)
        if self.metrics is not None and gone:
            self.metrics.revoked(sorted(gone))
        if gone:
            self.on_event(f"revoked {', '.join(f'{t}[{p}]' for t, p in sorted(gone))}")

    # -- gathering a batch -----------------------------------------------------------------

    def gather(self, stop: threading.Event, limit: int | None) -> float | None:
        """Fill :attr:`buffer` up to a batch (by size or time); returns when the last message arrived, if any."""
        o = self.target.options
        size = o.batch_messages if limit is None else min(o.batch_messages, limit)
        started: float | None = None
        last: float | None = None
        while not stop.is_set() and len(self.buffer) < size:
            now = time.monotonic()
            wait = 0.2 if started is None else min(0.2, started + o.batch_seconds - now)
            if wait <= 0:
                break
            for message in self.consumer.consume(min(size - len(self.buffer), 100_000), wait):
                if message.error() is not None:
                    self._message_error(message)
                    continue
                last = time.monotonic()
                key = (message.topic(), message.partition())
                if key not in self.floors:
                    continue  # revoked while in flight
                if message.offset() < self.floors[key]:
                    self.stats.replayed += 1  # the table holds it already
                    continue
                self.buffer.append(message)
                started = started or last
            if started is None and last is None:
                return None  # nothing came in this poll: let the caller look at idleness
        return last

    def _message_error(self, message: Any) -> None:
        err = message.error()
        if err.code() == self.kafka.KafkaError._PARTITION_EOF:
            return
        if err.fatal():
            raise SourceError(f"kafka: {err.str()} (fix: check the brokers and the topic)")
        self.on_event(f"kafka: {err.str()}")

    # -- storing a batch -------------------------------------------------------------------

    def flush(self) -> None:
        """Store the gathered batch: dead letters, quarantine, rows with their offsets; then commit to Kafka."""
        messages, self.buffer = self.buffer, []
        if not messages:
            return
        started = time.monotonic()
        n = self.stats.batches + 1
        ends: dict[Partition, int] = {}
        counts: dict[Partition, int] = {}
        for m in messages:
            key = (m.topic(), m.partition())
            ends[key] = max(ends.get(key, 0), m.offset() + 1)
            counts[key] = counts.get(key, 0) + 1
        outcome = self.batch.run(messages)
        self.fault("before_write", n)
        self._dead_letters(outcome, ends)
        self._write_quarantine(outcome.quarantine, ends)
        self.fault("after_quarantine", n)
        rows = self._write_rows(outcome.rows, ends)
        self.fault("after_write", n)
        for key, end in ends.items():
            self.floors[key] = self.qfloors[key] = end
        self._commit(ends)
        self.fault("after_commit", n)
        s = self.stats
        s.messages += len(messages)
        s.rows += rows
        s.dead += len(outcome.dead)
        s.batches += 1
        for w in outcome.warnings:
            if w not in s.warnings:
                s.warnings.append(w)
                self.on_event(w)
        if self.metrics is not None:
            from datamill.stream.metrics import PartitionState

            self.metrics.batch_done({k: PartitionState(messages=counts[k], consumed=e, committed=e)
                                     for k, e in ends.items()}, rows=rows, dead=len(outcome.dead),
                                    seconds=time.monotonic() - started)
            self.metrics.watermarks(self._watermarks(ends))

    def _watermarks(self, ends: dict[Partition, int]) -> dict[Partition, int | None]:
        """The high watermarks of the batch's partitions from the last fetch responses (no request to the broker)."""
        marks: dict[Partition, int | None] = {}
        for topic, partition in ends:
            try:
                _, high = self.consumer.get_watermark_offsets(self.kafka.TopicPartition(topic, partition), cached=True)
            except self.kafka.KafkaException:
                high = None
            marks[(topic, partition)] = high if high is not None and high >= 0 else None
        return marks

    def _write_rows(self, rows: pa.Table | None, ends: dict[Partition, int]) -> int:
        if rows is None:  # nothing readable and no columns known: Kafka's offsets carry the batch
            return 0
        txn = [(app_id(self.table, t, p), end) for (t, p), end in sorted(ends.items())]
        spec = self.target.spec
        result = self._retrying(lambda: self.storage.write(self.table, rows, mode=self.target.mode,
                                                           keys=spec.write.keys, txn=txn))
        return 0 if result.replayed else result.rows_written

    def _retrying(self, write: Callable[[], Any]) -> Any:
        """Run a transactional write, again after a storage error (down, a concurrent commit), for about 30 s.

        Safe because the write carries its transactions: one that landed before
        its error was seen is replayed as a no-op. Offsets stay uncommitted until it lands.
        """
        said, started = "", time.monotonic()
        for tries, delay in enumerate(_RETRY_DELAYS, 1):
            try:
                result = write()
            except StorageError as exc:
                text = str(exc).splitlines()[0]
                if text != said:  # the same error again is said once (a storage down fails every try alike)
                    said = text
                    self.on_event(f"storage: {text}; trying again (for up to {_RETRY_WINDOW:.0f} s)")
                time.sleep(delay)
                continue
            if tries > 1:
                self.on_event(f"storage: written at try {tries}, {time.monotonic() - started:.0f} s after the first")
            return result
        return write()

    def _write_quarantine(self, table: pa.Table, ends: dict[Partition, int]) -> None:
        """Upsert the set-aside rows not yet in the quarantine table, with the batch's transactions for it.

        Upsert by :data:`~datamill.stream.batch.QUARANTINE_KEYS` (the message's
        origin, offset and reason), not append: where a write is not atomic
        (Cassandra stores the rows, then the txn row) a crash between the two
        makes the batch be read and stored again, and those rows then replace
        themselves. Where it is atomic the txn alone already skips a stored batch.
        """
        fresh = {k: end for k, end in ends.items() if end > self.qfloors.get(k, 0)}
        if not table.num_rows or not fresh:
            return
        keep = [_after(origin, line, ends, self.qfloors)
                for origin, line in zip(table.column("origin").to_pylist(), table.column("line").to_pylist(),
                                        strict=True)]
        table = table.filter(pa.array(keep, pa.bool_()))
        if not table.num_rows:
            return
        txn = [(app_id(self.table, t, p), end) for (t, p), end in sorted(fresh.items())]
        result = self._retrying(lambda: self.storage.write(self.quarantine, table, mode="upsert",
                                                           keys=list(QUARANTINE_KEYS), txn=txn))
        if result.replayed:
            return
        self.stats.quarantined += table.num_rows

    def _dead_letters(self, outcome: Outcome, ends: dict[Partition, int]) -> None:
        if not outcome.dead:
            return
        producer = self.producer()
        failed: list[str] = []

        def report(err: Any, msg: Any) -> None:
            if err is not None:
                failed.append(str(err))

        for d in outcome.dead:
            m = d.message
            topic = m.topic() if m is not None else (d.topic or self.target.options.topic_names[0])
            if m is not None and m.offset() < self.qfloors.get((m.topic(), m.partition()), 0):
                continue  # sent before the crash that replays this batch
            headers = [("datamill.error", d.error.encode()), ("datamill.dataset", self.table.encode()),
                       ("datamill.topic", topic.encode())]
            if m is not None:
                ts = m.timestamp()[1]
                headers += [("datamill.partition", str(m.partition()).encode()),
                            ("datamill.offset", str(m.offset()).encode()),
                            ("datamill.timestamp", str(ts).encode())]
                key, value = m.key(), m.value()
            else:
                key, value = None, (d.row or "").encode()
            producer.produce(self.target.options.dead_letters(topic), value=value, key=key, headers=headers,
                             on_delivery=report)
            producer.poll(0)
        left = producer.flush(30)
        if left or failed:
            raise SourceError(f"{left + len(failed)} dead letters were not delivered ({'; '.join(failed[:3])}); the "
                              "batch is not stored and will be read again (fix: check the dead-letter topic exists)")

    def producer(self) -> Any:
        if self._producer is None:
            self._producer = self.kafka.Producer({"bootstrap.servers": self.target.options.brokers, "linger.ms": 5,
                                                 "logger": _kafka_log()})
        return self._producer

    def _commit(self, ends: dict[Partition, int]) -> None:
        offsets = [self.kafka.TopicPartition(t, p, end) for (t, p), end in sorted(ends.items())]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except self.kafka.KafkaException as exc:  # the table holds the offsets: the next start seeks there
            self.on_event(f"kafka: offsets not committed ({exc.args[0].str() if exc.args else exc}); "
                          "the table holds them, so a restart resumes right")

    def close(self) -> None:
        try:
            self.consumer.close()
        finally:
            if self._producer is not None:
                self._producer.flush(10)


def _after(origin: str, offset: int, ends: dict[Partition, int], floors: dict[Partition, int]) -> bool:
    """Whether a quarantine row is not yet stored: its message's offset is at or past the table's floor.

    Rows filed under the batch rather than one message (``dataset@topic/partition``) always go.
    """
    topic, _, partition = origin.rpartition("/")
    key = (topic, int(partition)) if partition.isdigit() else None
    if key not in ends:
        return True
    return offset >= floors.get(key, 0)


def _kafka_log() -> logging.Logger:
    return logging.getLogger("datamill.stream.kafka")


def _dead_letter_topics(loop: _Loop, target: StreamTarget) -> None:
    """Create the dead-letter topics that do not exist yet (one partition each), so a dead letter never waits."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": target.options.brokers, "logger": _kafka_log()})
    names = sorted({target.options.dead_letters(t) for t in target.options.topic_names})
    try:
        existing = set(admin.list_topics(timeout=10).topics)
    except loop.kafka.KafkaException as exc:
        raise SourceError(f"kafka source '{target.source}': cannot reach the brokers {target.options.brokers} "
                          f"({exc.args[0].str() if exc.args else exc}) (fix: start the broker or correct brokers:)"
                          ) from None
    missing = [NewTopic(n, 1, 1) for n in names if n not in existing]
    if not missing:
        return
    for name, future in admin.create_topics(missing, operation_timeout=10).items():
        try:
            future.result(timeout=20)
        except loop.kafka.KafkaException as exc:
            if exc.args and exc.args[0].code() != loop.kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                loop.on_event(f"kafka: cannot create dead-letter topic {name}: {exc.args[0].str()}")


def _idle(loop: _Loop, last: float, until_idle: float) -> bool:
    """No message for ``until_idle`` s since the last one or the last assignment (a first join may take a while)."""
    if loop.assigned_at is None:  # not yet in the group: joining is not idleness
        return time.monotonic() - last >= max(until_idle, 60.0)
    return time.monotonic() - max(last, loop.assigned_at) >= until_idle


def run_stream(target: StreamTarget, engine: Any, storage: Any, *, stop: threading.Event | None = None,
               until_idle: float | None = None, max_messages: int | None = None, run_id: str = "",
               metrics: Any = None, on_event: Callable[[str], None] = lambda _: None,
               on_batch: Callable[[StreamStats], None] = lambda _: None) -> StreamStats:
    """Consume ``target``'s topics into storage until ``stop`` is set, idle for ``until_idle`` s, or ``max_messages``.

    The batch being gathered when ``stop`` is set is still stored and committed.
    """
    if not getattr(storage, "supports_txn", False):
        raise StorageError(f"{type(storage).__name__} does not record stream transactions, so dataset "
                           f"'{target.name}' cannot be written exactly once (fix: store it in a lakehouse, "
                           "postgresql, duckdb or cassandra storage)")
    stop = stop or threading.Event()
    loop = _Loop(target, engine, storage, run_id=run_id, metrics=metrics, on_event=on_event)
    try:
        _dead_letter_topics(loop, target)
        loop.consumer.subscribe(target.options.topic_names, on_assign=loop.on_assign, on_revoke=loop.on_revoke,
                                on_lost=loop.on_revoke)
        last = time.monotonic()
        while not stop.is_set():
            left = None if max_messages is None else max_messages - loop.stats.messages - len(loop.buffer)
            if left is not None and left <= 0:
                break
            arrived = loop.gather(stop, left)
            if arrived is not None:
                last = arrived
            if loop.buffer:
                loop.flush()
                on_batch(loop.stats)
                # idle means no message while polling: a write retried through a storage outage is not
                # idleness, and the messages that came meanwhile wait in the consumer's queue
                last = time.monotonic()
            if until_idle is not None and _idle(loop, last, until_idle):
                break
        loop.flush()  # stopped while gathering: store what came
    finally:
        loop.close()
    return loop.stats
