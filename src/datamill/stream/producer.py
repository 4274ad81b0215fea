"""API → Kafka: poll an HTTP source, publish its new and changed records to a topic, keyed.

A ``type: kafka`` source with ``publish:`` (:class:`~datamill.sources.publish.PublishSpec`)
has a producer; ``datamill stream SOURCE`` runs it through :func:`run_producer`:

1. every ``every`` seconds, read the ``from:`` HTTP source page by page (its
   pagination and retries: :meth:`HttpSource.pages`);
2. keep the records that are new: a key never published, or published with
   other content (a digest of the record), or, with ``cursor:``, a cursor past
   the highest one published;
3. publish each as JSON, keyed by its ``key:`` field, with an idempotent
   producer (``acks=all``), and wait for every delivery report;
4. only then record the confirmed ones in the checkpoint,
   ``.datamill/streams/<source>.json`` (written atomically after each page).

A delivery that fails (broker down, timeout) leaves its record out of the
checkpoint, so the next poll publishes it again: records reach the topic at
least once, and a consumer that upserts by key (a streaming dataset with
``write: {mode: upsert, keys: [...]}``) stores each exactly once. An API that
does not answer is retried with backoff and a log line, never a traceback.

Memory stays bounded: the checkpoint holds one short digest per key the API
listed on its last complete poll (keys the API no longer lists are forgotten),
or, with ``cursor:``, only the keys at the highest cursor.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from datamill._deps import require
from datamill._registry import did_you_mean
from datamill.exceptions import ConfigError, SourceError
from datamill.sources import SOURCES
from datamill.sources.publish import PublishSpec
from datamill.stream.metrics import StreamMetrics

__all__ = ["Checkpoint", "ProducerStats", "PublishTarget", "resolve_target", "run_producer"]

log = logging.getLogger("datamill.stream.producer")
_KAFKA_LOG = "datamill.stream.kafka"  # librdkafka's own lines (connection refused, ...), quiet unless asked
_CONNECTION = ("security.", "sasl.", "ssl.", "socket.", "client.dns.", "broker.address.")


@dataclass
class ProducerStats:
    """What one :func:`run_producer` did."""

    polls: int = 0
    failed_polls: int = 0  # the API did not answer, or a delivery failed
    published: int = 0  # deliveries the broker confirmed
    unchanged: int = 0  # records read that were already published as they are
    failed: int = 0  # deliveries that failed (published again by a later poll)
    skipped: int = 0  # records without the key (or cursor) field, or not JSON objects
    last_error: str | None = None

    def __str__(self) -> str:
        text = (f"{self.published:,} published, {self.unchanged:,} unchanged, {self.failed:,} failed deliveries, "
                f"{self.skipped:,} skipped, {self.polls:,} polls ({self.failed_polls:,} failed)")
        return text + (f"; last error: {self.last_error}" if self.last_error else "")


@dataclass(frozen=True)
class PublishTarget:
    """A kafka source's producer, resolved from the project file."""

    source: str
    brokers: str
    topic: str
    publish: PublishSpec
    client: dict[str, Any]  # the kafka source's connection settings (from its consumer: settings)

    def signature(self) -> dict[str, Any]:
        """What the checkpoint belongs to: another topic, API, key or cursor starts afresh."""
        p = self.publish
        return {"topic": self.topic, "from": p.from_, "key": p.key, "cursor": p.cursor}


# -- the project file --------------------------------------------------------------------


def _option(options: Any, name: str) -> Any:
    return options.get(name) if isinstance(options, dict) else getattr(options, name, None)


def resolve_target(project: Any, source_name: str) -> PublishTarget:
    """The producer of kafka source ``source_name``; a :class:`ConfigError` that says the fix otherwise."""
    sources = project.config.sources
    spec = sources.get(source_name)
    if spec is None:
        known = ", ".join(sorted(sources)) or "none"
        raise ConfigError(f"{project.file}: no source '{source_name}'{did_you_mean(source_name, sources)} "
                          f"(sources: {known})")
    if spec.type != "kafka":
        raise ConfigError(f"{project.file}: source '{source_name}' is type {spec.type}; only a kafka source with "
                          f"publish: has a producer (fix: add a type: kafka source with publish: {{from: "
                          f"{source_name}, key: <field>, every: 10s}})")
    options = spec.parsed if spec.parsed is not None else spec.options
    publish = _option(options, "publish")
    if publish is None:
        raise ConfigError(f"{project.file}: source '{source_name}' has no publish: (fix: add publish: {{from: "
                          "<http source>, key: <field>, every: 10s}}, or run a dataset that reads it)")
    if not isinstance(publish, PublishSpec):
        raw = publish.model_dump(by_alias=True) if isinstance(publish, BaseModel) else publish
        try:
            publish = PublishSpec.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{project.file}: source '{source_name}', publish: {problems}") from None
    topics = _option(options, "topics") or ([_option(options, "topic")] if _option(options, "topic") else [])
    if len(topics) != 1:
        raise ConfigError(f"{project.file}: source '{source_name}' publishes to one topic, it names "
                          f"{len(topics)} (fix: give it topic: <name>)")
    brokers = _option(options, "brokers")
    if not brokers:
        raise ConfigError(f"{project.file}: source '{source_name}' has no brokers: (fix: brokers: host:9092)")
    api = sources.get(publish.from_)
    if api is None:
        raise ConfigError(f"{project.file}: source '{source_name}', publish: from: {publish.from_} is not a source"
                          f"{did_you_mean(publish.from_, sources)} (fix: name an http source under sources:)")
    # the connection settings (TLS, SASL) written for the consumer serve the producer too
    settings = _option(options, "consumer") or {}
    client = {k: v for k, v in settings.items() if k.startswith(_CONNECTION)}
    return PublishTarget(source_name, str(brokers), str(topics[0]), publish, client)


def _api(project: Any, target: PublishTarget) -> Any:
    name = target.publish.from_
    spec = project.config.sources[name]
    cls = SOURCES.load(spec.type)
    source = cls(name, spec.parsed or cls.Options.model_validate(spec.options), project_dir=project.root)
    if not hasattr(source, "pages"):
        raise ConfigError(f"{project.file}: source '{target.source}', publish: from: {name} is a {spec.type} "
                          "source; the producer polls an API (fix: name a type: http source)")
    return source


# -- the checkpoint ------------------------------------------------------------------------


def _order(value: Any) -> tuple[int, Any]:
    """Cursor values compare as numbers, else as text (ISO timestamps sort as text)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


class Checkpoint:
    """What was published and confirmed: per key, the content digest and cursor last delivered."""

    def __init__(self, path: Path, signature: dict[str, Any]) -> None:
        self.path = path
        self.signature = signature
        self.cursor: Any = None  # cursor mode: records below it were all delivered
        self.digests: dict[str, list[Any]] = {}  # key -> [digest, cursor]

    @classmethod
    def load(cls, path: Path, signature: dict[str, Any]) -> Checkpoint:
        checkpoint = cls(path, signature)
        if not path.exists():
            return checkpoint
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            saved, cursor, digests = data["signature"], data["cursor"], data["digests"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SourceError(f"{path}: not a producer checkpoint ({exc}) (fix: delete it; every record the API "
                              "lists is then published again)") from None
        if saved != signature:
            log.warning("%s: publish: changed since the checkpoint (%s -> %s): publishing every record again",
                        path.stem, saved, signature)
            return checkpoint
        checkpoint.cursor, checkpoint.digests = cursor, digests
        return checkpoint

    def is_new(self, key: str, digest: str, cursor: Any) -> bool:
        if self.cursor is not None and cursor is not None and _order(cursor) < _order(self.cursor):
            return False
        known = self.digests.get(key)
        return known is None or known[0] != digest

    def confirm(self, key: str, digest: str, cursor: Any) -> None:
        self.digests[key] = [digest, cursor]

    def settle(self, seen: set[str], *, by_cursor: bool) -> None:
        """After a complete poll whose every delivery was confirmed: forget what is no longer needed."""
        if by_cursor:
            cursors = [c for _, c in self.digests.values() if c is not None]
            if cursors:
                self.cursor = max(cursors, key=_order)
                top = _order(self.cursor)
                self.digests = {k: v for k, v in self.digests.items() if _order(v[1]) >= top}
        else:
            self.digests = {k: v for k, v in self.digests.items() if k in seen}

    def save(self) -> None:
        """Write atomically: a crash leaves the old checkpoint or the new one, never half of one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = {"signature": self.signature, "cursor": self.cursor, "digests": self.digests}
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


@contextlib.contextmanager
def _exclusive(path: Path, source: str) -> Iterator[None]:
    """One producer per source and project: two would publish twice and race on the checkpoint."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SourceError(f"a producer for '{source}' already runs in this project (lock {path}) "
                              "(fix: stop it first; one producer per source keeps its checkpoint right)") from None
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# -- publishing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Out:
    key: str
    digest: str
    cursor: Any
    payload: bytes


class _Publisher:
    """An idempotent producer; replaced by a fresh one after any failure (a fatal error ends the old one)."""

    def __init__(self, target: PublishTarget) -> None:
        self.target = target
        self._producer: Any = None

    def _make(self) -> Any:
        kafka = require("confluent_kafka", purpose="publishing to Kafka")
        quiet = logging.getLogger(_KAFKA_LOG)
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.CRITICAL)  # our own line says what failed; --debug may lower it
        conf = {
            "bootstrap.servers": self.target.brokers,
            "client.id": f"datamill.{self.target.source}",
            "linger.ms": 5,
            **self.target.client,
            # the guarantees the checkpoint relies on: not overridable
            "enable.idempotence": True,
            "acks": "all",
            "message.timeout.ms": int(self.target.publish.delivery_timeout * 1000),
            "logger": quiet,
            "log_level": 3,  # errors and worse; librdkafka's info lines would reach stderr at shutdown
        }
        return kafka.Producer(conf)

    def publish(self, batch: list[_Out]) -> tuple[list[_Out], list[_Out], str | None]:
        """Publish ``batch``; return the confirmed records, the failed ones and the first error."""
        kafka = require("confluent_kafka", purpose="publishing to Kafka")
        if self._producer is None:
            self._producer = self._make()
        producer, topic = self._producer, self.target.topic
        errors: list[Any] = [False] * len(batch)  # False: no report yet; None: delivered; else the error

        def report(i: int) -> Callable[[Any, Any], None]:
            def done(err: Any, _msg: Any) -> None:
                errors[i] = err

            return done

        first: str | None = None
        try:
            for i, out in enumerate(batch):
                while True:
                    try:
                        producer.produce(topic, value=out.payload, key=out.key.encode(), on_delivery=report(i))
                        break
                    except BufferError:  # the local queue is full: let deliveries drain
                        producer.poll(0.1)
            producer.flush(self.target.publish.delivery_timeout + 5)
        except kafka.KafkaException as exc:
            first = str(exc.args[0] if exc.args else exc)
        # identity, never ==: a KafkaError compared with None or False raises inside confluent-kafka
        ok = [out for out, err in zip(batch, errors, strict=True) if err is None]
        failed = [out for out, err in zip(batch, errors, strict=True) if err is not None]
        if failed:
            reported = [e for e in errors if e is not None and e is not False]
            first = first or (reported[0].str() if reported else "no delivery report within the timeout")
            self.reset()
        return ok, failed, first

    def reset(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.purge()
            self._producer = None

    def close(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.flush(self.target.publish.delivery_timeout)
            self._producer = None


def _digest(record: dict[str, Any]) -> str:
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.blake2b(canonical.encode(), digest_size=10).hexdigest()


class _Run:
    """One producer's loop: poll, select what is new, publish, confirm, checkpoint."""

    def __init__(self, target: PublishTarget, api: Any, checkpoint: Checkpoint, stats: ProducerStats,
                 metrics: StreamMetrics, stop: threading.Event, on_event: Callable[[str], None] | None) -> None:
        self.target, self.api, self.checkpoint = target, api, checkpoint
        self.stats, self.metrics, self.stop = stats, metrics, stop
        self.on_event = on_event
        self.publisher = _Publisher(target)

    def event(self, message: str, level: int = logging.WARNING) -> None:
        """A line for the log and, when the caller shows them (the CLI), for the terminal."""
        log.log(level, "%s: %s", self.target.source, message)
        if self.on_event is not None:
            self.on_event(message)

    def poll(self) -> tuple[bool, int]:
        """One poll: whether it went through (API read, every delivery confirmed), and how many were published."""
        spec, stats = self.target.publish, self.stats
        stats.polls += 1
        seen: set[str] = set()
        published = skipped = 0
        try:
            for records in self.api.pages():
                batch, skip = self._select(records, seen)
                skipped += skip
                if batch:
                    ok, failed, error = self.publisher.publish(batch)
                    for out in ok:
                        self.checkpoint.confirm(out.key, out.digest, out.cursor)
                    published += len(ok)
                    stats.published += len(ok)
                    self.metrics.published(len(ok))
                    if ok:
                        self.checkpoint.save()
                    if failed:
                        stats.failed += len(failed)
                        self.metrics.delivery_failed(len(failed))
                        self._failed(f"{len(failed):,} of {len(batch):,} deliveries to topic "
                                     f"'{self.target.topic}' failed ({error}; is the broker at "
                                     f"{self.target.brokers} up?); the checkpoint keeps them for the next poll")
                        return False, published
                if self.stop.is_set():
                    return True, published  # stopped half-way: what was confirmed is in the checkpoint
        except SourceError as exc:
            self._failed(f"{spec.from_}: {exc}")
            return False, published
        finally:
            self._warn_skipped(skipped)
        self.checkpoint.settle(seen, by_cursor=spec.cursor is not None)
        self.checkpoint.save()
        return True, published

    def _select(self, records: list[Any], seen: set[str]) -> tuple[list[_Out], int]:
        spec, checkpoint = self.target.publish, self.checkpoint
        batch: list[_Out] = []
        pending: set[tuple[str, str]] = set()
        skipped = 0
        for record in records:
            value = record.get(spec.key) if isinstance(record, dict) else None
            cursor = record.get(spec.cursor) if spec.cursor and isinstance(record, dict) else None
            if value is None or (spec.cursor and cursor is None):
                skipped += 1
                continue
            key = value if isinstance(value, str) else json.dumps(value)
            digest = _digest(record)
            seen.add(key)
            if (key, digest) in pending or not checkpoint.is_new(key, digest, cursor):
                self.stats.unchanged += 1
                continue
            pending.add((key, digest))
            payload = json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str).encode()
            batch.append(_Out(key, digest, cursor, payload))
        self.stats.skipped += skipped
        return batch, skipped

    def _warn_skipped(self, skipped: int) -> None:
        if skipped:
            spec = self.target.publish
            fields = f"'{spec.key}'" + (f" or '{spec.cursor}'" if spec.cursor else "")
            self.event(f"{skipped} record(s) from {spec.from_} are not JSON objects with {fields}; not published "
                       f"(fix: check publish: key:{' and cursor:' if spec.cursor else ''})")

    def _failed(self, message: str) -> None:
        self.stats.failed_polls += 1
        self.stats.last_error = message
        self.event(message)


def run_producer(project: Any, source_name: str, *, stop: threading.Event, until_idle: float | None = None,
                 clock: Callable[[], float] = time.monotonic, metrics: StreamMetrics | None = None,
                 on_event: Callable[[str], None] | None = None) -> ProducerStats:
    """Run the producer of kafka source ``source_name`` until ``stop`` is set (or it is idle).

    Parameters
    ----------
    project
        A :class:`datamill.Project`.
    stop
        Set it (from a signal handler, another thread) to stop after the poll under way.
    until_idle
        Stop once no record was published for this many seconds, after a poll
        whose deliveries all went through (for tests, benchmarks and the demo).
    clock
        Monotonic seconds for ``until_idle`` and the metrics.
    metrics
        Where to count (published, failed deliveries, throughput); a new one by default.
    on_event
        Called with each line worth showing (a failed poll, the next try); every
        line also goes to the ``datamill.stream.producer`` logger.
    """
    target = resolve_target(project, source_name)
    api = _api(project, target)
    folder = Path(project.root) / ".datamill" / "streams"
    stats = ProducerStats()
    metrics = metrics or StreamMetrics(source_name, clock=clock)
    every = target.publish.every
    with _exclusive(folder / f"{source_name}.lock", source_name):
        run = _Run(target, api, Checkpoint.load(folder / f"{source_name}.json", target.signature()), stats,
                   metrics, stop, on_event)
        run.event(f"publishing new records of {target.publish.from_} to topic '{target.topic}' every {every:g} s",
                  logging.INFO)
        last_new, failures = clock(), 0
        try:
            while not stop.is_set():
                ok, published = run.poll()
                if published:
                    last_new = clock()
                failures = 0 if ok else failures + 1
                if ok and until_idle is not None and clock() - last_new >= until_idle:
                    break
                wait = every if ok else min(every * 2 ** (failures - 1), max(every, 60.0))
                if not ok:
                    run.event(f"next try in {wait:g} s")
                stop.wait(wait)
        finally:
            run.publisher.close()
    return stats
