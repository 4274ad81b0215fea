"""The ``monitors:`` and ``schedule:`` blocks: a valid one loads typed, each mistake names its line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.monitor.loop_project import MODEL, cli

HEAD = ("name: shop\nsources:\n  customers: {type: csv, path: data/customers.csv}\n"
        "  recent: {type: csv, path: data/recent.csv}\n" + MODEL)


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "datamill.yaml").write_text(HEAD + body)
    return tmp_path


def test_the_contract_example_loads_into_typed_objects(tmp_path: Path) -> None:
    from datamill.config import load_config

    _project(tmp_path, """\
monitors:
  churn_watch:
    model: churn@champion
    current: predictions_log
    window: 10000rows
    labels: {dataset: recent, key: customer_id, target: churned}
    thresholds: {psi: 0.1, ks: 0.05, share: 0.5}
    alert: {webhook: "http://127.0.0.1:9000/hook"}
    retrain:
      when: [drift, performance, schedule]
      gate: {metric: roc_auc, min_gain: 0.0, floor: 0.6}
      holdout: {dataset: recent}
    schedule: "*/5 * * * *"
schedule:
  nightly: "0 2 * * *"
  orders: {cron: "*/10 * * * * *", select: [customers+], full_refresh: true}
""")
    config, _ = load_config(tmp_path)
    spec = config.monitors["churn_watch"]
    assert (spec.model_name, spec.alias, spec.window, spec.labels.key) == ("churn", "champion", "10000rows",
                                                                          "customer_id")
    assert spec.retrain.when == ["drift", "performance", "schedule"] and spec.retrain.gate.floor == 0.6
    assert spec.thresholds == {"psi": 0.1, "ks": 0.05, "share": 0.5} and spec.alert.webhook.endswith("/hook")
    assert config.schedule["nightly"].cron == "0 2 * * *" and config.schedule["nightly"].select == []
    assert config.schedule["orders"].select == ["customers+"] and config.schedule["orders"].full_refresh


@pytest.mark.parametrize("gate, metric, gain, floor", [
    ("roc_auc >= champion", "roc_auc", 0.0, None),
    ("roc_auc >= champion + 0.01 and >= 0.6", "roc_auc", 0.01, 0.6),
    ("roc_auc >= champion - 0.005", "roc_auc", -0.005, None),
    ("log_loss <= champion - 0.02, <= 0.7", "log_loss", 0.02, 0.7),
])
def test_a_gate_may_be_written_as_a_sentence(gate: str, metric: str, gain: float, floor: float | None) -> None:
    from datamill.monitor.config import GateSpec

    spec = GateSpec.model_validate(gate)
    assert (spec.metric, spec.min_gain, spec.floor) == (metric, gain, floor)


def test_every_mistake_is_named_with_its_line_and_the_fix(tmp_path: Path) -> None:
    project = _project(tmp_path, """\
monitors:
  watch:
    model: churn@champion
    window: lots
    thresholds: {psi: 0.1, kss: 0.05}
    retrain:
      when: [drift, sometimes]
      gate: "rmse >= champion"
      holdout: {dataset: recent}
    schedule: "every minute"
  pinned:
    model: churn/3
    retrain: {holdout: {dataset: recent}}
  nightly:
    model: churn@champion
    retrain: {when: schedule, holdout: {dataset: recent}}
schedule:
  bad: {cron: "61 * * * *"}
""")
    out = cli(project, "validate")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    text = " ".join(out.stderr.split())
    for expected in (
        "line 16, monitors.watch.window: window 'lots': write a number of rows (10000rows) or a time span",
        "line 17, monitors.watch.thresholds: unknown method 'kss' (did you mean 'ks'?)",
        "line 19, monitors.watch.retrain.when: unknown trigger 'sometimes'; triggers: drift, performance, schedule",
        "line 20, monitors.watch.retrain.gate: gate 'rmse >= champion': lower rmse is better, so write rmse <=",
        "line 22, monitors.watch.schedule: 'every minute' is not a cron expression: write five fields",
        "monitors.pinned: model churn/3: a fixed version cannot be replaced by a retrained one",
        "monitors.nightly: retrain.when names schedule, but the monitor has no schedule:",
        "schedule.bad.cron: '61 * * * *' is not a cron expression",
    ):
        assert expected in text, expected


def test_what_a_monitor_names_must_exist_in_the_project(tmp_path: Path) -> None:
    project = _project(tmp_path, """\
monitors:
  watch:
    model: churny@champion
    current: customerz
    labels: {dataset: labelz}
    retrain:
      gate: {metric: rmse}
      holdout: {dataset: recnt}
  trained_on:
    model: churn@champion
    retrain: {holdout: {dataset: customers}, gate: {metric: r2}}
""")
    (project / "datamill.yaml").write_text((project / "datamill.yaml").read_text().replace(
        "target: churned\n", "target: churned\n    task: binary\n", 1))
    out = cli(project, "validate")
    assert out.returncode == 1
    text = " ".join(out.stderr.split())
    for expected in (
        "monitors.watch.current: current 'customerz' is not a source, dataset or predictions table of this project "
        "(did you mean 'customers'?); tables: customers, predictions_log, recent",
        "monitors.watch.labels.dataset: labels dataset 'labelz'",
        "monitors.watch.retrain.holdout.dataset: holdout dataset 'recnt' is not a source, dataset or predictions "
        "table of this project (did you mean 'recent'?)",
        "monitors.watch.model: model 'churny' is not under models: (did you mean 'churn'?)",
        "monitors.trained_on.retrain.gate.metric: gate metric r2 does not fit model 'churn' (task binary)",
        "monitors.trained_on.retrain.holdout.dataset: the holdout is 'customers', the table the model trains on",
    ):
        assert expected in text, expected
