"""The server's Prometheus metrics, in a registry of its own (one per app, so tests can run several).

With ``--workers N`` each worker process counts its own requests: scrape each
replica (one worker per container is the usual deployment), or run one worker.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Metrics", "ROUTES"]

# the paths counted under their own name; anything else (a fuzzer's random paths) is "other"
ROUTES = frozenset({"/predict", "/health", "/ready", "/metadata", "/metrics", "/docs", "/openapi.json"})

_LATENCY = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ROWS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 10000)


class Metrics:
    """Requests by endpoint and status, latency, errors by kind, batch sizes, the model version, reloads."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        disable_created_metrics()  # the *_created series double the text and tell nothing a scraper needs
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("datamill_requests", "HTTP requests answered, by endpoint and status.",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("datamill_request_seconds", "Time to answer a request, by endpoint.",
                                 ["endpoint"], buckets=_LATENCY, registry=r)
        self.errors = Counter("datamill_errors", "Requests refused or failed, by kind (bad_json, invalid, "
                              "too_large, unauthorized, model, internal).", ["kind"], registry=r)
        self.rows = Counter("datamill_predicted_rows", "Rows predicted.", registry=r)
        self.batch_rows = Histogram("datamill_batch_rows", "Rows per predict call (micro-batch).",
                                    buckets=_ROWS, registry=r)
        self.batch_requests = Histogram("datamill_batch_requests", "Requests per predict call (micro-batch).",
                                        buckets=_ROWS, registry=r)
        self.predict_seconds = Histogram("datamill_predict_seconds", "Time of one predict call.",
                                         buckets=_LATENCY, registry=r)
        self.model = Gauge("datamill_model_info", "The model version answering (1 for the current one).",
                           ["name", "version", "alias", "runtime"], registry=r)
        self.reloads = Counter("datamill_reloads", "Hot reloads of the model, by result (ok, failed).",
                               ["result"], registry=r)
        self.store_errors = Counter("datamill_store_errors", "Polls of the model store that failed.", registry=r)
        for kind in ("bad_json", "invalid", "too_large", "unauthorized", "model", "internal"):
            self.errors.labels(kind)  # every kind shows, at 0, from the start

    def batch(self, requests: int, rows: int, seconds: float) -> None:
        self.batch_requests.observe(requests)
        self.batch_rows.observe(rows)
        self.predict_seconds.observe(seconds)
        self.rows.inc(rows)

    def answered(self, path: str, status: int, seconds: float) -> None:
        endpoint = path if path in ROUTES else "other"
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def serving(self, predictor: Any) -> None:
        """``predictor`` answers from now on: the info gauge shows it alone."""
        self.model.clear()
        self.model.labels(predictor.name, str(predictor.version), predictor.alias or "", predictor.runtime).set(1)

    def text(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
