"""``import datamill`` stays light: heavy libraries load inside the backend that needs them."""

import subprocess
import sys

HEAVY = ["pyspark", "pandas", "polars", "duckdb", "deltalake", "psycopg", "adbc_driver_postgresql", "httpx"]


def test_import_loads_no_heavy_library() -> None:
    code = "import sys, datamill; print(','.join(m for m in %r if m in sys.modules))" % HEAVY
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_import_loads_nothing_but_the_standard_library() -> None:
    # `import datamill` stays fast (about 20 ms) because it loads no third-party module at
    # all; counted, not timed, so the test does not depend on the machine's speed
    code = (
        "import sys; before = set(sys.modules); import datamill\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(','.join(sorted(m for m in new if m != 'datamill' and m not in sys.stdlib_module_names"
        " and not m.startswith('_'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_config_loads_no_stage() -> None:
    # config sits low: reading datamill.config must not drag in the stages built on it
    stages = ("datamill.quality", "datamill.ml", "datamill.profile", "datamill.pipeline")
    code = "import sys, datamill.config; print(','.join(sorted(m for m in sys.modules if m.startswith(%r))))" % (stages,)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_ingesting_a_csv_loads_no_sql_parser_nor_dataframe_library(tmp_path) -> None:
    # a run that only ingests files pays for no library it does not use (SQLGlot alone is 0.1 s),
    # nor for the stages it has no blocks of (quality's and ml's models are built when used)
    (tmp_path / "data.csv").write_text("id,name\n1,ann\n2,bob\n")
    (tmp_path / "datamill.yaml").write_text("name: p\nsources:\n  data: {type: csv, path: data.csv}\n")
    unused = ["sqlglot", "pandas", "polars", "pyarrow.compute", "pyarrow.dataset", "datamill.quality", "datamill.ml"]
    code = (
        "import sys, datamill\n"
        f"with datamill.Project({str(tmp_path)!r}) as p:\n"
        "    assert p.run().status == 'ok'\n"
        f"print(','.join(m for m in {unused!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cleaning_a_parquet_source_loads_no_dataframe_library(tmp_path) -> None:
    # pyarrow imports pandas (0.3 s) to convert Python objects or to open a dataset: a run that
    # stores Parquet and cleans it on DuckDB needs neither
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = [1.0, None, 3.0, 4.0, 500.0, 1.0]  # the last row repeats the first
    pq.write_table(pa.table({"id": [1, 2, 3, 4, 5, 1], "x": x, "y": [1.0, 2.0, 3.0, 4.0, 99.0, 1.0]}), tmp_path / "d.parquet")
    (tmp_path / "datamill.yaml").write_text(
        "name: p\nsources:\n  raw: {type: parquet, path: d.parquet}\ndatasets:\n  clean:\n    from: raw\n"
        "    clean: {dedupe: true, impute: {x: median}, outliers: {y: iqr}}\n"
    )
    unused = ["pandas", "polars", "pyarrow.dataset"]
    code = (
        "import sys, datamill\n"
        f"with datamill.Project({str(tmp_path)!r}) as p:\n"
        "    r = p.run()\n"
        "    assert r.status == 'ok' and r.nodes['clean'].rows_quarantined == 1, r.nodes['clean'].error\n"
        f"print(','.join(m for m in {unused!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
