"""Charts from query results: every kind builds a Vega-Lite spec that validates and draws marks."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa
import pytest

from datamill.analytics.charts import MAX_POINTS, VL_VERSION, ChartSpec, export_chart, vega_lite
from datamill.exceptions import ConfigError


@pytest.fixture(scope="module")
def sales() -> pa.Table:
    n = 60
    return pa.table({
        "plan": [["basic", "standard", "premium", "team"][i % 4] for i in range(n)],
        "country": [["US", "DE", "FR"][i % 3] for i in range(n)],
        "month": [dt.date(2024, 1 + i % 12, 1) for i in range(n)],
        "revenue": [float(10 + (i * 7) % 53) for i in range(n)],
        "churned": [i % 5 == 0 for i in range(n)],
        "calls": [i % 6 for i in range(n)],
    })


KINDS = {  # kind -> (encodings, the SVG mark classes the drawn chart must hold)
    "bar": (dict(x="plan", y="revenue", aggregate="sum"), {"rect"}),
    "line": (dict(x="month", y="revenue", aggregate="sum", color="country"), {"line"}),
    "area": (dict(x="month", y="revenue", aggregate="mean"), {"area"}),
    "scatter": (dict(x="calls", y="revenue", color="plan"), {"symbol"}),
    "histogram": (dict(x="revenue", bins=8), {"rect"}),
    "box": (dict(x="plan", y="revenue"), {"rect", "rule"}),
    "heatmap": (dict(x="plan", y="country", color="revenue", aggregate="median"), {"rect"}),
    "pie": (dict(x="plan", y="revenue", aggregate="sum"), {"arc"}),
}


def _marks(svg: str) -> dict[str, int]:
    """How many drawn items each mark kind has (Vega names its mark groups ``mark-<kind>``)."""
    out: dict[str, int] = {}
    for kind, body in re.findall(r'<g class="mark-(\w+) role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S):
        out[kind] = out.get(kind, 0) + len(re.findall(r"<(path|rect|line)\b", body))
    return out


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_is_valid_vega_lite_and_draws_marks(sales: pa.Table, kind: str) -> None:
    import altair as alt
    import vl_convert

    encodings, marks = KINDS[kind]
    spec = vega_lite(sales, ChartSpec(kind=kind, title=f"a {kind}", **encodings))
    alt.Chart.from_dict({**spec, "width": 400})  # validates against Vega-Lite v5's JSON schema
    assert spec["$schema"].endswith("vega-lite/v5.json") and spec["title"] == f"a {kind}"
    svg = vl_convert.vegalite_to_svg({**spec, "width": 400}, vl_version=VL_VERSION)
    drawn = _marks(svg)
    assert all(drawn.get(m, 0) > 0 for m in marks), (kind, drawn)


def test_aggregates_are_computed_per_group_in_query_order(sales: pa.Table) -> None:
    spec = vega_lite(sales, ChartSpec(kind="bar", x="plan", y="revenue", aggregate="sum"))
    by_plan = {r["plan"]: r["revenue"] for r in spec["data"]["values"]}
    assert [r["plan"] for r in spec["data"]["values"]] == ["basic", "standard", "premium", "team"]
    expected = {}
    for p, r in zip(sales["plan"].to_pylist(), sales["revenue"].to_pylist()):
        expected[p] = expected.get(p, 0) + r
    assert by_plan == expected
    assert spec["encoding"]["y"]["title"] == "sum of revenue"
    counted = vega_lite(sales, ChartSpec(kind="bar", x="country", color="plan"))  # no y: rows counted
    assert sum(r["rows"] for r in counted["data"]["values"]) == sales.num_rows
    assert len(counted["data"]["values"]) == 12  # 3 countries x 4 plans
    median = vega_lite(sales, ChartSpec(kind="line", x="plan", y="revenue", aggregate="median"))
    basic = sorted(r for p, r in zip(sales["plan"].to_pylist(), sales["revenue"].to_pylist()) if p == "basic")
    assert len(basic) == 15 and median["data"]["values"][0]["revenue"] == basic[7]


def test_types_follow_the_columns_and_values_are_json(sales: pa.Table) -> None:
    spec = vega_lite(sales, ChartSpec(kind="line", x="month", y="revenue", facet="country"))
    assert spec["encoding"]["x"]["type"] == "temporal"
    assert spec["encoding"]["facet"]["field"] == "country" and spec["width"] == 220
    assert spec["data"]["values"][0]["month"] == "2024-01-01T00:00:00"  # local midnight, as the axis shows it
    nan = pa.table({"k": ["a", "b"], "v": [float("nan"), 1.0]})
    assert vega_lite(nan, ChartSpec(kind="bar", x="k", y="v"))["data"]["values"][0]["v"] is None


def test_a_missing_column_names_the_chart_and_the_columns(sales: pa.Table) -> None:
    with pytest.raises(ConfigError, match=r"chart 'Spend': y: 'revenu' is not a column of its query "
                                          r"\(did you mean 'revenue'\?\); columns: plan, country"):
        vega_lite(sales, ChartSpec(kind="bar", x="plan", y="revenu", title="Spend"))


def test_too_many_points_asks_for_an_aggregate() -> None:
    big = pa.table({"x": list(range(MAX_POINTS + 1)), "y": [1.0] * (MAX_POINTS + 1)})
    with pytest.raises(ConfigError, match="aggregate them"):
        vega_lite(big, ChartSpec(kind="scatter", x="x", y="y"))


def test_export_png_svg_and_html(sales: pa.Table, tmp_path: Path) -> None:
    spec = vega_lite(sales, ChartSpec(kind="bar", x="plan", y="revenue", aggregate="sum", title="Revenue"))
    svg = export_chart(spec, tmp_path / "c.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and _marks(svg)["rect"] == 4 and "Revenue" in svg
    png = export_chart(spec, tmp_path / "out" / "c.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
    html = export_chart(spec, tmp_path / "c.html").read_text(encoding="utf-8")
    assert "vegaEmbed" in html and "https://cdn" not in html
    with pytest.raises(ConfigError, match=r"c\.jpg: use a \.html, \.png or \.svg"):
        export_chart(spec, tmp_path / "c.jpg")


def test_a_chart_needs_the_columns_its_kind_draws() -> None:
    with pytest.raises(ValueError, match="a scatter chart needs y:"):
        ChartSpec(kind="scatter", x="a")
    with pytest.raises(ValueError, match="a box chart needs y:"):
        ChartSpec(kind="box", x="a")
