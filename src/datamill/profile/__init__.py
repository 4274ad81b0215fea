"""Profiles: the EDA report of a table, computed on the engine.

:func:`profile` measures a table in a few batched passes on DuckDB (the
default) or Spark: per column missing, distinct and top values, moments,
exact quantiles, histograms, string lengths and date ranges; correlations
(Pearson, Spearman, Cramér's V, correlation ratio), missing-value patterns
and binned scatter plots on a sample; target analysis; alerts. The
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
