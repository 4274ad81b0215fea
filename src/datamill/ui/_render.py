"""Pages: the UI's layout around fragments of the same report blocks the HTML reports are made of.

A stage's :class:`~datamill.report.Report` (a quality record, a profile, an
evaluation, a drift history) is rendered here through ``report/templates``'
``blocks.html.j2`` macros, and its charts are drawn by ``report.js``, the
report's own boot script: the UI and the static reports cannot drift apart.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from markupsafe import Markup

from datamill.report import Badge, Block, Report, Section
from datamill.report.charts import THEME
from datamill.report.render import VEGA_SCRIPTS, format_cell, human_bytes, script_json
from datamill.ui._secrets import redact, redact_urls

__all__ = ["Page", "environment"]

NAV = (("/", "Home"), ("/datasets", "Datasets"), ("/runs", "Runs"), ("/models", "Models"), ("/serving", "Serving"),
       ("/streams", "Streams"), ("/monitoring", "Monitoring"), ("/dashboards", "Dashboards"), ("/sql", "SQL"))


@lru_cache(maxsize=1)
def environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader("datamill.ui", "templates"),
                                    jinja2.PackageLoader("datamill.report", "templates")]),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = format_cell
    env.filters["bytes"] = human_bytes
    env.filters["redact"] = redact
    env.tests["badge"] = lambda value: isinstance(value, Badge)
    return env


class Page:
    """One page being built: its fragments share one chart numbering and one ``dm-specs`` script."""

    def __init__(self, title: str, active: str = "/") -> None:
        self.title, self.active = title, active
        self.specs: dict[str, Any] = {}
        self.scripts: list[str] = []  # the page's own scripts (served from /assets), after ui.js
        self._ids: dict[int, tuple[str, Any]] = {}  # id(chart) -> (its element id, the chart, kept alive)

    def _chart_id(self, chart: Any) -> str:
        if id(chart) not in self._ids:
            cid = f"chart-{len(self.specs)}"
            self._ids[id(chart)] = (cid, chart)
            self.specs[cid] = chart.spec
        return self._ids[id(chart)][0]

    def report(self, report: Report, *, header: bool = True) -> Markup:
        """``report``'s sections (and its header facts) as an HTML fragment."""
        report.assign_anchors()
        return Markup(environment().get_template("_report.html.j2").render(
            report=report, chart_id=self._chart_id, header=header))

    def sections(self, *sections: Section) -> Markup:
        return self.report(Report("", sections=list(sections)), header=False)

    def blocks(self, *blocks: Block) -> Markup:
        """Blocks outside any section (a card row, a table)."""
        return Markup(environment().get_template("_blocks.html.j2").render(blocks=list(blocks), chart_id=self._chart_id))

    def render(self, template: str, **context: Any) -> str:
        """The whole page: layout, navigation, ``template``'s body, and the charts' specs and scripts."""
        body = environment().get_template(template).render(page=self, **context)
        return redact_urls(environment().get_template("base.html.j2").render(
            page=self, body=Markup(body), nav=NAV, specs=Markup(script_json(self.specs)),
            theme=Markup(script_json(THEME)), scripts=VEGA_SCRIPTS))
