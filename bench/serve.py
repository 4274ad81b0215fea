"""Serving benchmark: ``datamill serve`` vs ``mlflow models serve`` on the demo's churn model, side by side.

One run, from the repository root:

1. **The model** (generated once into ``bench/.data/serve_demo_<candidates>/``, in a
   child process): the demo project (``datamill.demo.create_demo``, 120,000
   customers, its plans API served locally) with the demo's ``churn_model``
   entry, its candidates replaced by ``--candidates`` (``hist_gbm`` by default:
   the HistGradientBoosting pipeline the issue measured; ``demo`` keeps the
   demo's own list). ``Project.train("churn_model")`` builds ``features`` and
   trains it as ``datamill train`` does; the version is registered in the
   project's MLflow registry (unless training already did) with alias ``champion``.
2. **The servers**, both started and kept up for the whole run, each under
   ``taskset -c 0``: ``datamill serve churn_model@champion`` (its defaults) and
   ``mlflow models serve -m models:/churn_model/V --env-manager local``.
3. **Same result, before any timing**: every body the load will send (50 single
   records, 5 bodies of 100 records, drawn from the ``features`` table) goes to
   both servers. MLflow's pyfunc answers a scikit-learn classifier with
   ``predict()``'s labels, so labels are compared: both servers' against the
   pipeline's own ``predict()``; datamill's probabilities also against the
   pipeline's ``predict_proba()`` (within 1e-9; 1e-4 where ONNX answers).
4. **Load**: Debian's ``wrk`` under ``taskset -c 1``, one thread, 16 connections,
   ``--seconds`` (20) per run after ``--warmup`` (2) unmeasured seconds, a Lua
   script POSTing the bodies in turn (datamill: a record or a list of records;
   MLflow: ``{"dataframe_records": [...]}``). For 1- and 100-record requests,
   ``--repeat`` (3) runs per server, alternating which goes first; medians are
   reported. Server RSS: the peak, during the measured run, of the summed
   ``VmRSS`` of the server's whole process tree.
5. **Batch scoring**: ``bench.predict``'s ``batch_scoring()`` where this checkout
   has it; otherwise datamill's in-process ``Predictor`` (``datamill.serve.predictor``)
   scoring a ``--batch-rows`` table (rows of ``features`` drawn with
   replacement) in slices of 100,000 rows, in a child pinned to the server's core.

    .venv/bin/python -m bench.serve                         # writes its BENCHMARKS.md section
    .venv/bin/python -m bench.serve --seconds 3 --repeat 1 --batch-rows 100000 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._harness import DATA, ROOT, Done, run_child, save_results, update_benchmarks_md
from bench._harness import measure as measure_child
from bench._serve_load import (
    RssSampler, Server, get_json, lua_script, post_json, run_wrk, wrk_command,
)
from bench._serve_report import SECTION, compare_answers, report

MODEL = "churn_model"
ALIAS = "champion"
DEMO_ROWS = 120_000
SINGLES, BATCHES, BATCH_SIZE = 50, 5, 100
SIZES = (1, BATCH_SIZE)
CHUNK = 100_000
SEED = 0


# ------------------------------------------------------------------------- the model (child)
def project_folder(candidates: list[str]) -> Path:
    return DATA / f"serve_demo_{'-'.join(candidates)}"


def demo_text(candidates: list[str]) -> str:
    """The demo's project file, its churn model's candidates replaced (``["demo"]``: left as they are)."""
    from datamill.demo import project_text

    text = project_text()
    if candidates == ["demo"]:
        return text
    new, count = re.subn(r"candidates: \[[^\]]*\]", f"candidates: [{', '.join(candidates)}]", text, count=1)
    if count != 1:
        raise SystemExit("the demo's project file has no `candidates: [...]` line to replace "
                         "(fix: update bench/serve.py's demo_text, or run with --candidates demo)")
    return new


def prepare(folder: Path, candidates: list[str]) -> None:
    """Train and register the model once; write the bodies and the pipeline's own answers (``records.json``)."""
    ready = folder / "ready.json"
    if not ready.exists():
        _train(folder, candidates)
    info = json.loads(ready.read_text())
    _records(folder, info)


def _train(folder: Path, candidates: list[str]) -> None:
    from datamill.demo import API_ENV, create_demo, serve_plans_api
    from datamill.project import Project

    shutil.rmtree(folder, ignore_errors=True)
    create_demo(folder, rows=DEMO_ROWS)
    (folder / "datamill.yaml").write_text(demo_text(candidates), encoding="utf-8")
    started = time.perf_counter()
    with serve_plans_api() as url:
        os.environ[API_ENV] = url
        with Project(folder) as project:
            result = project.train(MODEL)
    seconds = time.perf_counter() - started
    uri = result.tracking_uri
    version = _register(uri, result)
    info = {"name": MODEL, "version": version, "uri": uri, "run_id": result.run_id, "model_uri": result.model_uri,
            "best": result.best_name, "metric": result.metric, "test_score": result.test_score,
            "candidates": candidates, "train_seconds": seconds}
    (folder / "ready.json").write_text(json.dumps(info, indent=1, default=str), encoding="utf-8")


def _register(uri: str, result: Any) -> int:
    """The registry's version of this training (registering it where training did not), aliased ``champion``."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)  # the registry reads the logged model through the process-wide URI
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = [v for v in client.search_model_versions(f"name = '{MODEL}'") if v.run_id == result.run_id]
    if found:
        version = max(int(v.version) for v in found)
    else:
        try:
            client.get_registered_model(MODEL)
        except Exception:
            client.create_registered_model(MODEL)
        version = int(client.create_model_version(MODEL, result.model_uri, run_id=result.run_id).version)
    client.set_registered_model_alias(MODEL, ALIAS, str(version))
    return version


def _records(folder: Path, info: dict[str, Any]) -> None:
    import mlflow
    import numpy as np
    from mlflow.models import get_model_info

    from datamill.project import Project

    mlflow.set_tracking_uri(info["uri"])
    model_uri = f"models:/{info['name']}/{info['version']}"
    inputs = get_model_info(model_uri).signature.inputs.input_names()
    with Project(folder) as project:
        table = project.table("features").select(inputs)
    rng = np.random.default_rng(SEED)
    singles = [int(i) for i in rng.choice(table.num_rows, SINGLES, replace=False)]
    batches = [[int(i) for i in rng.choice(table.num_rows, BATCH_SIZE, replace=False)] for _ in range(BATCHES)]
    pipeline = mlflow.sklearn.load_model(model_uri)

    def answers(rows: list[int]) -> dict[str, Any]:
        part = table.take(rows)
        frame = part.to_pandas()
        return {"records": [_jsonable(r) for r in part.to_pylist()],
                "labels": [_scalar(v) for v in pipeline.predict(frame)],
                "probabilities": np.asarray(pipeline.predict_proba(frame), dtype="float64").tolist()}

    last = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    out = {**info, "inputs": inputs, "estimator": type(last).__name__, "features_rows": table.num_rows,
           "classes": [_scalar(c) for c in pipeline.classes_],
           "singles": [answers([i]) for i in singles], "batches": [answers(b) for b in batches]}
    (folder / "records.json").write_text(json.dumps(out), encoding="utf-8")


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    """One row as JSON takes it: dates and timestamps as ISO text, NaN as null."""
    out = {}
    for key, value in record.items():
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif isinstance(value, float) and value != value:
            value = None
        out[key] = _scalar(value)
    return out


# ------------------------------------------------------------------------- batch scoring (child)
def batch(folder: Path, rows: int) -> Done:
    """datamill's in-process Predictor on ``rows`` rows of ``features`` (drawn with replacement), 100k at a time."""
    import numpy as np
    import pyarrow as pa

    from datamill.project import Project
    from datamill.serve.predictor import Predictor

    info = json.loads((folder / "ready.json").read_text())
    try:
        from datamill.registry import ModelStore  # type: ignore[import-not-found]
    except ImportError:  # the registry is not merged into this checkout: the server's own stand-in
        from datamill.serve.store import ModelStore
    store = ModelStore(info["uri"])
    predictor = Predictor.from_version(store, store.resolve(f"{info['name']}/{info['version']}"))
    with Project(folder) as project:
        features = project.table("features").select([c.name for c in predictor.columns])
    table = features.take(np.random.default_rng(SEED).integers(0, features.num_rows, rows))
    slices = [pa.Table.from_batches([b]) for b in table.to_batches(max_chunksize=CHUNK)]
    first: dict[str, Any] = {}

    def score() -> Done:
        for i, part in enumerate(slices):
            answer = predictor.predict(part)
            if i == 0:
                first.update(answer)
        return Done({"rows": rows, "slices": len(slices), "runtime": predictor.runtime}, stats=check)

    def check() -> dict[str, Any]:  # after the clock: the first slice against the pipeline's own predict_proba
        expected = np.asarray(predictor.model.predict_proba(slices[0].to_pandas()), dtype="float64")
        got = np.asarray(first["probabilities"], dtype="float64")
        return {"checked_rows": slices[0].num_rows, "max_probability_difference": float(np.max(np.abs(expected - got)))}

    return score


# ------------------------------------------------------------------------- the servers (parent)
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PYTHONPATH": path, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
            "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def servers(folder: Path, info: dict[str, Any], core: int, logs: Path) -> dict[str, Server]:
    env = {k: v for k, v in _env().items() if k != "MLFLOW_MODELS_WORKERS"}  # MLflow's default: one worker
    pin = ["taskset", "-c", str(core)]
    dm_port, ml_port = _free_port(), _free_port()
    datamill = Server(
        "datamill",
        [*pin, sys.executable, "-m", "datamill", "serve", f"{info['name']}@{ALIAS}", "--port", str(dm_port)],
        f"http://127.0.0.1:{dm_port}", "/ready", folder, env, logs / "datamill-serve.log")
    mlflow = Server(
        "mlflow", [*pin, str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m",
                   f"models:/{info['name']}/{info['version']}", "--env-manager", "local", "--port", str(ml_port),
                   "--host", "127.0.0.1"],
        f"http://127.0.0.1:{ml_port}", "/ping", folder, {**env, "MLFLOW_TRACKING_URI": info["uri"]},
        logs / "mlflow-serve.log")
    return {"datamill": datamill, "mlflow": mlflow}


PATHS = {"datamill": "/predict", "mlflow": "/invocations"}


def body(server: str, records: list[dict[str, Any]]) -> Any:
    """What each server takes: datamill a record or a list of them; MLflow ``{"dataframe_records": [...]}``."""
    if server == "mlflow":
        return {"dataframe_records": records}
    return records[0] if len(records) == 1 else records


def labels_of(server: str, status: int, answer: Any) -> list[Any] | str:
    """The labels in an answer, or what went wrong."""
    if status != 200:
        return f"HTTP {status}: {str(answer)[:300]}"
    if server == "mlflow":
        return list(answer["predictions"])
    if "prediction" in answer:
        return [answer["prediction"]]
    return [p["prediction"] for p in answer["predictions"]]


def probabilities_of(answer: Any, classes: list[Any]) -> list[list[float]]:
    rows = [answer["probabilities"]] if "prediction" in answer else [p["probabilities"] for p in answer["predictions"]]
    return [[row[str(c)] for c in classes] for row in rows]


def same_result(records: dict[str, Any], urls: dict[str, str], tolerance: float) -> dict[str, Any]:
    """Send every body the load will send to both servers; compare their answers (see :func:`compare_answers`)."""
    groups = records["singles"] + records["batches"]
    got: dict[str, list[Any]] = {"datamill": [], "mlflow": []}
    probabilities: list[list[float]] = []
    for group in groups:
        for server in got:
            status, answer = post_json(urls[server] + PATHS[server], body(server, group["records"]))
            found = labels_of(server, status, answer)
            got[server].append(found)
            if server == "datamill" and not isinstance(found, str):
                probabilities += probabilities_of(answer, records["classes"])
    expected = {"labels": [g["labels"] for g in groups],
                "probabilities": [p for g in groups for p in g["probabilities"]]}
    return compare_answers(expected, got, probabilities, tolerance)


def write_scripts(records: dict[str, Any], folder: Path) -> dict[tuple[str, int], Path]:
    scripts = {}
    for server in PATHS:
        for size, groups in ((1, records["singles"]), (BATCH_SIZE, records["batches"])):
            path = folder / f"{server}-{size}.lua"
            bodies = [json.dumps(body(server, g["records"])) for g in groups]
            path.write_text(lua_script(bodies, PATHS[server]), encoding="utf-8")
            scripts[server, size] = path
    return scripts


def load(args: argparse.Namespace, running: dict[str, Server], scripts: dict[tuple[str, int], Path]) -> dict:
    """Every measured run: server -> size -> [runs]."""
    runs: dict[str, dict[str, list]] = {s: {str(n): [] for n in SIZES} for s in running}
    for size in SIZES:
        for rep in range(args.repeat):
            order = list(running) if rep % 2 == 0 else list(reversed(running))
            for name in order:
                server = running[name]
                url = server.url + PATHS[name]

                def wrk(seconds: float, name: str = name, url: str = url) -> list[str]:
                    return wrk_command(url, scripts[name, size], seconds=seconds, connections=args.connections,
                                       core=args.load_core)

                if args.warmup > 0:
                    run_wrk(wrk(args.warmup))
                before = os.getloadavg()[0]
                with RssSampler(server.proc.pid) as rss:
                    result = run_wrk(wrk(args.seconds))
                result.update(rss_mb=rss.peak, load=[before, os.getloadavg()[0]])
                runs[name][str(size)].append(result)
                print(f"{name:8s} {size:3d} record(s): {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.1f} ms  "
                      f"p99 {result['p99_ms']:7.1f} ms  errors {result['errors']}  RSS {rss.peak:5.0f} MB",
                      file=sys.stderr)
    return runs


# ------------------------------------------------------------------------- batch scoring (parent)
def batch_scoring(args: argparse.Namespace, folder: Path, candidates: list[str]) -> dict[str, Any]:
    try:
        from bench.predict import batch_scoring as peer_batch  # type: ignore[import-not-found]
    except ImportError:
        peer_batch = None
    out: dict[str, Any] = {}
    if peer_batch is not None:
        try:
            return {"source": "bench.predict", "rows": args.batch_rows,
                    "results": peer_batch(args.batch_rows, tuple(args.batch_skip))}
        except Exception as exc:  # report it, and measure the Predictor instead
            out["bench_predict_error"] = f"{type(exc).__name__}: {str(exc).strip()[:500]}"
    r = run_child("bench.serve", "batch", "--batch-rows", str(args.batch_rows), "--candidates", *candidates,
                  prefix=["taskset", "-c", str(args.server_core)])
    return {**out, "source": "predictor", "rows": args.batch_rows, "chunk": CHUNK, "result": r}


# ------------------------------------------------------------------------- main
def _shown(command: list[str]) -> str:
    """A command line as the report shows it: the environment's paths as ``.venv/bin/...``, ports as PORT."""
    bin_dir = str(Path(sys.executable).parent)
    shown = [".venv/bin/" + Path(c).name if c.startswith(bin_dir + os.sep) else c for c in command]
    return " ".join("PORT" if prev == "--port" else c for prev, c in zip(["", *shown], shown))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("mlflow", "scikit-learn", "fastapi", "uvicorn", "onnxruntime", "skl2onnx"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            pass
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    out["wrk"] = (wrk.stdout + wrk.stderr).split("[")[0].replace("wrk", "").strip() or "?"
    return out


def _argv(args: argparse.Namespace) -> list[str]:
    argv = []
    for flag, value, default in (("--seconds", args.seconds, 20.0), ("--repeat", args.repeat, 3),
                                 ("--connections", args.connections, 16), ("--warmup", args.warmup, 2.0),
                                 ("--batch-rows", args.batch_rows, 1_000_000)):
        if value != default:
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if args.candidates != ["hist_gbm"]:
        argv += ["--candidates", *args.candidates]
    if args.batch_skip:
        argv += ["--batch-skip", *args.batch_skip]
    return argv


def _check_machine(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        raise SystemExit("bench.serve needs wrk and taskset (fix: apt-get install wrk util-linux)")
    cores = os.sched_getaffinity(0)
    if {args.server_core, args.load_core} - cores or args.server_core == args.load_core:
        raise SystemExit(f"bench.serve pins the servers to core {args.server_core} and wrk to core {args.load_core}; "
                         f"this process may use cores {sorted(cores)} (fix: --server-core / --load-core, two "
                         "different ones)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    candidates = args.candidates
    folder = project_folder(candidates)
    if args.fresh:
        shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench.serve", "--prepare", "--candidates", *candidates], check=True,
                   cwd=ROOT, env=_env())
    prepare_s = time.perf_counter() - started
    records = json.loads((folder / "records.json").read_text())
    for stale in (folder / "warehouse" / "predictions_log", folder / ".datamill" / "spill"):
        shutil.rmtree(stale, ignore_errors=True)  # every run starts with an empty prediction log
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    running = servers(folder, records, args.server_core, work)
    results: dict[str, Any] = {"model": {k: v for k, v in records.items() if k not in ("singles", "batches")},
                               "prepare_seconds": prepare_s, "versions": _versions(),
                               "settings": {"seconds": args.seconds, "repeat": args.repeat, "warmup": args.warmup,
                                            "connections": args.connections, "server_core": args.server_core,
                                            "load_core": args.load_core, "singles": SINGLES, "batches": BATCHES,
                                            "batch_size": BATCH_SIZE},
                               "commands": {n: _shown(s.command) for n, s in running.items()}}
    affinity = os.sched_getaffinity(0)
    try:
        for server in running.values():
            server.start()
        for server in running.values():
            server.wait_ready()
        metadata = get_json(running["datamill"].url + "/metadata")
        results["datamill_metadata"] = {k: metadata.get(k) for k in ("runtime", "runtime_note", "options")}
        tolerance = 1e-4 if metadata.get("runtime") == "onnx" else 1e-9
        results["same_result"] = same_result(records, {n: s.url for n, s in running.items()}, tolerance)
        print(f"same result: {results['same_result']['text']}", file=sys.stderr)
        scripts = write_scripts(records, work)
        os.sched_setaffinity(0, {args.load_core})  # this process samples memory beside wrk, off the servers' core
        results["wrk"] = {f"{s}-{n}": " ".join(wrk_command("URL", Path(f"{s}-{n}.lua"), seconds=args.seconds,
                                                          connections=args.connections, core=args.load_core))
                          for (s, n) in scripts}
        results["runs"] = load(args, running, scripts)
    except Exception:
        for server in running.values():
            print(f"--- {server.name} log (last lines):\n{server.output()[-2000:]}", file=sys.stderr)
        raise
    finally:
        os.sched_setaffinity(0, affinity)
        for server in running.values():
            server.stop()
    shutil.rmtree(work, ignore_errors=True)
    if args.batch_rows > 0:
        results["batch"] = batch_scoring(args, folder, candidates)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run (default 20)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server and request size; medians (default 3)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds of load before each run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--candidates", nargs="+", default=["hist_gbm"],
                        help="the churn model's candidates (default hist_gbm; demo: the demo's own list)")
    parser.add_argument("--batch-rows", type=int, default=1_000_000, help="rows to batch-score (0: skip)")
    parser.add_argument("--batch-skip", nargs="*", default=[], help="bench.predict contenders to leave out")
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--load-core", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="train and register the model again")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--from-json", type=Path, help="render the section from saved results; run nothing")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(project_folder(args.candidates), args.candidates)
        return
    if args.one == "batch":
        measure_child(batch(project_folder(args.candidates), args.batch_rows))
        return
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        _check_machine(args)
        results = run(args)
        results["argv"] = _argv(args)
        save_results("serve", results, args.no_write)
    text = report(results, results.get("argv", []))
    print(text)
    if not args.no_write:
        update_benchmarks_md(SECTION, text)


if __name__ == "__main__":
    main()
