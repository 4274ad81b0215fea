"""Batch-scoring benchmark: rows per second scoring a stored table with a registered model.

One project (generated once into ``bench/.data/``): the demo's customers
(``datamill.demo.data.customers_table``, ``--rows`` of them, 1,000,000 by
default) in a lakehouse, and a HistGradientBoosting pipeline trained by
``datamill.ml.fit`` on 20,000 of them, registered in the project's MLflow
registry as ``churn`` with alias ``champion``. Side by side, each in its own
process, each scoring every row into a table with the prediction and both
class probabilities:

- ``datamill-duckdb``: ``Project.predict`` on the DuckDB engine (batches streamed in process);
- ``datamill-spark``: the same on Spark ``local[2]`` (``mapInArrow`` on the executors, Parquet
  written from there), needs Java 17;
- ``pandas``: the table read whole into pandas, ``predict`` and ``predict_proba``, written as Parquet.

The clock covers the scoring and the write only: opening the project, starting
Spark and loading the model come before it (``setup_s`` in the results). Every
output is fingerprinted (``bench._harness``) and compared with datamill-duckdb's.
The serving benchmark calls :func:`batch_scoring` for its report; this module
writes no ``BENCHMARKS.md`` section itself.

    .venv/bin/python -m bench.predict                        # 1M rows, prints the table
    .venv/bin/python -m bench.predict --rows 100000 --skip datamill-spark
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench._harness import DATA, fingerprint_elsewhere, peak_rss_mb, run_child, save_results, verdicts

CONTENDERS = ("datamill-duckdb", "datamill-spark", "pandas")
REFERENCE = "datamill-duckdb"
MODEL = "churn@champion"
TRAIN_ROWS = 20_000
DROP = ["customer_id", "name", "email", "churned"]
PROJECT = """\
name: bench_predict
engine: {engine}
storage: lakehouse:./warehouse
"""


def make_project(rows: int) -> Path:
    """Generate (once) the project: the customers table in its lakehouse and the registered model."""
    folder = DATA / f"predict_{rows}"
    if (folder / "ready").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "datamill.yaml").write_text(PROJECT.format(engine="duckdb"), encoding="utf-8")
    (folder / "spark.yaml").write_text(PROJECT.format(engine="{type: spark, master: 'local[2]'}"), encoding="utf-8")
    from datamill.demo.data import customers_table
    from datamill.ml import fit
    from datamill.ml.tracking import project_tracking
    from datamill.project import Project

    table = customers_table(rows, seed=11)
    with Project(folder) as project:
        project.storage.write("customers", table, mode="overwrite")
    uri, _ = project_tracking(folder)
    result = fit(table.slice(0, min(rows, TRAIN_ROWS)), "churned", candidates=["hist_gbm"], tune_top=0, cv=2,
                 ensemble=False, evaluate=False, drop=["customer_id", "name", "email"], tracking_uri=uri,
                 experiment="bench_predict", time_budget=120)
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)  # the registry reads the logged model through the process-wide URI
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("churn")
    version = client.create_model_version("churn", result.model_uri, run_id=result.run_id)
    client.set_registered_model_alias("churn", "champion", version.version)
    (folder / "ready").write_text("ok")
    return folder


# ------------------------------------------------------------------------- in the child
def run_one(key: str, rows: int) -> dict[str, Any]:
    """Score the table with one contender; the clock covers the scoring and the write."""
    folder = DATA / f"predict_{rows}"
    started = time.perf_counter()
    if key == "pandas":
        seconds, output, fmt = _pandas(folder)
        setup = 0.0
    else:
        from datamill.project import Project

        file = folder / ("spark.yaml" if key == "datamill-spark" else "datamill.yaml")
        with Project(file) as project:
            project.engine.sql("select 1 as x", {}).to_arrow()  # start the engine (Spark: seconds) off the clock
            from datamill.pipeline.predictions import resolve_model

            store, mv = resolve_model(project.root, MODEL)
            store.load(mv)  # MLflow's imports and caches warm, as a pipeline run has them by scoring time
            setup = time.perf_counter() - started
            output = f"scored_{key.replace('-', '_')}"
            start = time.perf_counter()
            scored = project.predict(MODEL, table="customers", output=output)
            seconds = time.perf_counter() - start
            assert scored.rows_out == rows, (scored.rows_out, rows)
            output, fmt = str(folder / "warehouse" / output), "delta"
    return {"seconds": seconds, "setup_s": setup, "rows_per_s": rows / seconds, "peak_mb": peak_rss_mb(),
            "fingerprint": fingerprint_elsewhere(output, fmt, 12)}


def _pandas(folder: Path) -> tuple[float, str, str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from datamill.pipeline.predictions import resolve_model
    from datamill.project import Project

    with Project(folder) as project:
        store, mv = resolve_model(project.root, MODEL)
        model = store.load(mv)
        start = time.perf_counter()
        frame = project.storage.read("customers").to_pandas()
        features = frame.drop(columns=DROP)
        frame["prediction"] = model.predict(features)
        probabilities = model.predict_proba(features)
        for i, label in enumerate(model.classes_):
            frame[f"probability_{label}"] = probabilities[:, i]
        frame["model_name"], frame["model_version"] = mv.name, mv.version
        out = folder / "scored_pandas.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out)
        return time.perf_counter() - start, str(out), "parquet"


# ------------------------------------------------------------------------- in the parent
def batch_scoring(rows: int = 1_000_000, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run every contender (each in its own process); their results, each with its same-result verdict.

    For the serving benchmark's report: ``results[key]["rows_per_s"]`` and ``["verdict"]``.
    """
    make_project(rows)
    results = {key: run_child("bench.predict", key, "--rows", str(rows)) for key in CONTENDERS if key not in skip}
    for key, verdict in verdicts(results, REFERENCE).items():
        results[key]["verdict"] = verdict.text
    return results


def table(results: dict[str, Any], rows: int) -> str:
    lines = [f"Batch scoring of {rows:,} rows (HistGradientBoosting pipeline, prediction + 2 probabilities)", "",
             "| contender | rows/s | scoring s | setup s | peak RSS MB | same result |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for key, r in results.items():
        lines.append(f"| {key} | {r['rows_per_s']:,.0f} | {r['seconds']:.2f} | {r['setup_s']:.1f} | "
                     f"{r['peak_mb']:,.0f} | {r['verdict']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip", nargs="*", default=[], choices=CONTENDERS)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="save the raw results as predict-no-write.json")
    args = parser.parse_args()
    if args.one:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        print(json.dumps(run_one(args.one, args.rows), default=str))
        return
    results = batch_scoring(args.rows, tuple(args.skip))
    print(table(results, args.rows))
    save_results("predict", {"rows": args.rows, "results": results}, args.no_write)


if __name__ == "__main__":
    main()
