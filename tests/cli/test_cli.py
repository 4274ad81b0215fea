"""The command line as a user meets it: real subprocesses, real projects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DATAMILL = [sys.executable, "-m", "datamill"]


def cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "160", **(env or {})}
    return subprocess.run([*DATAMILL, *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=300)


def test_help_explains_commands() -> None:
    out = cli("--help")
    assert out.returncode == 0
    for command in ("init", "validate", "run", "ingest", "runs", "sql", "tables", "demo", "clean", "quality", "suggest"):
        assert command in out.stdout


def test_init_validate_run_sql(tmp_path: Path) -> None:
    assert cli("init", "shop", cwd=tmp_path).returncode == 0
    project = tmp_path / "shop"
    validate = cli("validate", cwd=project)
    assert validate.returncode == 0, validate.stderr
    assert "daily_revenue ← orders" in validate.stdout
    run = cli("run", cwd=project)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "daily_revenue" in run.stdout and "ok" in run.stdout
    out = cli("sql", "select sum(revenue) as total from daily_revenue", "--format", "csv", cwd=project)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ['"total"', "74.25"]
    runs = cli("runs", cwd=project)
    assert runs.returncode == 0 and "ok" in runs.stdout
    tables = cli("tables", "orders", cwd=project)
    assert tables.returncode == 0 and "amount" in tables.stdout and "overwrite" in tables.stdout


def test_a_run_shows_the_engine_work_of_each_node(tmp_path: Path) -> None:
    import json

    cli("init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    assert cli("run", cwd=project).returncode == 0
    [record] = [json.loads(f.read_text()) for f in (project / ".datamill" / "runs").glob("*.json")]
    jobs = record["nodes"]["daily_revenue"]["engine_jobs"]
    assert jobs >= 1  # DuckDB counts the queries it ran for the node
    out = cli("runs", record["run_id"], cwd=project)
    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if "node" in line)
    row = next(line for line in out.stdout.splitlines() if "daily_revenue" in line)
    assert header.split()[-2] == "jobs" and row.split()[-2] == str(jobs)

def test_sql_exports_parquet(tmp_path: Path) -> None:
    cli("init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    cli("run", cwd=project)
    target = tmp_path / "out.parquet"
    out = cli("sql", "select * from orders", "--format", "parquet", "--output", str(target), cwd=project)
    assert out.returncode == 0, out.stderr
    import pyarrow.parquet as pq

    assert pq.read_table(target).num_rows == 4


def test_interactive_sql(tmp_path: Path) -> None:
    cli("init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    cli("run", cwd=project)
    session = subprocess.run(
        [*DATAMILL, "sql"], input=".tables\nselect count(*) as n\nfrom orders;\nselect nope;\n.quit\n",
        capture_output=True, text=True, cwd=project, timeout=120,
    )
    assert session.returncode == 0
    assert "orders" in session.stdout and "4" in session.stdout
    assert "error" in session.stderr  # the bad query is reported, the prompt goes on


def test_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    (tmp_path / "datamill.yaml").write_text("name: p\nsources:\n  c:\n    type: cvs\n    path: x.csv\n")
    out = cli("validate", cwd=tmp_path)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "unknown source type 'cvs'" in out.stderr and "did you mean 'csv'" in out.stderr
    debug = cli("--debug", "validate", cwd=tmp_path)
    assert "Traceback" in debug.stderr


def test_missing_table_in_sql(tmp_path: Path) -> None:
    cli("init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    cli("run", cwd=project)
    out = cli("sql", "select * from ordrs", cwd=project)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "did you mean 'orders'" in out.stderr


def test_no_project_here(tmp_path: Path) -> None:
    out = cli("run", cwd=tmp_path)
    assert out.returncode == 1 and "datamill init" in out.stderr


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    out = cli("demo", str(tmp_path / "demo"), "--rows", "20000")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "churn by plan" in out.stdout
    assert "customers__quarantine" in out.stdout  # the malformed lines are kept, and said so
    # the messy customers are cleaned and checked, with the counts and the report
    assert "cleaning customers_clean: 20,000 rows in, 19,560 out; 400 duplicates removed, 40 rows quarantined" in out.stdout
    assert "(holds)" in out.stdout
    report = tmp_path / "demo" / "reports" / "quality-customers_clean.html"
    assert report.is_file() and str(report) in out.stdout.replace("\n", "")
    assert "model churn_model/1 (champion)" in out.stdout  # registered by the run, promoted by the demo
    flat = " ".join(out.stdout.split())
    assert "batch scoring: 19,560 customers scored by churn_model/1 into customers_scored" in flat  # every row
    assert flat.count("answered by version 1") == 3  # a real `datamill serve` answered three requests
    # the closed loop: shifted traffic drifts, churn_watch retrains and gates without a human step; the audit shows it
    assert "dataset drift: 3 of 11 features drifted" in flat
    assert "churn_watch: promoted: churn_model v2 (champion v1; trigger drift;" in flat or "churn_watch: refused" in flat
    if "churn_watch: promoted" in flat:
        assert "it answered with version 1, now with version 2 (hot reload, no restart)" in flat
    assert "audit trail" in flat and "decisions of monitor churn_watch" in flat
    # it ends on the web UI: the command that starts it and the business dashboard's address
    assert f"datamill -p {tmp_path / 'demo'} ui, then open http://127.0.0.1:8765/dashboards/business" in flat
    _demo_again_with_ui(tmp_path / "demo")


def _demo_again_with_ui(folder: Path) -> None:
    """``datamill demo --ui`` on the demo just made: up to date, then the UI serves the dashboard until Ctrl-C."""
    import signal
    import threading
    import time

    import httpx

    from tests.services import free_port

    port = free_port()
    proc = subprocess.Popen([*DATAMILL, "demo", str(folder), "--rows", "20000", "--ui", "--ui-port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "160"}, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}/dashboards/business"
    try:
        deadline, page = time.monotonic() + 280, None
        while page is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                page = httpx.get(url, timeout=30)
            except httpx.TransportError:
                time.sleep(0.5)
        assert page is not None and page.status_code == 200, f"{url}: {page}; demo said: {''.join(lines)[-3000:]}"
        assert "data-charts" in page.text or "dm-specs" in page.text  # the dashboard's charts, not an error page
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the UI it started too
    reader.join(timeout=10)
    said = " ".join("".join(lines).split())
    assert proc.returncode == 0, said[-3000:]
    assert "up to date" in said and "(Ctrl-C stops it)" in said and "web UI stopped" in said
    assert f"starting datamill -p {folder} ui --port {port} at {url}" in said


def test_bad_rows_fail_the_node_with_line_and_fix(tmp_path: Path) -> None:
    cli("init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    (project / "data" / "orders.csv").write_text("order_id,order_date,customer,amount\n1,2026-01-01,ada,1.0\n2,2026-01-02,bob\n")
    text = (project / "datamill.yaml").read_text().replace("on_bad_rows: quarantine", "on_bad_rows: fail")
    (project / "datamill.yaml").write_text(text)
    out = cli("run", cwd=project)
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr
    assert "orders.csv line 3" in out.stdout and "on_bad_rows: quarantine" in out.stdout
    assert "blocked" in out.stdout  # daily_revenue depends on orders
    runs = cli("runs", cwd=project)
    assert "failed" in runs.stdout and "orders" in runs.stdout


def test_unreachable_postgres_storage_is_a_message(tmp_path: Path) -> None:
    from tests.services import free_port

    (tmp_path / "datamill.yaml").write_text(
        f"name: p\nstorage: postgresql://u:secret@127.0.0.1:{free_port()}/db\n"
    )
    out = cli("tables", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "cannot connect to PostgreSQL" in out.stderr and "secret" not in out.stderr


def test_output_format_follows_the_extension(tmp_path: Path) -> None:
    cli("init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    cli("run", cwd=project)
    out = cli("sql", "select * from orders", "-o", str(tmp_path / "o.parquet"), cwd=project)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "o.parquet").read_bytes()[:4] == b"PAR1"
    bad = cli("sql", "select 1", "-o", str(tmp_path / "missing" / "o.csv"), cwd=project)
    assert bad.returncode == 1 and "cannot write" in bad.stderr and "Traceback" not in bad.stderr


NESTED_EVENTS = """\
{"id": 1, "user": {"name": "ann", "address": {"city": "Oslo"}}, "tags": ["new", "vip"], "items": [{"sku": "A1", "qty": 2}], "props": {"color": "red"}}
{"id": 2, "user": {"name": "bob", "address": {"city": null}}, "tags": [], "items": [], "props": {}}
{"id": 3, "user": null, "tags": null, "items": [{"sku": "B2", "qty": 1}, {"sku": "C3", "qty": null}], "props": {"color": "blue"}}
"""
NESTED_PROJECT = """\
name: nested
storage: {storage}
sources:
  events: {{type: ndjson, path: data/events.ndjson}}
datasets:
  event_stats:
    sql: >
      select id, len(tags) as n_tags, tags[1] as first_tag, user.address.city as city,
             list_sum([i.qty for i in items]) as units, props.color as color
      from events
"""


def nested_project(folder: Path, storage: str) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "events.ndjson").write_text(NESTED_EVENTS)
    (folder / "datamill.yaml").write_text(NESTED_PROJECT.format(storage=storage))
    return folder


@pytest.mark.parametrize(
    "storage",
    ["lakehouse:./warehouse", pytest.param("postgres", marks=pytest.mark.postgres), "duckdb:./w.duckdb",
     pytest.param("cassandra", marks=pytest.mark.cassandra)],
)
def test_nested_ndjson_is_stored_and_queried_in_every_storage(tmp_path: Path, storage: str,
                                                              request: pytest.FixtureRequest) -> None:
    env = {}
    if storage == "postgres":
        env["PG_URL"] = request.getfixturevalue("postgres_url")
        storage = "{type: postgres, url: '${PG_URL}', schema: nested_" + tmp_path.name[-8:].replace("-", "_") + "}"
    if storage == "cassandra":  # the raw source has no key: row_id gives its rows a generated one
        env["CASS_URL"] = request.getfixturevalue("cassandra_url") + "/nested_" + tmp_path.name[-8:].replace("-", "_")
        storage = "{type: cassandra, url: '${CASS_URL}', row_id: true}"
    project = nested_project(tmp_path / "p", storage)
    run = cli("run", cwd=project, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    out = cli("sql", "select * from event_stats order by id", "--format", "csv", cwd=project, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        '"id","n_tags","first_tag","city","units","color"',
        '1,2,"new","Oslo",2,"red"',
        "2,0,,,,",
        '3,,,,1,"blue"',
    ]
    nested = cli("sql", "select id, items[2].sku as sku, user.name as name from events order by id",
                 "--format", "csv", cwd=project, env=env)
    assert nested.stdout.splitlines() == ['"id","sku","name"', '1,,"ann"', '2,,"bob"', '3,"C3",']
    tables = cli("tables", "events", cwd=project, env=env)
    assert "struct<name: string, address: struct<city: string>>" in tables.stdout


def _model_project(folder: Path) -> Path:
    """A project with a model: integer columns make MLflow warn ("Hint: Inferred schema contains integer ...")."""
    import numpy as np

    rng = np.random.default_rng(0)
    folder.mkdir()
    (folder / "data").mkdir()
    lines = ["age,visits,plan,churned"]
    for _ in range(200):
        age, visits = int(rng.integers(18, 80)), int(rng.integers(0, 30))
        lines.append(f"{age},{visits},{rng.choice(['a', 'b'])},{int(visits + rng.normal(0, 5) > 15)}")
    (folder / "data" / "customers.csv").write_text("\n".join(lines) + "\n")
    (folder / "datamill.yaml").write_text(
        "name: quiet\nsources:\n  customers: {type: csv, path: data/customers.csv}\n"
        "models:\n  churn_model:\n    from: customers\n    target: churned\n"
        "    candidates: [baseline, logistic]\n    cv: 2\n    tune: {top: 0, timeout: 60s}\n"
    )
    return folder


def test_library_warnings_go_to_the_run_log_and_the_result_is_no_warning(tmp_path: Path) -> None:
    project = _model_project(tmp_path / "quiet")
    out = cli("run", cwd=project)
    assert out.returncode == 0, out.stdout + out.stderr
    terminal = out.stdout + out.stderr
    assert "Warning" not in terminal and "Hint:" not in terminal and "integer column" not in terminal
    assert "churn_model: best logistic: test roc_auc" in out.stdout  # the result, said as a result
    assert "warning churn_model: best" not in out.stdout
    logs = list((project / ".datamill" / "runs").glob("*.log"))
    assert len(logs) == 1 and "Inferred schema contains integer column" in logs[0].read_text()
    assert logs[0].with_suffix(".json").is_file()  # beside the run's record, under the same id


def test_a_failed_run_names_its_log(tmp_path: Path) -> None:
    cli("init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    (project / "transforms.py").write_text(
        "import warnings\n"
        "def broken(orders):\n"
        "    warnings.warn('a library complains here')\n"
        "    raise ValueError('no good')\n"
    )
    text = (project / "datamill.yaml").read_text()
    (project / "datamill.yaml").write_text(text + "  broken:\n    python: transforms:broken\n    inputs: [orders]\n")
    out = cli("run", cwd=project)
    assert out.returncode == 1
    assert "a library complains here" not in out.stdout + out.stderr
    log = next((project / ".datamill" / "runs").glob("*.log"))
    assert "a library complains here" in log.read_text()
    assert f"log: {log}" in out.stdout.replace("\n", "")


@pytest.mark.spark
def test_spark_and_jvm_log_lines_stay_off_the_terminal(tmp_path: Path) -> None:
    cli("init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    text = (project / "datamill.yaml").read_text()
    (project / "datamill.yaml").write_text(text.replace("engine: duckdb", "engine: {type: spark, master: 'local[1]'}  #"))
    out = cli("run", cwd=project)
    assert out.returncode == 0, out.stdout + out.stderr
    terminal = out.stdout + out.stderr
    for noise in ("WARN", "log4j", "Setting default log level", "NativeCodeLoader", "incubator"):
        assert noise not in terminal, noise
    log = next((project / ".datamill" / "runs").glob("*.log")).read_text()
    assert "WARN" in log or "incubator" in log  # the JVM's lines are kept, in the run's log


def test_tables_keep_headers_and_numbers_whole_when_narrow_or_piped(tmp_path: Path) -> None:
    cli("init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    rows = [f"{i},2026-01-0{1 + i % 3},c{i % 7},{i % 50}.5" for i in range(120_000)]
    (project / "data" / "orders.csv").write_text("order_id,order_date,customer,amount\n" + "\n".join(rows) + "\n")
    narrow = {"COLUMNS": "40"}  # and stdout is a pipe
    run = cli("run", cwd=project, env=narrow)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "…" not in run.stdout and "120,000" in run.stdout and "ingest orders" in run.stdout
    query = "select 1200000 as rows_written, 'orders' as table_name, 12 as version, 3.14159 as ratio"
    sql = cli("sql", query, cwd=project, env=narrow)
    runs = cli("runs", cwd=project, env=narrow)
    tables = cli("tables", "orders", cwd=project, env=narrow)
    listing = cli("tables", cwd=project, env=narrow)
    for out in (sql, runs, tables, listing):
        assert out.returncode == 0, out.stderr
        assert "…" not in out.stdout
        assert max(len(line) for line in out.stdout.splitlines()) <= 40
    for word in ("rows_written", "1200000", "table_name", "version", "3.14159"):
        assert word in sql.stdout, word
    assert "run id" in runs.stdout and "started" in runs.stdout and "rows out" in runs.stdout.replace("\n", " ")
    run_id = next(p.stem for p in (project / ".datamill" / "runs").glob("*.json"))
    assert run_id in runs.stdout
    for word in ("order_id", "amount", "version", "operation", "overwrite"):
        assert word in tables.stdout, word
    assert "daily_revenue" in listing.stdout and "columns" in listing.stdout
