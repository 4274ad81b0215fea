"""``datamill ui``: the web UI over the project (FastAPI + uvicorn, one process).

Bound to anything but localhost, every request needs a token: ``--token``, or
one generated and printed here. The token is never logged: uvicorn's access
log (which would show ``?token=``) is off.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from datamill._deps import require
from datamill.cli.app import app, console, open_project


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Address to listen on; anything but 127.0.0.1/localhost/::1 needs a token.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)] = 8765,
    token: Annotated[Optional[str], typer.Option(
        help="The token requests must carry (Authorization: Bearer T, or ?token=T once); generated when the host "
             "is not local and none is given.", envvar="DATAMILL_UI_TOKEN", show_envvar=True)] = None,
) -> None:
    """Open the web UI: datasets, runs, models, serving, streams, monitoring, dashboards and the SQL console."""
    require("fastapi", purpose="datamill ui")
    uvicorn = require("uvicorn", purpose="datamill ui")
    import socket

    from datamill.ui import UiOptions, create_app, is_local, new_token

    project = open_project()
    generated = token is None and not is_local(host)
    if generated:
        token = new_token()
    server_app = create_app(options=UiOptions(project=project.file, token=token))
    project.close()
    sock = socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        from datamill.exceptions import ConfigError

        raise ConfigError(f"datamill ui cannot listen on {host}:{port}: {exc.strerror} "
                          "(fix: choose another --port, or 0 for any free port)") from None
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    url = f"http://{shown}:{bound}/"
    console.print(f"datamill ui for [bold]{project.config.name}[/] at {url}", highlight=False)
    if generated:
        console.print(f"it listens beyond this machine, so requests need a token: open {url}?token={token} "
                      "(or send Authorization: Bearer TOKEN; give your own with --token)", highlight=False,
                      soft_wrap=True)
    elif token is not None:
        console.print("requests need the token given (?token=... once, or Authorization: Bearer ...)",
                      highlight=False)
    config = uvicorn.Config(server_app, log_level="warning", access_log=False, server_header=False,
                            timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
