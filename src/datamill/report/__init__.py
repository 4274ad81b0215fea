"""Reports: one self-contained HTML page, with charts, that opens offline.

Stages build a :class:`Report` from blocks (cards with key numbers, tables,
Vega-Lite charts, text) grouped in sections, then write it with
:func:`write_html`. The page inlines its styles, the vendored Vega builds and
the chart specs, so it can be mailed or archived and still open anywhere.

Examples
--------
>>> from datamill.report import Card, Cards, Chart, Report, Section, charts, render_html
>>> r = Report("Example", subtitle="a tiny report")
>>> _ = r.add(Section("Numbers", [Cards([Card("rows", 1200)])]))
>>> _ = r.add(Section("A chart", [Chart(charts.bar_chart([{"k": "a", "n": 2}], x="n", y="k"))]))
>>> html = render_html(r)
>>> "vegaEmbed" in html and "https://cdn" not in html
True
"""

from __future__ import annotations

from datamill.report import charts
from datamill.report.blocks import Badge, Block, Card, Cards, Chart, Grid, Report, Section, Table, Text
from datamill.report.render import format_cell, human_bytes, render_html, write_html

__all__ = [
    "Badge",
    "Block",
    "Card",
    "Cards",
    "Chart",
    "Grid",
    "Report",
    "Section",
    "Table",
    "Text",
    "charts",
    "format_cell",
    "human_bytes",
    "render_html",
    "write_html",
]
