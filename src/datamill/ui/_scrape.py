"""Reading a server's ``/metrics`` (Prometheus text): request counts, latency, a stream's throughput and lag."""

from __future__ import annotations

import os
import time
from typing import Any

__all__ = ["local_url", "scrape", "serving_numbers", "stream_numbers"]


def local_url(url: str) -> str:
    """A server bound to every interface is reached on the loopback address."""
    return url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")


def scrape(url: str, *, timeout: float = 2.0) -> dict[str, list[tuple[dict[str, str], float]]] | None:
    """Samples by name (``name -> [(labels, value)]``) from ``url``/metrics, or ``None`` if it does not answer."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    token = os.environ.get("DATAMILL_SERVE_TOKEN")  # the model servers' token, where the UI was given it
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        answer = httpx.get(local_url(url).rstrip("/") + "/metrics", timeout=timeout, headers=headers)
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(answer.text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def _quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """The ``q`` quantile from cumulative histogram buckets ``[(upper bound, count)]`` (linear within a bucket)."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    want, low, below = q * buckets[-1][1], 0.0, 0.0
    for bound, count in buckets:
        if count >= want:
            if bound == float("inf"):
                return low
            share = (want - below) / (count - below) if count > below else 1.0
            return low + (bound - low) * share
        low, below = bound, count
    return None


def serving_numbers(samples: dict[str, Any], previous: tuple[float, float] | None,
                    now: float | None = None) -> dict[str, Any]:
    """Requests, request rate (since ``previous`` = (time, requests)), mean and p95 latency of ``/predict``."""
    now = time.monotonic() if now is None else now
    requests = sum(v for labels, v in samples.get("datamill_requests_total", []))
    predict = [(labels, v) for labels, v in samples.get("datamill_request_seconds_bucket", [])
               if labels.get("endpoint") in ("/predict", None)]
    bounds: dict[float, float] = {}
    for labels, v in predict:
        bound = float(labels.get("le", "inf"))
        bounds[bound] = bounds.get(bound, 0.0) + v
    total = sum(v for labels, v in samples.get("datamill_request_seconds_count", [])
                if labels.get("endpoint") in ("/predict", None))
    seconds = sum(v for labels, v in samples.get("datamill_request_seconds_sum", [])
                  if labels.get("endpoint") in ("/predict", None))
    rate = None
    if previous is not None and now > previous[0]:
        rate = max(requests - previous[1], 0.0) / (now - previous[0])
    p95 = _quantile(list(bounds.items()), 0.95)
    return {"requests": int(requests), "rate": None if rate is None else round(rate, 2),
            "predictions": int(total), "mean_ms": round(1000 * seconds / total, 2) if total else None,
            "p95_ms": round(1000 * p95, 2) if p95 is not None else None,
            "errors": int(sum(v for _, v in samples.get("datamill_errors_total", []))),
            "rows": int(sum(v for _, v in samples.get("datamill_predicted_rows_total", [])))}


def stream_numbers(samples: dict[str, Any]) -> dict[str, Any]:
    """A stream's throughput and, per partition, its offsets and lag estimate."""
    def by_partition(name: str) -> dict[tuple[str, str], float]:
        return {(labels.get("topic", ""), labels.get("partition", "")): v for labels, v in samples.get(name, [])}

    consumed, committed = by_partition("datamill_stream_consumed_offset"), by_partition("datamill_stream_committed_offset")
    lag = by_partition("datamill_stream_lag_estimate")
    keys = sorted(set(consumed) | set(committed) | set(lag))
    rate = samples.get("datamill_stream_messages_per_second", [])
    def total(name: str) -> int | None:
        found = samples.get(name, [])
        return int(sum(v for _, v in found)) if found else None

    return {"throughput": round(rate[0][1], 1) if rate else None, "messages": total("datamill_stream_messages_total"),
            "rows": total("datamill_stream_rows_written_total"), "dead": total("datamill_stream_dead_letters_total"),
            "published": total("datamill_stream_published_total"),
            "partitions": [{"topic": t, "partition": p, "consumed": consumed.get((t, p)),
                            "committed": committed.get((t, p)), "lag": lag.get((t, p))} for t, p in keys]}
