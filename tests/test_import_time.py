"""``import datamill`` stays light: heavy libraries load inside the backend that needs them."""

import subprocess
import sys

HEAVY = ["pyspark", "pandas", "polars", "duckdb", "deltalake", "psycopg", "adbc_driver_postgresql", "httpx"]


def test_import_loads_no_heavy_library() -> None:
    code = "import sys, datamill; print(','.join(m for m in %r if m in sys.modules))" % HEAVY
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_import_is_fast() -> None:
    code = "import time; t = time.perf_counter(); import datamill; print(time.perf_counter() - t)"
    best = min(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(3)
    )
    assert best < 0.5, f"import datamill took {best:.2f} s"


def test_config_loads_no_stage() -> None:
    # config sits low: reading datamill.config must not drag in the stages built on it
    stages = ("datamill.quality", "datamill.ml", "datamill.profile", "datamill.pipeline")
    code = "import sys, datamill.config; print(','.join(sorted(m for m in sys.modules if m.startswith(%r))))" % (stages,)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
