"""Commands for analysts: sql (one query, a prompt, or a PostgreSQL-protocol server), export and tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import pyarrow as pa
import typer
from rich.table import Table

from datamill.cli.app import app, console, err_console, open_project
from datamill.cli.output import whole
from datamill.exceptions import DatamillError


def arrow_to_rich(table: pa.Table, limit: int, title: str = "") -> Table:
    out = Table(title=title or None, title_justify="left", show_lines=False)
    for field in table.schema:
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_decimal(field.type)
        out.add_column(f"{field.name}\n[dim]{field.type}[/]", justify="right" if numeric else "left")
    for row in table.slice(0, limit).to_pylist():
        out.add_row(*("[dim]null[/]" if v is None else str(v) for v in row.values()))
    return out


def _show(table: pa.Table, limit: int) -> None:
    console.print(whole(arrow_to_rich(table, limit)))
    more = f" (showing {limit}; use --limit or --format csv for all)" if table.num_rows > limit else ""
    console.print(f"[dim]{table.num_rows:,} row{'' if table.num_rows == 1 else 's'}{more}[/]")


def _interactive(project, limit: int) -> None:
    console.print(
        f"datamill sql on [bold]{project.config.name}[/]: end a query with ';'. "
        "Commands: .tables, .quit (or Ctrl-D)"
    )
    buffer: list[str] = []
    while True:
        try:
            line = input("datamill> " if not buffer else "     ...> ")
        except EOFError:
            console.print()
            return
        stripped = line.strip()
        if not buffer and stripped in (".quit", ".exit", "quit", "exit", "\\q"):
            return
        if not buffer and stripped == ".tables":
            console.print(", ".join(project.tables()) or "(no tables yet: run `datamill run`)")
            continue
        buffer.append(line)
        if not stripped.endswith(";"):
            continue
        query, buffer = "\n".join(buffer).rstrip().rstrip(";"), []
        try:
            _show(project.sql(query), limit)
        except DatamillError as exc:
            err_console.print(f"[red]error:[/] {exc}", markup=True, highlight=False)


@app.command()
def sql(
    query: Annotated[Optional[str], typer.Argument(help="A query in DuckDB's SQL dialect; omit for a prompt.")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help="table, csv, json or parquet (default: table, or the --output file's extension).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the result to FILE.")] = None,
    limit: Annotated[int, typer.Option(help="Rows shown by --format table.")] = 50,
    serve: Annotated[bool, typer.Option("--serve", help="Serve the tables read-only over PostgreSQL's protocol (psql, Tableau, Superset, DBeaver…).")] = False,
    host: Annotated[str, typer.Option(help="--serve: address to listen on (anything but localhost needs --password or --token).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="--serve: port to listen on.")] = 5433,
    password: Annotated[Optional[str], typer.Option(envvar="DATAMILL_SQL_PASSWORD", show_envvar=True, help="--serve: the password clients give (any user name).")] = None,
    token: Annotated[Optional[str], typer.Option(envvar="DATAMILL_SQL_TOKEN", show_envvar=True, help="--serve: a token clients give as their password.")] = None,
    row_limit: Annotated[int, typer.Option(help="--serve: the most rows one result may have.")] = 1_000_000,
    timeout: Annotated[float, typer.Option(help="--serve: seconds a statement may run before it is stopped.")] = 300.0,
) -> None:
    """Query every table in the project's storage with SQL."""
    project = open_project()
    if serve:
        _serve(project, query, host, port, password, token, row_limit, timeout)
        return
    if query is None:
        _interactive(project, limit)
        return
    from datamill.analytics import format_for, write_table

    if fmt is None:
        fmt = format_for(output) if output is not None else "table"
    if fmt == "table" and output is not None:
        fmt = format_for(output)
    if fmt == "table":
        _show(project.sql(query), limit)
        return
    rows = write_table(project.relation(query).to_reader(), fmt, output)  # streamed, never whole in memory
    if output is not None:
        console.print(f"wrote {rows:,} rows to {output}")


@app.command()
def export(
    table: Annotated[Optional[str], typer.Argument(help="A table in storage (or give --sql).")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The file: .csv, .json, .parquet, .xlsx (Excel) or .hyper (Tableau).")] = ...,  # type: ignore[assignment]
    query: Annotated[Optional[str], typer.Option("--sql", help="Export this query's result instead of a table.")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help="csv, json, parquet, xlsx or hyper (default: the file's extension).")] = None,
    version: Annotated[Optional[int], typer.Option(help="A past version of the table, where the storage keeps them.")] = None,
) -> None:
    """Export a table or a query's result to CSV, JSON, Parquet, Excel or a Tableau extract."""
    from datamill.analytics import export as export_rows

    project = open_project()
    rows = export_rows(project, output, table=table, sql=query, fmt=fmt, version=version)
    console.print(f"wrote {rows:,} rows to {output}", highlight=False)


def _serve(project, query: str | None, host: str, port: int, password: str | None, token: str | None,
           row_limit: int, timeout: float) -> None:
    from datamill.exceptions import ConfigError

    if query is not None:
        raise ConfigError("--serve takes no query: clients send theirs (drop the query, or drop --serve)")
    if password and token:
        raise ConfigError("give --password or --token, not both (clients send either as their password)")
    from datamill.analytics.wire import serve

    def ready(server) -> None:
        bound_host, bound_port = server.server_address[:2]
        auth = "password" if password else "token" if token else "no password (localhost only)"
        console.print(f"serving [bold]{project.config.name}[/]'s tables read-only over PostgreSQL's protocol on "
                      f"{bound_host}:{bound_port} ({auth}); Ctrl-C to stop", highlight=False)
        console.print(f"  psql -h {bound_host} -p {bound_port} -U {project.config.name} {project.config.name}",
                      highlight=False, markup=False)

    serve(project, host=host, port=port, secret=password or token, row_limit=row_limit, timeout_s=timeout,
          ready=ready)


@app.command()
def tables(
    name: Annotated[Optional[str], typer.Argument(help="Show one table's schema and history.")] = None,
) -> None:
    """List the tables in storage, or show one table's columns and versions."""
    project = open_project()
    storage = project.storage
    if name is None:
        out = Table(title=f"tables of {project.config.name}", title_justify="left")
        for col in ("table", "rows", "columns", "version"):
            out.add_column(col, justify="left" if col == "table" else "right")
        for table_name in storage.list():
            scan = storage.scan(table_name)
            out.add_row(table_name, f"{scan.count_rows():,}", str(len(scan.schema)), str(scan.version))
        console.print(whole(out))
        return
    scan = storage.scan(name)
    schema = Table(title=f"{name} (version {scan.version}, {scan.count_rows():,} rows)", title_justify="left")
    schema.add_column("column")
    schema.add_column("type")
    for field in scan.schema:
        schema.add_row(field.name, str(field.type))
    console.print(whole(schema))
    history = Table(title="history", title_justify="left")
    for col in ("version", "time", "operation", "rows"):
        history.add_column(col)
    for commit in storage.history(name):
        history.add_row(str(commit.version), commit.timestamp.isoformat(timespec="seconds"), commit.operation,
                        "" if commit.rows is None else f"{commit.rows:,}")
    console.print(whole(history))
