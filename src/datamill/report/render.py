"""Turn a :class:`~datamill.report.blocks.Report` into one self-contained HTML file.

The page needs nothing from the network: the styles, the vendored Vega,
Vega-Lite and vega-embed builds (``assets/``) and every chart's spec are inlined.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from datamill.report.blocks import Badge, Report
from datamill.report.charts import THEME

__all__ = ["VEGA_SCRIPTS", "render_html", "write_html"]

VEGA_SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")  # load order matters


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("datamill.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = format_cell
    env.tests["badge"] = lambda value: isinstance(value, Badge)
    return env


@lru_cache(maxsize=4)
def _asset(name: str) -> str:
    text = resources.files("datamill.report").joinpath("assets", name).read_text(encoding="utf-8")
    return text.replace("</script", "<\\/script")  # cannot end the inline <script> early


def _template_text(name: str) -> str:
    return resources.files("datamill.report").joinpath("templates", name).read_text(encoding="utf-8")


def script_json(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (no ``</``)."""
    text = json.dumps(value, ensure_ascii=False, default=str, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def format_cell(value: Any) -> str:
    """How a table cell reads: ``12,345``, ``0.1235``, ``3.2e-07``, ``–`` for nothing.

    Examples
    --------
    >>> format_cell(12345), format_cell(0.123456), format_cell(None), format_cell(2.5e-7)
    ('12,345', '0.1235', '–', '2.5e-07')
    """
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.4f}".rstrip("0") if 1e-3 <= abs(value) < 1e6 else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {format_cell(v)}" for k, v in value.items())
    return str(value)


def human_bytes(n: int | None) -> str:
    """``1.5 MB`` and friends.

    Examples
    --------
    >>> human_bytes(1_500_000), human_bytes(None)
    ('1.5 MB', '–')
    """
    if n is None:
        return "–"
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def render_html(report: Report) -> str:
    """The report as one HTML page (a string)."""
    import datamill

    report.assign_anchors()
    charts = report.charts()
    ids = {id(c): f"chart-{i}" for i, c in enumerate(charts)}
    specs = {ids[id(c)]: c.spec for c in charts}
    return _environment().get_template("report.html.j2").render(
        report=report,
        chart_id=lambda chart: ids[id(chart)],
        css=_template_text("report.css"),
        boot=_template_text("report.js"),
        scripts=[_asset(n) for n in VEGA_SCRIPTS] if charts else [],
        specs=script_json(specs),
        theme=script_json(THEME),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=datamill.__version__,
    )


def write_html(report: Report, path: str | os.PathLike[str]) -> Path:
    """Render ``report`` and write it to ``path`` atomically (folders created); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    html = render_html(report)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
