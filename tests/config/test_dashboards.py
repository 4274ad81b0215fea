"""The dashboards: and queries: blocks: typed params, charts' needs, cross-references checked at load with lines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from datamill.config import load_config
from datamill.config.dashboards import DashboardSpec, ParamSpec, query_params
from datamill.exceptions import ConfigError

PROJECT = """\
name: shop
queries:
  everyone: select * from customers
  spend: {sql: select sum(x) from t, description: total spend}
dashboards:
  d:
    params:
      since: {type: date, default: 2024-01-01}
      top: {type: int, default: 5, choices: [5, 10]}
      plan: {default: null}
    queries:
      q: select * from customers where day >= $since and ($plan is null or plan = $plan) limit $top
    charts:
      - {kind: bar, x: plan}
      - {kind: histogram, query: everyone, x: age, bins: 20}
"""


def test_dashboards_and_saved_queries_are_typed(tmp_path: Path) -> None:
    (tmp_path / "datamill.yaml").write_text(PROJECT)
    config, _ = load_config(tmp_path)
    d = config.dashboards["d"]
    assert d.params["since"].default == dt.date(2024, 1, 1) and d.params["top"].choices == [5, 10]
    assert config.queries["everyone"].sql == "select * from customers"
    assert config.queries["spend"].description == "total spend"
    assert d.query_of(0, config.queries) == ("q", d.queries["q"])  # the only query of the dashboard
    assert d.query_of(1, config.queries) == ("everyone", "select * from customers")  # a saved query
    assert d.bind({"top": "10", "since": "2025-02-03"}) == {"since": dt.date(2025, 2, 3), "top": 10, "plan": None}


def test_param_values_are_checked_against_type_and_choices() -> None:
    spec = DashboardSpec.model_validate({"params": {"top": {"type": "int", "default": 5, "choices": [5, 10]},
                                                    "on": {"type": "bool", "default": False},
                                                    "who": {}}})
    with pytest.raises(ConfigError, match=r"dashboard 'd', parameter 'top': '7' is not one of 5, 10"):
        spec.bind({"top": "7", "who": "x"}, dashboard="d")
    with pytest.raises(ConfigError, match=r"parameter 'top': value 'many' is not a int"):
        spec.bind({"top": "many", "who": "x"}, dashboard="d")
    with pytest.raises(ConfigError, match=r"parameter 'who' has no default; give it \(--param who=VALUE\)"):
        spec.bind({}, dashboard="d")
    assert spec.bind({"on": "yes", "who": "x"})["on"] is True
    with pytest.raises(ValidationError, match="default 'soon' is not a date"):
        ParamSpec(type="date", default="soon")


def test_query_params_skip_strings_and_comments() -> None:
    sql = "select $a, '$b', \"$c\" from t -- $d\n/* $e */ where x = $f_1 and y = 'it''s $g'"
    assert query_params(sql) == {"a", "f_1"}


def test_cross_references_are_errors_with_lines(tmp_path: Path) -> None:
    text = PROJECT.replace("{kind: bar, x: plan}", "{kind: bar, query: qq, x: plan}").replace("limit $top", "limit $limit")
    (tmp_path / "datamill.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    message = str(err.value)
    assert "line 14, dashboards.d.charts[0].query: chart 1 (bar): query 'qq' is not defined (did you mean 'q'?); " \
           "known queries: q, everyone, spend" in message
    assert "line 12, dashboards.d.queries.q: query 'q' uses $limit, not under params: (params: since, top, plan;" in message


def test_a_chart_without_its_columns_or_with_a_bad_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "datamill.yaml").write_text(PROJECT.replace("{kind: histogram, query: everyone, x: age, bins: 20}",
                                                            "{kind: pie, query: everyone}"))
    with pytest.raises(ConfigError, match=r"line 15, dashboards.d.charts\[1\]: a pie chart needs x:"):
        load_config(tmp_path)
    (tmp_path / "datamill.yaml").write_text(PROJECT.replace("  d:\n", "  my-board:\n"))
    with pytest.raises(ConfigError, match="'my-board' is not a valid name"):
        load_config(tmp_path)
