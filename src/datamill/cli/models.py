"""``datamill models``: the model store's versions, aliases (with their history) and lineage."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from datamill.cli.app import app, console, open_project
from datamill.cli.output import whole

models_app = typer.Typer(
    name="models",
    help=(
        "The model store (MLflow's registry): every training registers a version with its lineage; "
        "aliases such as champion point at versions, and every move is recorded.\n\n"
        "A model is named NAME (its latest version), NAME@ALIAS or NAME/VERSION."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(models_app, name="models")


def _store() -> Any:
    """The project's model store (the MLflow server its models: name, if one does)."""
    from datamill.registry import ModelStore

    project = open_project()
    uris = {spec.tracking_uri for spec in project.config.models.values()} - {None}
    return ModelStore.for_project(project.root, uris.pop() if len(uris) == 1 else None)


def _when(at: Any) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else ""


def _number(text: str | None) -> str:
    try:
        return f"{float(text):.4f}" if text not in (None, "") else ""
    except ValueError:
        return str(text)


@models_app.command("list")
def list_models() -> None:
    """List the registered models: latest version, how many versions, where each alias points."""
    store = _store()
    found = store.models()
    if not found:
        console.print(f"no model is registered in {store.uri} yet (train one: [cyan]datamill train MODEL[/])",
                      highlight=False)
        return
    table = Table(title=f"models in {store.uri}", title_justify="left")
    for col in ("model", "latest", "versions", "aliases", "updated (UTC)", "description"):
        table.add_column(col, justify="right" if col in ("latest", "versions") else "left", overflow="fold")
    for m in found:
        aliases = ", ".join(f"{a} → {v}" for a, v in sorted(m.aliases.items()))
        table.add_row(m.name, str(m.latest or ""), str(m.versions), aliases, _when(m.updated), m.description or "")
    console.print(whole(table))


@models_app.command()
def show(
    model: Annotated[str, typer.Argument(help="NAME (all its versions and alias history), NAME@ALIAS or NAME/VERSION "
                                              "(that version: lineage, signature, scores).")],
) -> None:
    """Show a model's versions and alias history, or one version's lineage, signature and scores."""
    from datamill.registry import parse_ref

    store = _store()
    ref = parse_ref(model)
    if ref.alias is None and ref.version is None:
        _show_model(store, ref.name)
    else:
        _show_version(store, store.resolve(ref))


def _show_model(store: Any, name: str) -> None:
    versions = store.versions(name)
    table = Table(title=f"{name}: {len(versions)} versions", title_justify="left")
    for col in ("version", "aliases", "registered (UTC)", "best", "metric", "test", "table", "rows", "by"):
        table.add_column(col, justify="right" if col in ("version", "test", "rows") else "left", overflow="fold")
    for mv in versions:
        t = mv.tags
        data = f"{t.get('datamill.table', '')}@{t['datamill.table_version']}" if "datamill.table_version" in t else \
            t.get("datamill.table", "")
        table.add_row(str(mv.version), ", ".join(mv.aliases), _when(mv.created), t.get("datamill.best", ""),
                      t.get("datamill.metric", ""), _number(t.get("datamill.test_score")), data,
                      t.get("datamill.rows", ""), t.get("datamill.registered_by", ""))
    console.print(whole(table))
    _show_history(store, name)


def _show_history(store: Any, name: str, alias: str | None = None) -> None:
    events = store.history(name, alias)
    if not events:
        console.print(f"no alias of {name} was moved yet (promote one: "
                      f"[cyan]datamill models promote {name} VERSION --alias champion[/])", highlight=False)
        return
    table = Table(title=f"{name}: alias history", title_justify="left")
    for col in ("when (UTC)", "alias", "action", "from", "to", "by", "reason"):
        table.add_column(col, justify="right" if col in ("from", "to") else "left", overflow="fold")
    for e in events:
        table.add_row(_when(e.at), e.alias, e.action, "" if e.from_version is None else str(e.from_version),
                      str(e.to_version), e.by, e.reason or "")
    console.print(whole(table))


def _type(column: Any) -> str:
    kind = getattr(column, "type", None)
    return str(getattr(kind, "name", None) or getattr(column, "dtype", None) or kind)


def _signature_rows(mv: Any) -> list[tuple[str, str]]:
    signature = mv.signature
    if signature is None or signature.inputs is None:
        return []
    rows = [(f"input {c.name}", _type(c)) for c in signature.inputs.inputs]
    if signature.outputs is not None:
        rows += [(f"output {c.name or ''}".strip(), _type(c)) for c in signature.outputs.inputs]
    return rows


def _show_version(store: Any, mv: Any) -> None:
    by = f" (resolved by alias {mv.alias})" if mv.alias else ""
    console.print(f"[bold]{mv.ref}[/]{by}: {mv.model_uri}; aliases: {', '.join(mv.aliases) or 'none'}; "
                  f"registered {_when(mv.created)} UTC", highlight=False)
    if mv.description:
        console.print(f"  {mv.description}", highlight=False)
    table = Table(title="lineage", title_justify="left")
    table.add_column("tag", overflow="fold")
    table.add_column("value", overflow="fold")
    for key, value in sorted(mv.tags.items()):
        if key != "datamill.signature":
            table.add_row(key, value)
    table.add_row("source", mv.source)
    console.print(whole(table))
    rows = _signature_rows(mv)
    if rows:
        sig = Table(title="signature", title_justify="left")
        sig.add_column("column", overflow="fold")
        sig.add_column("type", overflow="fold")
        for row in rows:
            sig.add_row(*row)
        console.print(whole(sig))
    metrics = store.training(mv)["metrics"]
    if metrics:
        m = Table(title=f"metrics (MLflow run {mv.run_id})", title_justify="left")
        m.add_column("metric", overflow="fold")
        m.add_column("value", justify="right")
        for key, value in sorted(metrics.items()):
            m.add_row(key, f"{value:.4f}")
        console.print(whole(m))


@models_app.command()
def promote(
    model: Annotated[str, typer.Argument(help="The model's name.")],
    version: Annotated[int, typer.Argument(help="The version the alias will point at.", min=1)],
    alias: Annotated[str, typer.Option("--alias", "-a", help="The alias to move (created if new).")] = "champion",
    reason: Annotated[Optional[str], typer.Option("--reason", "-r", help="Why: kept in the alias history.")] = None,
) -> None:
    """Point an alias (default champion) at a version; who, when, from which version and why are recorded."""
    event = _store().promote(model, version, alias, reason=reason)
    before = f"from version {event.from_version} " if event.from_version is not None else "(new alias) "
    console.print(f"{model}@{alias} moved {before}to version {event.to_version} by {event.by}", highlight=False)


@models_app.command()
def rollback(
    model: Annotated[str, typer.Argument(help="The model's name.")],
    alias: Annotated[str, typer.Option("--alias", "-a", help="The alias to move back.")] = "champion",
    reason: Annotated[Optional[str], typer.Option("--reason", "-r", help="Why: kept in the alias history.")] = None,
) -> None:
    """Point an alias back at the version it pointed at before (from its history); the rollback is recorded too."""
    event = _store().rollback(model, alias, reason=reason)
    console.print(f"{model}@{alias} rolled back from version {event.from_version} to version {event.to_version} "
                  f"by {event.by}", highlight=False)


@models_app.command()
def diff(
    first: Annotated[str, typer.Argument(help="A version: NAME/VERSION or NAME@ALIAS (e.g. churn/1).")],
    second: Annotated[str, typer.Argument(help="The other one (e.g. churn/2, or churn@champion).")],
    all_rows: Annotated[bool, typer.Option("--all", help="Show equal rows too, not only what differs.")] = False,
) -> None:
    """Compare two versions side by side: parameters, metrics, lineage and signature."""
    store = _store()
    a, b = store.resolve(first), store.resolve(second)
    ta, tb = store.training(a), store.training(b)
    sections = [
        ("parameters", ta["params"], tb["params"]),
        ("model parameters", ta["model_params"], tb["model_params"]),
        ("metrics", {k: f"{v:.4f}" for k, v in ta["metrics"].items()}, {k: f"{v:.4f}" for k, v in tb["metrics"].items()}),
        ("lineage", {k: v for k, v in a.tags.items() if k != "datamill.signature"},
         {k: v for k, v in b.tags.items() if k != "datamill.signature"}),
        ("signature", dict(_signature_rows(a)), dict(_signature_rows(b))),
    ]
    table = Table(title=f"{a.ref} vs {b.ref}", title_justify="left")
    for col in ("section", "key", a.ref, b.ref):
        table.add_column(col, overflow="fold")
    differ = 0
    for section, left, right in sections:
        for key in sorted(set(left) | set(right)):
            x, y = left.get(key, "—"), right.get(key, "—")
            differ += x != y
            if x != y or all_rows:
                style = "[yellow]" if x != y else ""
                table.add_row(section, key, f"{style}{_cell(x)}", f"{style}{_cell(y)}")
    if table.row_count:
        console.print(whole(table))
    console.print(f"{differ} differences between {a.ref} and {b.ref}" + ("" if all_rows else " (--all shows equal rows)"),
                  highlight=False)


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text.replace("[", "\\[")
