"""Models: the registry's versions and alias history, the leaderboard and the evaluation report of a version."""

from __future__ import annotations

import json
import tempfile
from typing import Any

from fastapi import APIRouter, Request

from datamill.report import Badge, Card, Cards, Table, Text
from datamill.ui._common import html, ui_of, when
from datamill.ui._render import Page

router = APIRouter()

__all__ = ["router"]


def store_of(project: Any) -> Any:
    """The project's model store (the one MLflow server its ``models:`` name, if they name one)."""
    from datamill.registry import ModelStore

    uris = {spec.tracking_uri for spec in project.config.models.values()} - {None}
    return ModelStore.for_project(project.root, uris.pop() if len(uris) == 1 else None)


def _number(text: Any) -> float | None:
    try:
        return None if text in (None, "") else float(text)
    except (TypeError, ValueError):
        return None


def versions_table(versions: list[Any]) -> Table:
    rows = []
    for mv in versions:
        t = mv.tags
        data = f"{t.get('datamill.table', '')}@{t['datamill.table_version']}" if "datamill.table_version" in t else \
            t.get("datamill.table", "")
        rows.append([mv.version, ", ".join(mv.aliases) or None, when(mv.created), t.get("datamill.best"),
                     t.get("datamill.metric"), _number(t.get("datamill.test_score")), data or None,
                     _number(t.get("datamill.rows")), t.get("datamill.registered_by")])
    return Table(["version", "aliases", "registered (UTC)", "best", "metric", "test", "table", "rows", "by"], rows,
                 caption="registered versions, newest first")


def history_table(events: list[Any]) -> Table:
    return Table(["when (UTC)", "alias", "action", "from", "to", "by", "reason"],
                 [[when(e.at), e.alias, Badge(e.action, "warn" if e.action == "rollback" else "good"),
                   e.from_version, e.to_version, e.by, e.reason] for e in reversed(events)],
                 caption="alias history, newest first")


def leaderboard(store: Any, run_id: str | None) -> list[dict[str, Any]]:
    """Each candidate of the training run ``run_id``: its best phase (tuned, ensemble, defaults) and scores."""
    if not run_id:
        return []
    client = store.client
    try:
        run = client.get_run(run_id)
        found = client.search_runs([run.info.experiment_id],
                                   f"tags.`mlflow.parentRunId` = '{run_id}' and tags.`datamill.kind` = 'candidate'",
                                   max_results=500)
    except Exception:  # the run is gone or the store unreachable: no leaderboard
        return []
    rank = {"tuned": 0, "ensemble": 1, "defaults": 2}
    best: dict[str, Any] = {}
    for r in found:
        name = r.data.tags.get("datamill.candidate", r.info.run_name)
        phase = r.data.tags.get("datamill.phase", "defaults")
        if name not in best or rank.get(phase, 3) < rank.get(best[name].data.tags.get("datamill.phase"), 3):
            best[name] = r
    rows = []
    for name, r in best.items():
        m = r.data.metrics
        rows.append({"candidate": name, "cv_mean": m.get("cv_mean"), "cv_std": m.get("cv_std"),
                     "test_score": m.get("test_score"), "seconds": m.get("fit_seconds"),
                     "tuned": r.data.tags.get("datamill.phase") == "tuned", "error": r.data.tags.get("error", "")})
    return sorted(rows, key=lambda row: -(row["cv_mean"] if row["cv_mean"] is not None else float("-inf")))


def evaluation(store: Any, run_id: str | None) -> dict[str, Any] | None:
    """The evaluation the training logged (``evaluation/evaluation.json`` of its run), or ``None``."""
    if not run_id:
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="datamill-ui-") as folder:
            path = store.client.download_artifacts(run_id, "evaluation/evaluation.json", folder)
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    except Exception:  # none logged (an older training), or the store is unreachable
        return None


@router.get("/models")
def models(request: Request) -> Any:
    ui = ui_of(request)
    page = Page("Models", "/models")
    with ui.project() as project:
        store = store_of(project)
        found = store.models()
        declared = list(project.config.models)
    rows = [[m.name, m.latest, m.versions, ", ".join(f"{a} → v{v}" for a, v in sorted(m.aliases.items())) or None,
             when(m.updated)] for m in found]
    table = Table(["model", "latest", "versions", "aliases", "updated (UTC)"], rows, caption="registered models")
    missing = [n for n in declared if n not in {m.name for m in found}]
    notes = [Text(f"{n} is declared under models: but not trained yet (datamill train {n})", tone="muted")
             for n in missing]
    return html(page.render("models.html.j2", listing=page.blocks(table, *notes), names=[m.name for m in found]))


@router.get("/models/{name}")
def model(request: Request, name: str, version: int | None = None) -> Any:
    ui = ui_of(request)
    page = Page(f"Model {name}", "/models")
    with ui.project() as project:
        store = store_of(project)
        if name not in store.names():
            return html(page.render("message.html.j2", message=f"no model '{name}' is registered "
                                    f"(train it: datamill train {name})", tone="bad"), 404)
        versions = store.versions(name)
        events = store.history(name)
    chosen = next((v for v in versions if v.version == version), None) if version is not None else \
        next((v for v in versions if "champion" in v.aliases), versions[0] if versions else None)
    summary = Cards([Card("versions", len(versions)), Card("latest", versions[0].version if versions else None),
                     Card("champion", next((v.version for v in versions if "champion" in v.aliases), None) or "–"),
                     Card("alias moves", len(events))])
    report_html = None
    if chosen is not None:
        from datamill.ml.report import build_evaluation_report

        board = leaderboard(store, chosen.run_id)
        found = evaluation(store, chosen.run_id)
        title = f"{chosen.ref}: {chosen.tags.get('datamill.best', '')}"
        if found is not None:
            report_html = page.report(build_evaluation_report(found, board, title=title))
        elif board:
            report_html = page.blocks(Text("no evaluation was logged for this version; its leaderboard:", tone="muted"),
                                      Table(["candidate", "cv mean", "cv std", "test", "seconds"],
                                            [[r["candidate"], r["cv_mean"], r["cv_std"], r["test_score"], r["seconds"]]
                                             for r in board]))
    return html(page.render("model.html.j2", name=name, chosen=chosen, versions=[v.version for v in versions],
                            registry=page.blocks(summary, versions_table(versions)),
                            history=page.blocks(history_table(events)) if events else None, report=report_html))
