"""The ``publish:`` key of a ``type: kafka`` source: which HTTP source feeds the topic, keyed how, how often.

```yaml
sources:
  orders_api: {type: http, url: "http://127.0.0.1:8000/orders", paginate: {next: "$.next"}}
  orders:
    type: kafka
    brokers: "127.0.0.1:9092"
    topic: orders
    publish: {from: orders_api, key: id, every: 10s}
```

``datamill stream orders`` then polls ``orders_api`` every 10 s and publishes
each new or changed record to ``orders``, keyed by its ``id``
(:mod:`datamill.stream.producer` does the work; this module is only the
typed configuration, so the kafka source's options can hold it).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["PublishSpec", "parse_seconds"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_seconds(value: Any) -> float:
    """``10``, ``"10s"``, ``"500ms"``, ``"2m"``, ``"1h"`` -> seconds.

    Examples
    --------
    >>> parse_seconds("10s"), parse_seconds(3), parse_seconds("500ms"), parse_seconds("1.5m")
    (10.0, 3.0, 0.5, 90.0)
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration: write seconds (10), or 10s, 500ms, 2m, 1h")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration: write seconds (10), or 10s, 500ms, 2m, 1h")
    return float(match.group(1)) * _UNIT[match.group(2)]


class PublishSpec(BaseModel):
    """``publish: {from: <http source>, key: <field>, every: <interval>}``.

    Parameters
    ----------
    from_
        The HTTP source to poll (``from:`` in the file); its pagination and retries apply.
    key
        The record field whose value keys each message (records with one key go
        to one partition, in order). A record without it is not published and is
        counted as skipped.
    every
        Seconds between polls (``10s``, ``500ms``, ``2m``).
    cursor
        Optional field that only grows (an update time, a sequence number): a
        record is new when its cursor passes the highest one published, so the
        checkpoint stays small whatever the size of the API. Without it, a record
        is new when its key is new or its content changed (a digest per key is kept).
    delivery_timeout
        Seconds a message may wait for the broker's acknowledgement before its
        delivery counts as failed (the checkpoint then stays, and the next poll
        publishes it again).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", min_length=1)
    key: str = Field(min_length=1)
    every: float = 10.0
    cursor: str | None = None
    delivery_timeout: float = 30.0

    @field_validator("every", "delivery_timeout", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> float:
        seconds = parse_seconds(value)
        if seconds <= 0:
            raise ValueError("must be more than 0 seconds (e.g. 10s)")
        return seconds
