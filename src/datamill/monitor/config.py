"""The ``monitors:`` block of the project file, as typed objects (pydantic only: cheap to import).

One entry watches one registered model: what to compare (``current``,
``window``, ``thresholds``), where its delayed labels are (``labels``), whom to
alert, and the continuous-training policy (``retrain``): when to retrain, on
which labelled holdout challenger and champion are both scored, and the gate
the challenger must pass to be promoted. ``schedule`` is a cron expression for
``datamill schedule``.

Cross-references (the model is a ``models:`` entry, the tables are the
project's) are checked by :meth:`MonitorSpec.problems`, which the loader calls
with the whole project, so each error keeps its line.

Examples
--------
>>> spec = MonitorSpec.model_validate({"model": "churn@champion", "retrain": {
...     "when": "drift", "gate": "roc_auc >= champion + 0.01 and >= 0.6", "holdout": {"dataset": "recent"}}})
>>> spec.retrain.when, spec.retrain.gate.metric, spec.retrain.gate.min_gain, spec.retrain.gate.floor
(['drift'], 'roc_auc', 0.01, 0.6)
>>> spec.model_name, spec.alias
('churn', 'champion')
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from datamill._registry import did_you_mean

__all__ = ["TRIGGERS", "AlertSpec", "GateSpec", "HoldoutSpec", "LabelsSpec", "MonitorSpec", "RetrainSpec"]

TRIGGERS = ("drift", "performance", "schedule")
PREDICTION_LOG = "predictions_log"  # the table `datamill serve` logs every prediction to
# drift methods whose thresholds a monitor may set, the share of drifted features (the dataset verdict) and
# the jump in a column's missing rate
THRESHOLD_KEYS = ("psi", "ks", "wasserstein", "chi2", "jensenshannon", "share", "missing")
_WINDOW = re.compile(r"^\s*[0-9]+\s*(rows|s|m|h|d)\s*$")
_MODEL_REF = re.compile(r"^[^@/\s]+(@[^@/\s]+|/[0-9]+)?$")
_GATE = re.compile(r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>>=|<=)\s*champion\s*"
                   r"(?:(?P<sign>[+-])\s*(?P<gain>[0-9]*\.?[0-9]+))?\s*"
                   r"(?:(?:and|,)\s*(?:(?P=metric)\s*)?(?P<op2>>=|<=)\s*(?P<floor>-?[0-9]*\.?[0-9]+))?\s*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LabelsSpec(_Strict):
    """Delayed ground truth: a dataset of labels joined to the prediction log by ``key``."""

    dataset: str
    key: str | None = None  # a column of both; None: the request id the server logs
    target: str | None = None  # the label column; None: the model's target
    floor: float | None = None  # live metric below this: performance dropped (default: the retrain gate's floor)


class AlertSpec(BaseModel):
    """Where drift is reported (read by the alerts; other keys are theirs)."""

    model_config = ConfigDict(extra="allow")
    webhook: str | None = None


class GateSpec(_Strict):
    """What a challenger must score on the holdout to replace the champion.

    ``metric`` (default: the model's own) at least the champion's plus
    ``min_gain`` and at least ``floor``; for a metric where lower is better
    (rmse, log_loss) at most the champion's minus ``min_gain`` and at most ``floor``.
    Written as a mapping or as ``"roc_auc >= champion + 0.01 and >= 0.6"``.
    """

    metric: str | None = None
    min_gain: float = 0.0
    floor: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        match = _GATE.match(value)
        if not match:
            raise ValueError(f"gate {value!r}: write METRIC >= champion [+ GAIN] [and >= FLOOR] (e.g. 'roc_auc >= "
                             "champion + 0.0 and >= 0.6'; 'rmse <= champion - 0.1' where lower is better), or a "
                             "mapping {metric: roc_auc, min_gain: 0.0, floor: 0.6}")
        op, op2 = match["op"], match["op2"]
        if op2 and op2 != op:
            raise ValueError(f"gate {value!r}: the floor must point the same way as the comparison with the "
                             f"champion ({op} both times)")
        gain = float(match["gain"] or 0.0)
        # written as the bound: champion + g for greater-is-better, champion - g for lower-is-better
        if (op == ">=") != (match["sign"] != "-"):
            gain = -gain
        from datamill.ml.spec import METRICS

        metric = match["metric"]
        if metric in METRICS and (op == ">=") != METRICS[metric][1]:
            better, want = ("higher", ">=") if METRICS[metric][1] else ("lower", "<=")
            raise ValueError(f"gate {value!r}: {better} {metric} is better, so write {metric} {want} champion ...")
        out: dict[str, Any] = {"metric": metric, "min_gain": gain}
        if match["floor"] is not None:
            out["floor"] = float(match["floor"])
        return out

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        from datamill.ml.spec import METRICS

        if value is not None and value not in METRICS:
            raise ValueError(f"gate: unknown metric '{value}'{did_you_mean(value, METRICS)}; known: "
                             f"{', '.join(METRICS)}")
        return value

    @field_validator("min_gain")
    @classmethod
    def _gain(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("gate: min_gain must be a number (e.g. 0.0, or 0.01 to ask for a clear gain)")
        return value


class HoldoutSpec(_Strict):
    """The recent labelled rows both challenger and champion are scored on."""

    dataset: str
    target: str | None = None  # the label column; None: the model's target


class RetrainSpec(_Strict):
    """When to retrain, how to judge the challenger, which alias it would take."""

    when: list[Literal["drift", "performance", "schedule"]] = Field(default_factory=lambda: ["drift"])
    gate: GateSpec = Field(default_factory=GateSpec)
    holdout: HoldoutSpec
    alias: str | None = None  # default: the monitor's model alias, else champion

    @field_validator("when", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            unknown = [v for v in value if v not in TRIGGERS]
            if unknown:
                raise ValueError(f"unknown trigger {unknown[0]!r}{did_you_mean(str(unknown[0]), TRIGGERS)}; "
                                 f"triggers: {', '.join(TRIGGERS)}")
            if not value:
                raise ValueError(f"name at least one trigger ({', '.join(TRIGGERS)})")
        return value


class MonitorSpec(_Strict):
    """One entry under ``monitors:``."""

    model_config = ConfigDict(defer_build=True)

    model: str  # NAME@ALIAS (usually champion), NAME or NAME/VERSION
    current: str = PREDICTION_LOG  # the prediction log, or a dataset to compare with the training data
    window: str = "10000rows"
    labels: LabelsSpec | None = None
    thresholds: dict[str, float] = Field(default_factory=dict)
    alert: AlertSpec | None = None
    retrain: RetrainSpec | None = None
    schedule: str | None = None
    description: str = ""

    @field_validator("model")
    @classmethod
    def _reference(cls, value: str) -> str:
        if not _MODEL_REF.match(value):
            raise ValueError(f"{value!r} is not a model reference: write NAME@ALIAS, NAME or NAME/VERSION "
                             "(e.g. churn@champion)")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if not _WINDOW.match(str(value)):
            raise ValueError(f"window {value!r}: write a number of rows (10000rows) or a time span (1d, 12h, 30m)")
        return str(value).replace(" ", "")

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        for key, number in value.items():
            if key not in THRESHOLD_KEYS:
                raise ValueError(f"unknown method '{key}'{did_you_mean(key, THRESHOLD_KEYS)}; known: "
                                 f"{', '.join(THRESHOLD_KEYS)}")
            if not number > 0 or (key == "share" and number > 1):
                raise ValueError(f"{key} must be more than 0" + (" and at most 1" if key == "share"
                                                                                else ""))
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from datamill.config.cron import check_cron

        return None if value is None else check_cron(value)

    @model_validator(mode="after")
    def _retrains_a_moving_alias(self) -> MonitorSpec:
        if self.retrain is not None and "/" in self.model:
            raise ValueError(f"model {self.model}: a fixed version cannot be replaced by a retrained one; watch "
                             f"an alias (e.g. {self.model_name}@champion) to retrain")
        if self.retrain is not None and "schedule" in self.retrain.when and self.schedule is None:
            raise ValueError("retrain.when names schedule, but the monitor has no schedule: (fix: add schedule: "
                             "'0 2 * * *', a cron expression)")
        return self

    @property
    def model_name(self) -> str:
        """The registered model's name, without alias or version."""
        return self.model.split("@")[0].split("/")[0]

    @property
    def alias(self) -> str:
        """The alias a promotion moves: ``retrain.alias``, else the monitored alias, else ``champion``."""
        if self.retrain is not None and self.retrain.alias:
            return self.retrain.alias
        return self.model.split("@")[1] if "@" in self.model else "champion"

    def problems(self, config: Any) -> list[tuple[tuple[Any, ...], str]]:
        """What this monitor names that the project ``config`` lacks, as (path inside the entry, message)."""
        tables = set(config.sources) | set(config.datasets) | set(config.predictions)
        known = sorted(tables | {PREDICTION_LOG})
        out: list[tuple[tuple[Any, ...], str]] = []

        def table(path: tuple[Any, ...], name: str, what: str) -> None:
            if name not in tables and name != PREDICTION_LOG:
                out.append((path, f"{what} '{name}' is not a source, dataset or predictions table of this "
                                  f"project{did_you_mean(name, known)}; tables: {', '.join(known)}"))

        table(("current",), self.current, "current")
        if self.labels is not None:
            table(("labels", "dataset"), self.labels.dataset, "labels dataset")
        if self.retrain is None:
            return out
        table(("retrain", "holdout", "dataset"), self.retrain.holdout.dataset, "holdout dataset")
        models = config.models
        if self.model_name not in models:
            hint = did_you_mean(self.model_name, models)
            out.append((("model",), f"model '{self.model_name}' is not under models:{hint}; a monitor retrains a "
                                    f"models: entry with its own config (models: {', '.join(models) or 'none'}) "
                                    "(fix: name one, or remove retrain:)"))
            return out
        spec = models[self.model_name]
        metric = self.retrain.gate.metric
        if metric is not None and spec.task != "auto":
            from datamill.ml.spec import METRICS

            if spec.task not in METRICS[metric][0]:
                out.append((("retrain", "gate", "metric"), f"gate metric {metric} does not fit model "
                            f"'{self.model_name}' (task {spec.task}); it is for {', '.join(METRICS[metric][0])}"))
        if self.retrain.holdout.dataset == spec.from_:
            out.append((("retrain", "holdout", "dataset"), f"the holdout is '{spec.from_}', the table the model "
                        "trains on: the challenger would be scored on rows it learned from (fix: a dataset of "
                        "recent labelled rows kept out of training)"))
        return out
