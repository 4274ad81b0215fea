"""The ``dashboards:`` and ``queries:`` blocks of the project file, as typed objects (pydantic only).

A dashboard names its SQL queries, the charts drawn from them, the parameters
the queries take (bound by DuckDB as ``$name``, never formatted into the SQL)
and a layout. Saved queries (top-level ``queries:``) are SQL an analyst keeps
by name; a dashboard's chart may name one of them too.

Cross-references (a chart's query, a query's parameters) are checked by
:meth:`DashboardSpec.problems`, which the loader calls so each error keeps
its line in the file.

Examples
--------
>>> spec = DashboardSpec.model_validate({
...     "params": {"country": {"default": "all"}},
...     "queries": {"by_plan": "select plan, count(*) as n from t where $country in ('all', country) group by 1"},
...     "charts": [{"kind": "bar", "query": "by_plan", "x": "plan", "y": "n"}]})
>>> spec.charts[0].kind, spec.params["country"].default, spec.layout.columns
('bar', 'all', 2)
>>> sorted(query_params("select $a, '$not_me', $b_2 -- $nor_me"))
['a', 'b_2']
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from datamill._registry import did_you_mean
from datamill.exceptions import ConfigError

__all__ = [
    "AGGREGATES", "CHART_KINDS", "ChartSpec", "DashboardSpec", "LayoutSpec", "ParamSpec", "SavedQuery",
    "query_params",
]

CHART_KINDS = ("bar", "line", "area", "scatter", "histogram", "box", "heatmap", "pie")
AGGREGATES = ("sum", "mean", "count", "min", "max", "median")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# string literals, quoted identifiers and comments, where a "$name" is text, not a parameter
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.S)
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def query_params(sql: str) -> set[str]:
    """The named parameters (``$name``) a query uses, outside strings and comments."""
    return set(_PARAM.findall(_QUOTED.sub(" ", sql)))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class ChartSpec(_Strict):
    """One chart: its ``kind``, the query it draws and which columns go where.

    ``x``/``y``/``color``/``facet`` name columns of the query's result;
    ``aggregate`` summarises ``y`` per ``x`` (and ``color``, ``facet``) before
    drawing; ``bins`` sets a histogram's number of bins.
    """

    kind: Literal["bar", "line", "area", "scatter", "histogram", "box", "heatmap", "pie"]
    query: str | None = None  # a query of the dashboard (or a saved query); None: the dashboard's only one
    x: str | None = None
    y: str | None = None
    color: str | None = None
    facet: str | None = None
    aggregate: Literal["sum", "mean", "count", "min", "max", "median"] | None = None
    title: str = ""
    bins: int | None = Field(default=None, ge=2, le=500)

    @model_validator(mode="after")
    def _needs_columns(self) -> ChartSpec:
        need = {"histogram": ("x",), "box": ("y",), "scatter": ("x", "y")}.get(self.kind, ("x",))
        missing = [c for c in need if getattr(self, c) is None]
        if missing:
            raise ValueError(f"a {self.kind} chart needs {' and '.join(c + ':' for c in missing)} "
                             f"(a column of its query; {_ROLES[self.kind]})")
        return self

    def columns(self) -> list[str]:
        """The result columns this chart reads."""
        return [c for c in (self.x, self.y, self.color, self.facet) if c]


_ROLES = {
    "bar": "x: the categories, y: the bar lengths, or rows counted",
    "line": "x: the order (a date, a number), y: the values",
    "area": "x: the order (a date, a number), y: the values",
    "scatter": "x and y: numbers",
    "histogram": "x: the numbers binned",
    "box": "y: the numbers, x: optional groups",
    "heatmap": "x and y: the cells, color: their value, or rows counted",
    "pie": "x: the slices, y: their sizes, or rows counted",
}
_PARAM_TYPES = {"str": str, "int": int, "float": float, "bool": bool, "date": dt.date}


class ParamSpec(_Strict):
    """A dashboard parameter: its type, default and (optionally) the values it may take."""

    type: Literal["str", "int", "float", "bool", "date"] = "str"
    default: Any = None
    choices: list[Any] = Field(default_factory=list)
    description: str = ""

    @model_validator(mode="after")
    def _default_fits(self) -> ParamSpec:
        if self.default is not None:
            self.default = self.coerce(self.default, "default")
        if self.choices:
            self.choices = [self.coerce(c, "choice") for c in self.choices]
        return self

    def coerce(self, value: Any, what: str = "value") -> Any:
        """``value`` (a string from the command line or a form, or a YAML scalar) as this type."""
        if value is None:
            return None
        kind = _PARAM_TYPES[self.type]
        try:
            if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
                out = value
            elif kind is bool:
                text = str(value).strip().lower()
                if text not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                out = text in ("true", "1", "yes")
            elif kind is dt.date:
                out = dt.date.fromisoformat(str(value))
            else:
                out = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what} {value!r} is not a {self.type}") from None
        if self.choices and what == "value" and out not in self.choices:
            raise ValueError(f"{value!r} is not one of {', '.join(map(str, self.choices))}")
        return out


class LayoutSpec(_Strict):
    """How the charts are placed: ``columns`` charts side by side, in the order given."""

    columns: int = Field(default=2, ge=1, le=4)


class DashboardSpec(_Strict):
    """One entry under ``dashboards:``."""

    title: str = ""
    description: str = ""
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    queries: dict[str, str] = Field(default_factory=dict)
    charts: list[ChartSpec] = Field(default_factory=list)
    layout: LayoutSpec = Field(default_factory=LayoutSpec)

    @field_validator("params", "queries")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not _NAME.match(key):
                raise ValueError(f"'{key}' is not a valid name: use letters, digits and _, starting with a letter")
        return value

    @field_validator("queries", mode="before")
    @classmethod
    def _query_shorthand(cls, value: Any) -> Any:  # {name: {sql: ...}} reads like a saved query
        if isinstance(value, dict):
            return {k: v.get("sql") if isinstance(v, dict) and set(v) <= {"sql", "description"} else v
                    for k, v in value.items()}
        return value

    def query_of(self, index: int, saved: dict[str, SavedQuery] | None = None) -> tuple[str, str]:
        """Chart ``index``'s query: ``(name, sql)``; a ConfigError names the chart and the known queries."""
        chart = self.charts[index]
        problem = self._chart_problem(chart, saved or {})
        if problem:
            raise ConfigError(f"chart {index + 1}{_label(chart)}: {problem}")
        name = chart.query or next(iter(self.queries))
        return name, self.queries[name] if name in self.queries else (saved or {})[name].sql

    def _chart_problem(self, chart: ChartSpec, saved: dict[str, SavedQuery]) -> str:
        known = [*self.queries, *(q for q in saved if q not in self.queries)]
        if chart.query is None:
            if len(self.queries) == 1:
                return ""
            return (f"give query: (this dashboard has {len(self.queries)} queries: "
                    f"{', '.join(self.queries) or 'none'})")
        if chart.query in self.queries or chart.query in saved:
            return ""
        return (f"query '{chart.query}' is not defined{did_you_mean(chart.query, known)}; known queries: "
                f"{', '.join(known) or 'none'} (fix: add it under this dashboard's queries: or name one of these)")

    def problems(self, config: Any) -> list[tuple[tuple[Any, ...], str]]:
        """What this dashboard names that it (or the project's saved ``queries:``) lacks, as (path, message)."""
        saved = dict(getattr(config, "queries", {}) or {})
        out: list[tuple[tuple[Any, ...], str]] = []
        for i, chart in enumerate(self.charts):
            problem = self._chart_problem(chart, saved)
            if problem:
                out.append((("charts", i, "query"), f"chart {i + 1}{_label(chart)}: {problem}"))
        for name, sql in self.queries.items():
            unknown = sorted(query_params(sql) - set(self.params))
            if unknown:
                out.append((("queries", name), f"query '{name}' uses ${', $'.join(unknown)}, not under params: "
                                               f"(params: {', '.join(self.params) or 'none'}; fix: declare "
                                               f"{unknown[0]}: {{default: ...}} under params:)"))
        return out

    def bind(self, values: dict[str, Any] | None, *, dashboard: str = "") -> dict[str, Any]:
        """Every parameter's value: ``values`` (strings allowed) over the defaults, typed.

        An unknown name, a value of the wrong type or a parameter with neither
        value nor default is a ConfigError naming the dashboard and its params.
        """
        where = f"dashboard '{dashboard}'" if dashboard else "this dashboard"
        out: dict[str, Any] = {}
        for name in values or {}:
            if name not in self.params:
                raise ConfigError(f"{where} has no parameter '{name}'{did_you_mean(name, self.params)}; "
                                  f"params: {', '.join(self.params) or 'none'}")
        for name, param in self.params.items():
            given = (values or {}).get(name)
            try:
                value = param.coerce(given) if given is not None else param.default
            except ValueError as exc:
                raise ConfigError(f"{where}, parameter '{name}': {exc}") from None
            if value is None and "default" not in param.model_fields_set:
                raise ConfigError(f"{where}: parameter '{name}' has no default; give it (--param {name}=VALUE)")
            out[name] = value
        return out


def _label(chart: ChartSpec) -> str:
    return f" ('{chart.title}')" if chart.title else f" ({chart.kind})"


class SavedQuery(_Strict):
    """One entry under the top-level ``queries:``: SQL kept by name (``name: "select ..."`` is short for ``{sql: ...}``)."""

    sql: str
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"sql": value} if isinstance(value, str) else value
