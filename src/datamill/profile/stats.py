"""Compare a metric across segments with the test that suits the data.

``compare_groups(table, by="plan", metric="churned")`` answers "does METRIC differ
by BY?" with a test, an effect size, a confidence interval, pairwise post-hoc
comparisons (Holm-corrected) and a one-line conclusion in plain words.

How the test is chosen
----------------------
- **Categorical metric** (strings, booleans, or integers with exactly two values,
  such as a 0/1 flag): chi-square test of independence on the groups × levels
  counts (Yates-corrected for 2 × 2, as scipy does); Fisher's exact test for a
  2 × 2 table with an expected count under 5. Effect: Cramér's V, with a
  bootstrap CI (multinomial resampling of the table).
- **Numeric metric**: the data count as clearly non-normal when a group has
  \\|skewness\\| > 1 or excess kurtosis > 3 (computed on the engine over every
  value), or when a group of fewer than 50 values fails Shapiro–Wilk at the 1%
  level. Otherwise: Welch's t-test (2 groups; Hedges' g, CI of the difference in
  means) or one-way ANOVA (> 2 groups; eta²), Welch's ANOVA when Bartlett's
  test says the variances differ. Non-normal: Mann–Whitney U (rank-biserial r,
  bootstrap CI of the difference in medians) or Kruskal–Wallis (epsilon²).

Group aggregates (counts, means, variances, medians, skewness, counts per
level) run on the engine; the t-tests and ANOVAs are exact from them. Only the
rank tests and Shapiro–Wilk pull values, at most ``sample_size`` per group (a
uniform random sample, ``row_number() over (partition by group order by
random())``, for larger groups; the result says so).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.types as pt

from datamill.exceptions import ConfigError

__all__ = ["Effect", "GroupComparison", "GroupStats", "Interval", "Pair", "compare_groups", "compare_in_project", "holm"]

MAX_GROUPS = 50
MAX_LEVELS = 50
SAMPLE_SIZE = 20_000
_FINITE = "between -1.7976931348623157e308 and 1.7976931348623157e308"  # drops NaN and ±inf on DuckDB and Spark


@dataclass
class Interval:
    """A confidence interval for ``what``."""

    what: str
    estimate: float
    low: float
    high: float
    level: float
    method: str


@dataclass
class Effect:
    """An effect size with its conventional label (negligible, small, medium, large)."""

    name: str
    value: float
    label: str
    ci: Interval | None = None


@dataclass
class GroupStats:
    """One segment: its counts and the metric's summary (numeric) or level counts (categorical)."""

    name: Any
    rows: int
    n: int
    missing: int
    mean: float | None = None
    std: float | None = None
    median: float | None = None
    min: float | None = None
    max: float | None = None
    skewness: float | None = None
    kurtosis: float | None = None
    counts: dict[str, int] | None = None
    share: float | None = None  # of the event level, for a binary metric
    ci: Interval | None = None


@dataclass
class Pair:
    """A post-hoc comparison of two groups."""

    a: Any
    b: Any
    test: str
    statistic: float
    p_value: float
    p_adjusted: float
    significant: bool
    effect: Effect
    ci: Interval | None = None


@dataclass
class GroupComparison:
    """The answer to "does ``metric`` differ by ``by``?". ``str()`` gives the conclusion."""

    by: str
    metric: str
    kind: str  # "numeric" | "categorical"
    test: str
    reason: str
    statistic: float
    p_value: float
    df: Any
    effect: Effect
    ci: Interval | None
    groups: list[GroupStats]
    pairs: list[Pair]
    correction: str
    alpha: float
    event: str | None = None  # the level whose share is compared, for a binary metric
    sampled: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    conclusion: str = ""

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN becomes ``None``, group names stay as they are when JSON-native)."""
        return _plain(asdict(self) | {"significant": self.significant})

    def __str__(self) -> str:
        return self.conclusion


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else obj
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    return str(obj)


def compare_groups(
    data: Any, *, by: str, metric: str, engine: Any = None, kind: str = "auto", test: str = "auto",
    alpha: float = 0.05, correction: str = "holm", sample_size: int = SAMPLE_SIZE, seed: int = 0,
) -> GroupComparison:
    """Compare ``metric`` across the groups of ``by`` (see the module docstring for the rules).

    Parameters
    ----------
    data
        An Arrow table, a storage :class:`~datamill.storage.base.TableScan`
        (``project.storage.scan(name)``), or a pandas/Polars DataFrame.
    engine
        The engine that computes the aggregates; a private DuckDB engine when ``None``.
    kind
        ``"auto"``, ``"numeric"`` or ``"categorical"``: how to treat the metric.
    test
        ``"auto"``, ``"parametric"`` or ``"nonparametric"`` (numeric metrics).
    correction
        ``"holm"``, ``"bonferroni"``, ``"fdr_bh"`` or ``"none"`` for the post-hoc p-values.

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = pa.table({"plan": ["a"] * 50 + ["b"] * 50, "x": list(range(50)) + list(range(20, 70))})
    >>> compare_groups(t, by="plan", metric="x").test
    "Welch's t-test"
    """
    from datamill.profile._stats_categorical import categorical
    from datamill.profile._stats_tests import numeric

    _check_options(kind, test, correction, alpha, sample_size)
    source = _as_source(data)
    own = engine is None
    if own:
        from datamill.engine.duckdb import DuckDBEngine

        engine = DuckDBEngine()
    try:
        q = _Query(engine, source, by, metric)
        kind = q.kind(kind)
        opts = {"alpha": alpha, "correction": correction, "sample_size": sample_size, "seed": seed}
        if kind == "categorical":
            return categorical(q, **opts)
        return numeric(q, test=test, **opts)
    finally:
        if own:
            engine.close()


def compare_in_project(project: Any, name: str, **kwargs: Any) -> GroupComparison:
    """:func:`compare_groups` on ``name``: a table in ``project``'s storage, or a Parquet/CSV file."""
    from datamill._registry import did_you_mean

    path = Path(name)
    if path.suffix.lower() in (".parquet", ".csv") and path.is_file():
        return compare_groups(_read_file(path), **kwargs)
    if project is None:
        raise ConfigError(f"no file '{name}' and no project here (give a .parquet/.csv file or run inside a project)")
    tables = project.tables()
    if name not in tables:
        if name in project.config.datasets:
            raise ConfigError(f"dataset '{name}' is not built yet: run `datamill run --select +{name}` first")
        choices = [*tables, *project.config.datasets]
        raise ConfigError(f"no table or dataset '{name}'{did_you_mean(name, choices)}; "
                          f"tables: {', '.join(tables) or 'none yet (run `datamill run`)'}")
    return compare_groups(project.storage.scan(name), engine=project.engine, **kwargs)


def _read_file(path: Path) -> pa.Table:
    if path.suffix.lower() == ".csv":
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    import pyarrow.parquet as pq

    return pq.read_table(path)


def _check_options(kind: str, test: str, correction: str, alpha: float, sample_size: int) -> None:
    for name, value, allowed in (("kind", kind, ("auto", "numeric", "categorical")),
                                 ("test", test, ("auto", "parametric", "nonparametric")),
                                 ("correction", correction, ("holm", "bonferroni", "fdr_bh", "none"))):
        if value not in allowed:
            raise ConfigError(f"{name}={value!r}: choose one of {', '.join(allowed)}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha}: must be between 0 and 1, such as 0.05")
    if sample_size < 20:
        raise ConfigError(f"sample_size={sample_size}: must be at least 20 values per group")


def _as_source(data: Any) -> Any:
    from datamill.storage.base import TableScan

    if isinstance(data, pa.Table | TableScan):
        return data
    if hasattr(data, "to_arrow") and type(data).__module__.startswith("polars"):
        return data.to_arrow()
    if type(data).__module__.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise ConfigError(f"compare_groups takes an Arrow table, a storage table scan or a DataFrame, not {type(data).__name__}")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Query:
    """The engine-side work: checks, aggregates, counts and capped samples (internal)."""

    def __init__(self, engine: Any, source: Any, by: str, metric: str) -> None:
        self.engine, self.source, self.by, self.metric = engine, source, by, metric
        schema = source.schema
        names = list(schema.names)
        from datamill._registry import did_you_mean

        for role, col in (("--by", by), ("--metric", metric)):
            if col not in names:
                raise ConfigError(f"{role}: no column '{col}'{did_you_mean(col, names)}; columns: {', '.join(names)}")
        if by == metric:
            raise ConfigError(f"--by and --metric are both '{by}': compare a metric across a different column")
        self.type = schema.field(metric).type
        self.g, self.m = _ident(by), _ident(metric)

    def run(self, sql: str) -> pa.Table:
        return self.engine.sql(sql, {"t": self.source}).to_arrow()

    def kind(self, kind: str) -> str:
        t = self.type
        numeric = pt.is_integer(t) or pt.is_floating(t) or pt.is_decimal(t)
        if kind == "numeric" and not numeric:
            raise ConfigError(f"--metric {self.metric} is {t}, not numeric: use --kind categorical (or auto)")
        value = f"cast({self.m} as double)" if numeric else f"cast({self.m} as varchar)"
        row = self.run(f"select count(*) as n_rows, count({value}) as n, count(distinct {value}) as levels, "
                       f"count(distinct {self.g}) as groups from t").to_pylist()[0]
        if row["n_rows"] == 0:
            raise ConfigError("the table is empty: nothing to compare")
        if row["n"] == 0:
            raise ConfigError(f"--metric {self.metric} is null in every row: choose a metric with values")
        if row["groups"] > MAX_GROUPS:
            raise ConfigError(f"--by {self.by} has {row['groups']:,} groups (more than {MAX_GROUPS}): choose a coarser "
                              f"segment, or bin or group the rare values first (e.g. a dataset with sql: ... case when ...)")
        if row["groups"] < 2:
            raise ConfigError(f"--by {self.by} has only {row['groups']} group: comparing needs at least 2")
        if kind != "auto":
            return kind
        if pt.is_temporal(t):
            raise ConfigError(f"--metric {self.metric} is {t}: compare a number or a category "
                              f"(or --kind categorical to treat each value as a level)")
        if pt.is_boolean(t) or not numeric or (pt.is_integer(t) and row["levels"] <= 2):
            return "categorical"
        return "numeric"

    def numeric_aggregates(self) -> list[dict[str, Any]]:
        v = f"case when cast({self.m} as double) {_FINITE} then cast({self.m} as double) end"
        return self.run(
            f"select g, count(*) as rows, count(v) as n, count(m) - count(v) as non_finite, avg(v) as mean, "
            f"stddev_samp(v) as std, min(v) as min, max(v) as max, quantile_cont(v, 0.5) as median, "
            f"skewness(v) as skewness, kurtosis(v) as kurtosis "
            f"from (select {self.g} as g, {self.m} as m, {v} as v from t) as s group by g"
        ).to_pylist()

    def samples(self, cap: int, sample_all: bool) -> dict[Any, np.ndarray]:
        """Finite values per group; a random ``cap`` of each group larger than that."""
        v = f"cast({self.m} as double)"
        base = f"select {self.g} as g, {v} as v from t where {self.g} is not null and {v} {_FINITE}"
        if sample_all:
            query = base
        else:  # random() in its own column: a window may not order by a volatile expression
            query = (f"select g, v from (select g, v, row_number() over (partition by g order by r) as rn "
                     f"from (select g, v, random() as r from ({base}) as b) as b2) as s where rn <= {int(cap)}")
        table = self.run(query)
        codes = table.column("g").dictionary_encode().combine_chunks()
        values = table.column("v").to_numpy()
        idx = codes.indices.to_numpy()
        order = np.argsort(idx, kind="stable")
        bounds = np.searchsorted(idx[order], np.arange(len(codes.dictionary) + 1))
        return {key: values[order[bounds[i]:bounds[i + 1]]] for i, key in enumerate(codes.dictionary.to_pylist())}

    def level_counts(self) -> list[dict[str, Any]]:
        value = f"cast({self.m} as varchar)"
        if pt.is_boolean(self.type):
            value = f"case when {self.m} then 'true' when not {self.m} then 'false' end"
        return self.run(f"select {self.g} as g, {value} as v, count(*) as c from t group by 1, 2").to_pylist()


def holm(p_values: Any, method: str = "holm") -> np.ndarray:
    """Adjust p-values for multiple comparisons (Holm's step-down by default).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0 or method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    if method == "fdr_bh":
        from scipy.stats import false_discovery_control

        return false_discovery_control(p, method="bh")
    order = np.argsort(p)
    adjusted = np.minimum(np.maximum.accumulate((m - np.arange(m)) * p[order]), 1.0)
    out = np.empty(m)
    out[order] = adjusted
    return out
