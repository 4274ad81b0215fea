"""``datamill demo``: build the bundled demo project and run it end to end."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from datamill.cli.app import app, console, start_log, state
from datamill.cli.commands import _report, run_with_progress
from datamill.cli.output import whole
from datamill.cli.query import arrow_to_rich


@app.command()
def demo(
    folder: Annotated[Optional[Path], typer.Argument(
        help="Where to create the demo project (default datamill-demo, or datamill-stream-demo with --stream).")] = None,
    rows: Annotated[int, typer.Option(help="Customers to generate.")] = 120_000,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Rebuild everything.")] = False,
    stream: Annotated[bool, typer.Option(
        "--stream", help="The streaming demo instead: orders API -> Kafka -> transform -> Cassandra and the "
        "lakehouse, starting a local broker and Cassandra itself (needs the kafka and cassandra extras).")] = False,
    ui: Annotated[bool, typer.Option(
        "--ui", help="At the end, start the web UI (`datamill ui`) on the demo project until Ctrl-C; without it the "
        "demo prints the command and the address of its business dashboard.")] = False,
    ui_port: Annotated[int, typer.Option(help="The web UI's port (with --ui, and in the address printed).")] = 8765,
) -> None:
    """Create the demo project (messy customers CSV + a local plans API) and run it end to end."""
    if stream:
        from datamill.cli.demo_stream import run_stream_demo

        run_stream_demo(folder or Path("datamill-stream-demo"))
        return
    folder = folder or Path("datamill-demo")
    from datamill.demo import API_ENV, create_demo, serve_plans_api
    from datamill.project import Project

    file = folder / "datamill.yaml"
    if not file.exists():
        console.print(f"creating the demo project in [bold]{folder}[/] ({rows:,} customers)")
        create_demo(folder, rows=rows)
    with serve_plans_api() as url:
        os.environ[API_ENV] = url
        console.print(f"plans API serving at {url}")
        state.project = folder
        with Project(folder) as project:
            config = project.config
            start_log(project.root)
            record = run_with_progress(project, [], full_refresh)
            try:
                _report(record, project.root)
            finally:
                if record.status == "ok":
                    _show_cleaning(project)
                    _show_profiles(project)
                    console.print(whole(arrow_to_rich(project.sql("select * from churn_by_plan"), 20, "churn by plan")))
                    if _show_model(project):
                        _score_in_batch(project)
                        _serve_and_ask(project)
    console.print(
        f"\nnext: [cyan]datamill -p {folder} sql \"select * from features limit 5\"[/], "
        f"[cyan]datamill -p {folder} tables[/], [cyan]datamill -p {folder} runs[/], "
        f"[cyan]datamill -p {folder} quality customers_clean[/], [cyan]datamill -p {folder} suggest customers[/], "
        f"[cyan]datamill -p {folder} profile customers --compare customers_clean[/]"
    )
    from datamill.cli.demo_ui import print_ui_ending, serve_ui

    print_ui_ending(folder, config, port=ui_port, start=ui)
    if ui:
        raise typer.Exit(serve_ui(folder, ui_port))


def _show_cleaning(project) -> None:  # noqa: ANN001
    """What cleaning did to the customers, in numbers, and where its report is."""
    from datamill.demo import CLEAN_DATASET
    from datamill.quality import load_records
    from datamill.quality.checks import outcome_of
    from datamill.quality.report import invariant_line, write_quality_report

    records = load_records(project.root, CLEAN_DATASET)
    if not records:
        return
    q = records[0]
    changed = ", ".join(f"{s.step} {c} {n:,}" for s in q.steps for c, n in s.cells_changed.items() if n) or "none"
    failed = [c for c in q.checks if not c.get("passed")]
    console.print(f"\n[bold]cleaning {CLEAN_DATASET}[/]: {q.rows_in:,} rows in, {q.rows_out:,} out; "
                  f"{q.rows_duplicates:,} duplicates removed, {q.rows_quarantined:,} rows quarantined "
                  f"(kept in {CLEAN_DATASET}__quarantine)", highlight=False)
    console.print(f"  cells changed: {changed}", highlight=False)
    console.print(f"  checks: {len(q.checks) - len(failed)} of {len(q.checks)} pass"
                  + "".join(f"; {c['name']}: {c['message']} ({outcome_of(c)})" for c in failed), highlight=False)
    console.print(f"  {invariant_line(q)}", highlight=False)
    path = write_quality_report(q, project.root / "reports" / f"quality-{CLEAN_DATASET}.html")
    console.print(f"  quality report: [bold]{path}[/]", highlight=False)


def _show_profiles(project) -> None:  # noqa: ANN001
    """Profile the raw customers and the cleaned ones (against churn), and say where the reports are."""
    from datamill.demo import CLEAN_DATASET, PROFILE_TARGET

    for name, target in (("customers", None), (CLEAN_DATASET, PROFILE_TARGET)):
        p = project.profile(name, target=target)
        path = p.to_html(project.root / "reports" / f"profile-{name}.html")
        bad = sum(1 for a in p.alerts if a["severity"] in ("bad", "warn"))
        console.print(f"\n[bold]profile of {name}[/]{f' (target {target})' if target else ''}: {p.rows:,} rows, "
                      f"{len(p.columns)} columns, {len(p.alerts)} alerts ({bad} to look at) in "
                      f"{p.notes['seconds']:.1f} s", highlight=False)
        console.print(f"  profile report: [bold]{path}[/]", highlight=False)


def _show_model(project) -> bool:  # noqa: ANN001
    """The churn model the run trained: its registered version (promoted to champion), score, report and run."""
    from datamill.demo import MODEL
    from datamill.registry import ModelStore

    store = ModelStore.for_project(project.root, project.config.models[MODEL].tracking_uri)
    latest = store.latest(MODEL)
    if latest is None:
        return False
    if "champion" not in latest.aliases:
        store.promote(MODEL, latest.version, "champion", by="datamill demo", reason="the demo's newest training")
    tags = latest.tags
    console.print(f"\n[bold]model {latest.ref}[/] (champion): best {tags.get('datamill.best')}, test "
                  f"{tags.get('datamill.metric')} {float(tags.get('datamill.test_score', 'nan')):.4f} "
                  f"(cv {float(tags.get('datamill.cv_mean', 'nan')):.4f} ± {float(tags.get('datamill.cv_std', 'nan')):.4f})",
                  highlight=False)
    if tags.get("datamill.report"):
        console.print(f"  evaluation report: [bold]{tags['datamill.report']}[/]", highlight=False)
    console.print(f"  MLflow run {latest.run_id} in {store.uri}; "
                  f"versions: [cyan]datamill -p {project.root} models show {MODEL}[/]; "
                  f"retrain: [cyan]datamill -p {project.root} train {MODEL}[/]", highlight=False)
    return True


def _score_in_batch(project) -> None:  # noqa: ANN001
    """What the run's ``predictions:`` node wrote: every customer scored by the model."""
    from datamill.demo import SCORED

    if SCORED not in project.tables():
        return
    counts = project.sql(f"select count(*) as n, count(*) filter (where prediction = 1) as churn, "
                         f"min(model_name) as model, max(model_version) as version from {SCORED}").to_pylist()[0]
    console.print(f"\n[bold]batch scoring[/]: {counts['n']:,} customers scored by {counts['model']}/{counts['version']} "
                  f"into {SCORED}; {counts['churn']:,} predicted to churn", highlight=False)
    console.print(f"  [cyan]datamill -p {project.root} sql \"select customer_id, probability_1 from {SCORED} "
                  f"order by probability_1 desc limit 10\"[/]", highlight=False)


def _serve_and_ask(project) -> None:  # noqa: ANN001
    """Start ``datamill serve MODEL@champion``, send it a few customers, show its answers, stop it."""
    import json
    import subprocess
    import sys
    import time

    import httpx

    from datamill._ports import free_port
    from datamill.demo import MODEL, SCORED

    port = free_port()
    command = [sys.executable, "-m", "datamill", "-p", str(project.root), "serve", f"{MODEL}@champion",
               "--port", str(port)]
    log = project.root / ".datamill" / "demo-serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                console.print(f"[red]the model server stopped[/] (exit {server.returncode}); see {log}")
                return
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                console.print(f"[red]the model server was not ready in 180 s[/]; see {log}")
                return
            time.sleep(0.3)
        meta = httpx.get(url + "/metadata", timeout=10).json()
        inputs = [c["name"] for c in meta.get("signature", {}).get("inputs", [])] or None
        rows = project.sql(f"select * from {SCORED} order by customer_id limit 3").to_pylist()
        console.print(f"\n[bold]serving[/] {MODEL}/{meta.get('version')} at {url} "
                      f"([cyan]datamill -p {project.root} serve {MODEL}@champion[/]); three customers:", highlight=False)
        for row in rows:
            record = {k: _jsonable(v) for k, v in row.items() if inputs is None or k in inputs}
            answer = httpx.post(url + "/predict", content=json.dumps(record), timeout=30,
                                headers={"content-type": "application/json"}).json()
            probabilities = answer.get("probabilities") or {}
            console.print(f"  customer {row['customer_id']}: prediction {answer.get('prediction')}, "
                          f"P(churn) {probabilities.get('1', probabilities.get(1, float('nan'))):.3f} "
                          f"(batch scoring said {row['probability_1']:.3f}), answered by version {answer.get('version')}",
                          highlight=False)
        from datamill.cli.demo_loop import closed_loop

        closed_loop(project, url, inputs)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _jsonable(value):  # noqa: ANN001, ANN202
    import datetime
    import math

    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
