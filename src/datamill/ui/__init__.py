"""``datamill ui``: one web process over every stage of a project.

FastAPI with server-rendered pages (Jinja2). The pages reuse the report blocks
(:mod:`datamill.report`) the HTML reports are built from, through the same
templates and the same boot script; the Vega builds are served from the
package (no CDN). Bound to anything but localhost, every request needs a token.

Examples
--------
>>> from datamill.ui import create_app              # doctest: +SKIP
>>> app = create_app("demo", token=None)            # doctest: +SKIP
"""

from __future__ import annotations

from datamill.ui._auth import is_local, new_token
from datamill.ui.app import UiOptions, create_app

__all__ = ["UiOptions", "create_app", "is_local", "new_token"]
