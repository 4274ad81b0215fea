"""Profiles: the EDA report of a table, computed on the engine.

:func:`profile` measures a table in a few batched passes on DuckDB (the
default) or Spark: per column missing, distinct and top values, moments,
quantiles, histograms, string lengths and date ranges; missing-value
patterns; correlations (Pearson, Spearman, Cramér's V, correlation ratio),
binned scatter plots and target analysis; alerts. Past 100,000 rows the
default mode takes quantiles and the pair statistics from a random sample
and estimates large distinct counts, and says so in the profile's notes and
report; ``exact=True`` computes every statistic on every row. The
:class:`Profile` it returns shows itself in Jupyter, saves to JSON and writes
one self-contained HTML report; :meth:`Profile.compare` sets two side by side.

Stable API: :func:`profile`, :class:`Profile`, :class:`Comparison`.

Examples
--------
>>> import pyarrow as pa
>>> from datamill.profile import profile
>>> p = profile(pa.table({"age": [30, 41, 41, None], "plan": ["a", "b", "b", "b"]}))
>>> p.overview["missing_cells"], p.columns["age"]["distinct"], p.columns["plan"]["top"][0]["value"]
(1, 2, 'b')
"""

from __future__ import annotations

from datamill.profile._compare import Comparison
from datamill.profile._model import Profile
from datamill.profile._run import profile

__all__ = ["Comparison", "Profile", "profile"]
