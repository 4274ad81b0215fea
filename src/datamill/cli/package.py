"""``datamill package NAME[@ALIAS|/VERSION]``: a container image that serves a registered model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from datamill.cli.app import app, console, open_project


@app.command()
def package(
    model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME/VERSION in the model store.")],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Folder for the build context (default: .datamill/images/NAME-VERSION).")] = None,
    base_image: Annotated[Optional[str], typer.Option(
        help="Base image with this Python (default: python:X.Y-slim, X.Y this interpreter's).")] = None,
    tag: Annotated[Optional[str], typer.Option(help="Image name and tag (default: datamill-NAME:VERSION).")] = None,
    build: Annotated[bool, typer.Option("--build/--no-build", help="Build the image, or only write its context.")] = True,
    builder: Annotated[Optional[str], typer.Option(
        help="docker, podman or buildah (default: docker where its engine answers, else podman, else buildah).")] = None,
    tracking_uri: Annotated[Optional[str], typer.Option(
        help="The MLflow store (default: the project's .datamill/mlflow.db).")] = None,
) -> None:
    """Write a container build context for a registered model, and build it.

    The context holds a Dockerfile, the model, a one-model registry and every wheel
    the server needs, so the build needs no network. The image runs `datamill serve`
    as a non-root user on port 8000, with a HEALTHCHECK on /health.
    """
    from datamill.serve.image import package as make_package

    project = open_project()
    with console.status("packaging", spinner="dots") as status:
        def progress(step: str, detail: str) -> None:
            status.update(f"[bold]{step}[/] [dim]{detail[:100]}[/]")

        result = make_package(project.root, model, output=output, base_image=base_image, tag=tag, build=build,
                              builder=builder, tracking_uri=tracking_uri, progress=progress)
    console.print(f"build context for [bold]{result.name}[/] version {result.version} ({result.reference}): "
                  f"{result.context}", highlight=False, soft_wrap=True)
    if result.builder is None:
        console.print(f"not built (--no-build); build it with: {result.run_hint}", highlight=False, soft_wrap=True)
        return
    console.print(f"image [bold]{result.tag}[/] built with {result.builder}", highlight=False)
    console.print(f"run it: {result.run_hint}", highlight=False, soft_wrap=True)
