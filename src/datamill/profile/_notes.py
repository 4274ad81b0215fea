"""How a profile was computed, in words: what used every row, what a sample, what an estimate.

Internal: may change. Written from what the run did (the rows it fetched,
the columns whose distinct count stayed an estimate), never a fixed
sentence, so the report and the benchmark can say exactly what was sampled.
"""

from __future__ import annotations

from typing import Any

from datamill.profile._sample import CONFIDENCE, Sample, dkw_error

__all__ = ["approximations", "describe_distinct", "describe_duplicates", "describe_quantiles"]

LISTED = 10  # column names named in a note before "and N more"


def _names(names: list[str]) -> str:
    if len(names) <= LISTED:
        return ", ".join(names)
    return ", ".join(names[:LISTED - 1]) + f" and {len(names) - LISTED + 1} more"


def describe_quantiles(sample: Sample, used: dict[str, int]) -> str:
    """``used``: sampled values per column (empty when the quantiles are exact)."""
    if not used:
        return "exact (linear interpolation, every row)"
    fewest = min(used, key=used.get)
    worst, best = dkw_error(used[fewest]), dkw_error(max(used.values()))
    spread = f"±{best * 100:.2f} percentile points"
    if worst > 1.05 * best:
        spread += f" (±{worst * 100:.2f} for {fewest}, which has the fewest values)"
    return (f"from {sample.describe()}: every quantile within {spread} of the exact one, all at once with "
            f"{CONFIDENCE:.0%} probability (Dvoretzky-Kiefer-Wolfowitz)")


def _estimated(columns: dict[str, dict[str, Any]]) -> list[str]:
    return [n for n, c in columns.items() if not c.get("distinct_exact", True)]


def _hyperloglog(error: float) -> str:
    return (f"HyperLogLog estimates: relative standard error {error:.1%}, about 95% of estimates within "
            f"±{2 * error:.0%} (no hard bound)")


def describe_distinct(columns: dict[str, dict[str, Any]], error: float) -> str:
    estimated = _estimated(columns)
    if not estimated:
        return "exact"
    return f"exact, except {len(estimated)} column(s) with many values ({_names(estimated)}): {_hyperloglog(error)}"


def describe_duplicates(exact: bool, rows: int) -> str:
    if exact:
        return "rows with equal values in every column"
    # birthday bound: some two of n different rows share a 64-bit hash with probability below n^2 / 2^65
    chance = min(1.0, rows * rows / 2.0**65)
    return (f"rows with equal 64-bit hashes of all their values: exact unless two different rows share a hash "
            f"(chance below {chance:.0e})")


def approximations(parts: dict[str, Any], sample: Sample) -> list[dict[str, str]]:
    """What was computed on a sample or estimated: ``{"statistic", "how"}`` each; empty when nothing was."""
    out = []
    if parts["quantile_rows"]:
        out.append({"statistic": "quantiles (percentiles, median, IQR)", "how": describe_quantiles(sample, parts["quantile_rows"])})
    if sample.sampled and sample.rows:
        out.append({"statistic": "correlations, scatter plots" + (", target analysis" if parts["target"] else ""),
                    "how": f"on {sample.describe()}"})
    estimated = _estimated(parts["columns"])
    if estimated:
        out.append({"statistic": f"distinct values of {len(estimated)} column(s) with many values: {_names(estimated)}",
                    "how": _hyperloglog(parts["distinct_error"])})
    target = parts["target"] or {}
    if target.get("mi_sampled"):
        out.append({"statistic": "mutual information (target analysis)", "how": target["mi_method"]})
    return out
