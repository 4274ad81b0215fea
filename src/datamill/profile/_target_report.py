"""The target section of a profile report: the target, what predicts it, each feature against it.

Internal: may change.
"""

from __future__ import annotations

from typing import Any

from datamill.report import Card, Cards, Chart, Grid, Section, Table, Text, charts

__all__ = ["target_section"]


def _feature_chart(f: dict[str, Any], target: str) -> Chart | None:
    ch, name = f.get("chart") or {}, f["feature"]
    kind = ch.get("kind")
    if kind == "hist_by_class":
        spec = charts.overlay_histogram(ch["edges"], {f"{target}={k}": v for k, v in ch["series"].items()}, title=name)
    elif kind == "share_by_category":
        spec = charts.stacked_shares(ch["categories"], [str(k) for k in ch["classes"]], ch["shares"], title=name, legend=target)
    elif kind == "binned":
        spec = charts.binned_scatter(ch["x_edges"], ch["y_edges"], ch["cells"], x_title=name, y_title=target)
    elif kind == "mean_by_category":
        data = [{"value": c, "mean": m} for c, m in zip(ch["categories"], ch["means"], strict=True) if m is not None]
        spec = charts.bar_chart(data, x="mean", y="value", x_title=f"mean {target}", y_title=name)
    else:
        return None
    return Chart(spec, title=name, caption=f"mutual information {f['mi']:.4f}")


def target_section(p: Any) -> Section:
    t = p.target
    name = t["column"]
    task = Card("classes", len(t["classes"]), "classification") if t.get("classes") else Card("task", "regression")
    cards = [task, Card("features ranked", t.get("features_considered", "–"))]
    if t.get("minority_share") is not None:
        cards.append(Card("rarest class", f"{t['minority_share']:.1%}", "of rows", "warn" if t["minority_share"] < 0.1 else "good"))
    section = Section(f"Target: {name}", [Cards(cards)], intro=f"On {t['sample']}.")
    if t.get("classes"):
        data = [{"value": str(c["value"]), "rows": c["count"]} for c in t["classes"]]
        section.add(Chart(charts.bar_chart(data, x="rows", y="value", y_title=name), title="distribution of the target"))
    elif p.columns[name].get("histogram"):
        h = p.columns[name]["histogram"]
        section.add(Chart(charts.histogram(h["edges"], h["counts"], title=name), title="distribution of the target"))
    if not t["features"]:
        section.add(Text("No features to rank against the target.", tone="muted"))
        return section
    ranking = [{"feature": f["feature"], "mi": f["mi"]} for f in t["features"][:30]]
    section.add(Chart(charts.bar_chart(ranking, x="mi", y="feature", x_title="mutual information"),
                      title="mutual information ranking", caption=t.get("mi_method", "")))
    score = "alone predicts (accuracy)" if t["task"] == "classification" else "|r| or eta"
    section.add(Table(["feature", "mutual information", score], [[f["feature"], f["mi"], f["predictive"]] for f in t["features"][:30]],
                      caption="features by mutual information"))
    grid = [c for f in t["features"] if (c := _feature_chart(f, name)) is not None]
    if grid:
        section.add(Grid(grid, title=f"each feature against {name}"))
    return section
