"""``datamill predict MODEL --table T --output T_scored``: score a stored table with a registered model."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from datamill.cli.app import app, console, open_project, state


@app.command()
def predict(
    model: Annotated[str, typer.Argument(help="NAME (its latest version), NAME@ALIAS or NAME/VERSION.")],
    table: Annotated[str, typer.Option("--table", "-t", help="The stored table to score.")],
    output: Annotated[str, typer.Option("--output", "-o", help="The table to write the scored rows to.")],
    tracking_uri: Annotated[Optional[str], typer.Option(
        "--tracking-uri", help="The model store (default: the project's, .datamill/mlflow.db).")] = None,
) -> None:
    """Score a table with a registered model, on the project's engine (DuckDB or Spark).

    The output holds the table's columns, `prediction`, one `probability_<class>`
    column per class for a classifier, and `model_name` and `model_version` on
    every row.
    """
    from datamill.cli.progress import RichProgress
    from datamill.pipeline.predictions import describe

    project = open_project()
    with RichProgress(console) as progress:
        scored = project.predict(model, table=table, output=output, tracking_uri=tracking_uri, progress=progress,
                                 run_id=state.run_id)
    console.print(f"scored {scored.rows_out:,} rows of [bold]{scored.table}[/] with [bold]{describe(scored.model)}"
                  f"[/] into [bold]{scored.output}[/] (version {scored.output_version})", highlight=False)
