"""The drift report: every part present, drawn from the result's own bins, and its charts drawn in Chromium."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from datamill.engine.duckdb import DuckDBEngine
from datamill.monitor.history import append_history, read_history
from datamill.monitor.performance import live_performance
from datamill.monitor.report import (
    build_drift_report,
    distribution_chart,
    write_drift_report,
)
from datamill.report import Grid, Table
from datamill.storage import STORAGES
from tests.browser import opened_report, png_pixels_vary
from tests.monitor.conftest import churn_log, drift_result, model_version


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory):
    """A result, three past runs in the history, and live performance, all from a real lakehouse."""
    root = tmp_path_factory.mktemp("project")
    cls = STORAGES.load("lakehouse")
    storage = cls(cls.Options(path="warehouse"), project_dir=root)
    for day, shift in ((1, 0.0), (2, 0.4), (3, 1.0)):
        append_history(storage, drift_result(computed_at=f"2024-03-0{day}T12:00:00+00:00", shift=shift))
    log, truth = churn_log(days=3, per_day=60)
    storage.write("predictions_log", log, mode="append")
    storage.write("labels", pa.table({"customer_id": list(truth), "churned": list(truth.values())}))
    with DuckDBEngine() as engine:
        perf = live_performance(storage, engine, model_version(test_score=0.93), labels="labels", key="customer_id",
                                target="churned", floor=0.8)
    return drift_result(computed_at="2024-03-03T12:00:00+00:00"), read_history(storage), perf


def test_report_has_every_part(inputs, tmp_path: Path) -> None:
    result, history, perf = inputs
    report = build_drift_report(result, history=history, performance=perf)
    titles = [s.title for s in report.sections]
    assert titles == ["Summary", "Drift by feature", "Prediction drift", "Distributions", "Live performance", "History"]
    table = report.sections[1].blocks[0]
    assert isinstance(table, Table)
    # drifted first, then by statistic/threshold: plan 41/10, age 0.35/0.1, income 0.03/0.1
    assert [r[0] for r in table.rows] == ["plan (cat)", "age (num)", "income (num)"]
    assert [r[1].text for r in table.rows] == ["drift", "drift", "ok"]
    grid = report.sections[3].blocks[0]
    assert isinstance(grid, Grid) and [c.title for c in grid.blocks] == ["plan", "age", "income"]
    html = write_drift_report(result, tmp_path / "d.html", history=history, performance=perf).read_text("utf-8")
    assert "<script src" not in html and "https://cdn" not in html
    assert "platinum (new)" in html and "2 of 3 features drifted" in html
    trends = report.sections[5].blocks[1]
    assert isinstance(trends, Grid) and trends.blocks[0].title == "prediction"
    age = next(c for c in trends.blocks if c.title == "age")
    points = age.spec["data"]["values"]  # ks decides by p-value: the trend shows it, on a log scale
    assert [v["value"] for v in points] == pytest.approx([0.5, 0.5 * 10 ** -3.2, 5e-9])
    assert [v["state"] for v in points] == ["ok", "drift", "drift"] and {v["threshold"] for v in points} == {0.05}
    assert age.spec["layer"][1]["encoding"]["y"]["scale"] == {"type": "log"}
    income = next(c for c in trends.blocks if c.title == "income")
    assert [v["value"] for v in income.spec["data"]["values"]] == [0.03] * 3  # psi: the distance itself


def test_overlays_use_the_same_bins_for_both() -> None:
    result = drift_result()
    age = next(f for f in result.features if f.column == "age")
    spec = distribution_chart(age)
    values = spec["data"]["values"]
    ref = [(v["start"], v["end"]) for v in values if v["series"] == "reference"]
    cur = [(v["start"], v["end"]) for v in values if v["series"] == "current"]
    assert ref == cur and len(ref) == 12
    assert ref[0][0] == 18.0 and ref[-1][1] == 78.0  # open ends (-inf, inf) closed one bin width out
    # density: each series integrates to 1 over the bins
    for series in ("reference", "current"):
        assert sum(v["share"] * (v["end"] - v["start"]) for v in values if v["series"] == series) == pytest.approx(1)
    plan = distribution_chart(next(f for f in result.features if f.column == "plan"))
    shares = {(v["value"], v["series"]): v["share"] for v in plan["data"]["values"]}
    assert shares[("platinum (new)", "reference")] == 0 and shares[("platinum (new)", "current")] == 0.2
    assert shares[("basic", "reference")] == 0.5


def test_a_result_without_history_or_labels(tmp_path: Path) -> None:
    result = drift_result(shift=0.0)
    report = build_drift_report(result)
    assert [s.title for s in report.sections] == ["Summary", "Drift by feature", "Prediction drift", "Distributions"]
    assert report.sections[0].blocks[0].items[0].value == "no drift"


@pytest.mark.browser
def test_report_opens_in_chromium_with_charts(inputs, tmp_path: Path) -> None:
    result, history, perf = inputs
    path = write_drift_report(result, tmp_path / "drift.html", history=history, performance=perf)
    shot = tmp_path / "drift.png"
    with opened_report(path, shot) as view:
        marks = view.count(".vega svg path, .vega svg rect, .vega svg circle, .vega svg line")
        toc = view.texts("nav.toc a")
    assert view.errors == [] and view.failed_charts == 0
    assert view.requests == [path.as_uri()]  # self-contained: nothing fetched
    # prediction + 3 overlays + performance + share-per-run + 4 trends
    sizes = view.chart_sizes
    assert len(sizes) == 10 and all(w > 150 and h > 80 for w, h in sizes), sizes
    assert marks > 100
    assert {"Drift by feature", "Distributions", "Live performance", "History"} <= set(toc)
    data = shot.read_bytes()
    assert len(data) > 50_000 and png_pixels_vary(data) > 50
    import os
    if os.environ.get("DATAMILL_KEEP_SHOTS"):
        Path(os.environ["DATAMILL_KEEP_SHOTS"]).mkdir(parents=True, exist_ok=True)
        (Path(os.environ["DATAMILL_KEEP_SHOTS"]) / "drift.png").write_bytes(data)
