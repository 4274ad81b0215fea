"""The streaming demo: orders from an HTTP API, through Kafka, transformed, into Cassandra and the lakehouse.

``datamill demo --stream`` writes this project, starts a local Kafka-protocol
broker (tansu) and a local Cassandra, serves the order feed
(:mod:`datamill.demo.orders`), and runs the three streams of the project at
once: the API → Kafka producer and two consumers, each in its own consumer
group. Nothing here is demo-only machinery: the same project runs against real
brokers and clusters by changing the three addresses.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BROKER_ENV", "CASSANDRA_ENV", "ORDERS_ENV", "TOPIC", "create_stream_demo", "stream_project_text"]

ORDERS_ENV = "DATAMILL_DEMO_ORDERS_API"
BROKER_ENV = "DATAMILL_DEMO_BROKER"
CASSANDRA_ENV = "DATAMILL_DEMO_CASSANDRA"
TOPIC = "orders"
PARTITIONS = 4

_PROJECT = """\
# The datamill streaming demo: orders from an API, through Kafka, into Cassandra and the lakehouse.
# Run it with `datamill demo --stream`, or stream by hand (a broker and Cassandra running):
#   datamill stream orders        # the producer: API -> Kafka topic `orders`
#   datamill stream orders_live   # Kafka -> transform -> Cassandra
#   datamill stream orders_lake   # Kafka -> transform -> the lakehouse
#   datamill run                  # the batch datasets over the streamed tables
name: orders_stream_demo
engine: duckdb
storage: lakehouse:./warehouse

sources:
  orders_api:
    type: http
    url: "${%(orders)s:-http://127.0.0.1:8766}/orders"
    records: "$.data"
    paginate: {next: "$.next"}
  orders:
    type: kafka
    brokers: "${%(broker)s:-127.0.0.1:9092}"
    topic: %(topic)s
    format: json
    batch_seconds: 0.5
    consumer: {session.timeout.ms: 6000}   # librdkafka settings; a shorter session: the group forms in ~3 s
    publish: {from: orders_api, key: order_id, every: 1s}   # new and changed orders, keyed by order_id

datasets:
  orders_live:                      # every order with its amount, in Cassandra, exactly once
    from: orders
    sql: |
      select order_id, customer_id, product, quantity, unit_price,
             round(quantity * unit_price, 2) as amount, country,
             cast(placed_at as timestamptz) as placed_at
      from orders
    checks:
      - between: {quantity: [1, 100]}
        severity: fail              # a refund booked as an order: dead-lettered (topic orders.dead), the rest flow
    write: {mode: upsert, keys: [order_id]}
    storage: "${%(cassandra)s:-cassandra://127.0.0.1:9042/orders_demo}"
  orders_lake:                      # the same feed in the lakehouse, for analysts
    from: orders
    sql: |
      select order_id, country, product, quantity,
             round(quantity * unit_price, 2) as amount,
             cast(placed_at as timestamptz) as placed_at
      from orders
      where quantity > 0            -- refunds are not revenue
    write: {mode: upsert, keys: [order_id]}
  revenue_by_country:               # a batch dataset over the streamed table: `datamill run`
    sql: |
      select country, count(*) as orders, sum(quantity) as items, round(sum(amount), 2) as revenue
      from orders_lake
      group by all
      order by revenue desc
"""


def stream_project_text() -> str:
    """The streaming demo's datamill.yaml."""
    return _PROJECT % {"orders": ORDERS_ENV, "broker": BROKER_ENV, "cassandra": CASSANDRA_ENV, "topic": TOPIC}


def create_stream_demo(folder: Path) -> Path:
    """Write the streaming demo project into ``folder``; return its file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".gitignore").write_text("warehouse/\n.datamill/\n", encoding="utf-8")
    file = folder / "datamill.yaml"
    file.write_text(stream_project_text(), encoding="utf-8")
    return file
