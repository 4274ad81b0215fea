"""The rules ``datamill suggest`` applies to a profile. Internal: may change.

Each rule reads the :class:`TableProfile` and adds steps or checks, with the
numbers behind them, to a :class:`~datamill.quality.suggest.Suggestion`.
Thresholds are stated once, here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from datamill.quality.steps import STEP_CLASSES

if TYPE_CHECKING:
    from datamill.quality._profile import ColumnProfile
    from datamill.quality.suggest import Suggestion

KEY_SHARE = 0.99  # a column unique in at least this share of rows (but not all) is a dedupe key
SKEW = 0.5  # |Pearson's second skewness| above which the median imputes (not the mean)
OUTLIER_FEW = 0.01  # beyond the IQR fences in at most this share of rows: outliers, clip them
OUTLIER_MAX = 0.10  # ... in more than this share: a feature of the data, never clipped
GROSS = 10  # a value this many IQRs beyond the quartiles is an error (an income x100), not a tail
DATE_SHARE = 0.95  # strings parsing as dates in at least this share of values: a date column
# names that say what range is sensible: (pattern, low, high, what it is)
DOMAINS = [
    (r"(^|_)age($|_)", 0, 120, "an age"),
    (r"(^|_)(pct|percent|percentage)($|_)", 0, 100, "a percentage"),
    (r"(^|_)(rate|ratio|share|prob|probability)($|_)", 0, 1, "a share"),
]


def candidate_bounds(name: str) -> list[tuple[float | None, float | None]]:
    """Ranges worth counting values outside of, for ``name`` (its domain, and non-negative)."""
    out: list[tuple[float | None, float | None]] = [(0, None)]
    out += [(lo, hi) for pattern, lo, hi, _ in DOMAINS if re.search(pattern, name.lower())]
    return out


def apply_all(s: Suggestion) -> None:
    rows_after = _dedupe(s)
    _types(s)
    _impute(s)
    _outliers(s)
    _checks(s, rows_after)


def _n(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.3g}"


def _id_like(c: ColumnProfile) -> bool:
    return c.kind in ("integer", "string") and bool(re.search(r"(^|_)(id|key|code|uuid)$|id$", c.name.lower()))


def _dedupe(s: Suggestion) -> int:
    """A key unique in >= 99% (not all) of the distinct rows; else exact copies. Returns the rows left."""
    from datamill.quality.suggest import share

    p = s.profile
    exact = (f"; {p.duplicate_rows:,} of them exact copies" if p.duplicate_rows else "")
    keys = [c for c in p.columns.values() if c.kind in ("integer", "string") and c.nulls == 0
            and KEY_SHARE <= c.distinct / max(p.distinct_rows, 1) < 1]
    keys.sort(key=lambda c: (not _id_like(c), -c.distinct))
    if keys:
        k = keys[0]
        s.clean.append(("dedupe", [k.name], f"{k.name} is unique in {k.distinct / p.rows:.1%} of rows: "
                                              f"{p.rows - k.distinct:,} rows repeat one{exact}"))
        return k.distinct
    if p.duplicate_rows:
        verb = "is an exact copy" if p.duplicate_rows == 1 else "are exact copies"
        s.clean.append(("dedupe", True, f"{share(p.duplicate_rows, p.rows)} {verb} of another row"))
        return p.distinct_rows
    return p.rows


def _types(s: Suggestion) -> None:
    """Strings that are dates, booleans or categories spelled several ways."""
    from datamill.quality.suggest import per_column

    found: dict[str, dict[str, tuple[Any, str]]] = {"cast": {}, "booleans": {}, "categories": {}}
    for c in s.profile.columns.values():
        if c.kind != "string" or c.distinct == 0:
            continue
        present = s.profile.rows - c.nulls
        fmt, parsed = max(c.parsed.items(), key=lambda kv: kv[1], default=("", 0))
        if parsed >= DATE_SHARE * present:
            rest = f"; the {present - parsed:,} that do not are quarantined" if parsed < present else ""
            found["cast"][c.name] = ({"type": "date", "formats": [fmt]},
                                     f"{parsed / present:.1%} of values parse as dates ({fmt}){rest}")
        elif c.booleans == present and c.distinct <= 8:
            found["booleans"][c.name] = ({}, f"values are {', '.join(str(v) for v, _ in c.values)}")
        elif c.values and c.variants < c.distinct:
            found["categories"][c.name] = (_category_map(c), f"{c.distinct} spellings of {c.variants} values "
                                                             "(differ only in case or spaces)")
    for key, cols in found.items():
        usable = {col: v for col, v in cols.items() if v[0] is not None and _accepts(key, {col: v[0]})}
        if usable:
            s.clean.append((key, per_column(usable), ""))
        for col in sorted(set(cols) - set(usable)):
            s.notes.append(f"{col}: {cols[col][1]}; no '{key}' step in this version to fix it")


def _category_map(c: ColumnProfile) -> Any:
    """``{map: {variant: canonical}}``: each value to its most frequent spelling (the step trims first)."""
    canonical: dict[str, str] = {}
    for value, _ in c.values:  # most frequent first
        canonical.setdefault(str(value).strip().lower(), str(value).strip())
    mapping = {}
    for value, _ in c.values:
        text = str(value).strip()
        if text != canonical[text.lower()]:
            mapping[text] = canonical[text.lower()]
    return {"map": mapping} if mapping else {}


def _accepts(step: str, options: dict[str, Any]) -> bool:
    """Whether this version has ``step`` and it takes these options."""
    cls = STEP_CLASSES.get(step)
    if cls is None:
        return False
    try:
        cls.Options.model_validate(options)
    except Exception:  # pydantic's ValidationError, or the step's own
        return False
    return True


def _impute(s: Suggestion) -> None:
    from datamill.quality.suggest import per_column, share

    p, out = s.profile, {}
    for c in p.columns.values():
        if not c.nulls or c.nulls == p.rows:
            if c.nulls == p.rows:
                s.notes.append(f"{c.name} is empty in every row: drop it (drop_missing: {{columns_over: 0.99}})")
            continue
        missing = f"{share(c.nulls, p.rows)} missing"
        if c.nulls / p.rows > 0.5:
            s.notes.append(f"{c.name}: {missing}; consider drop_missing: {{columns_over: 0.5}} rather than imputing")
            continue
        if c.numeric:
            st = c.stats
            skew = 3 * (st["mean"] - st["median"]) / st["sd"] if st.get("sd") else 0.0
            if abs(skew) > SKEW or sum(c.beyond):
                why = f"skewed (mean {_n(st['mean'])}, median {_n(st['median'])})" if abs(skew) > SKEW \
                    else f"{sum(c.beyond):,} values beyond the IQR fences pull the mean"
                out[c.name] = ("median", f"{missing}; {why}")
            else:
                out[c.name] = ("mean", f"{missing}; symmetric (mean {_n(st['mean'])}, median {_n(st['median'])})")
        elif c.kind in ("string", "boolean") and c.values:
            top, n = c.values[0]
            out[c.name] = ("mode", f"{missing}; most frequent: {top} ({n / (p.rows - c.nulls):.1%})")
    if out:
        s.clean.append(("impute", per_column(out), ""))


def _domain(c: ColumnProfile) -> tuple[float, float, str] | None:
    for pattern, lo, hi, what in DOMAINS:
        if re.search(pattern, c.name.lower()) and (hi != 1 or (c.stats.get("p99") or 0) <= 1):
            return lo, hi, what
    return None


def _outliers(s: Suggestion) -> None:
    from datamill.quality.suggest import per_column

    p, out = s.profile, {}
    for c in p.columns.values():
        fences = c.fences()
        if not c.numeric or _id_like(c) or fences is None or c.distinct <= 10 or _domain(c) or fences[0] == fences[1]:
            continue
        n = sum(c.beyond)
        present = p.rows - c.nulls
        if not n:
            continue
        iqr = c.stats["q3"] - c.stats["q1"]
        far = max((c.stats["max"] - c.stats["q3"]) / iqr, (c.stats["q1"] - c.stats["min"]) / iqr)
        where = (f"{n / present:.1%} beyond the IQR fences [{_n(fences[0])}, {_n(fences[1])}]; "
                 f"min {_n(c.stats['min'])}, max {_n(c.stats['max'])} ({far:,.0f} IQRs out)")
        if n / present > OUTLIER_MAX or (n / present > OUTLIER_FEW and far < GROSS):
            s.notes.append(f"{c.name}: {where}; a heavy tail rather than outliers, not clipped")
            continue
        out[c.name] = ("iqr", f"{where}: clip to the fences")
    if out:
        s.clean.append(("outliers", per_column(out), ""))


def _checks(s: Suggestion, rows: int) -> None:
    p = s.profile
    never_null = [c.name for c in p.columns.values() if c.nulls == 0]
    if never_null and p.rows:
        s.checks.append(({"not_null": never_null if len(never_null) > 1 else never_null[0]},
                         f"never null in {p.rows:,} rows"))
    deduped_by = next((arg for step, arg, _ in s.clean if step == "dedupe" and isinstance(arg, list)), [])
    for c in p.columns.values():
        if c.kind in ("integer", "string") and c.nulls == 0 and rows > 1 and (c.distinct == rows or c.name in deduped_by) \
                and _id_like(c):
            s.checks.append(({"unique": c.name}, f"{c.distinct:,} distinct values in {rows:,} rows after dedupe"))
    retyped = {col for key, arg, _ in s.clean if key in ("cast", "booleans") for col in arg["columns"]}
    for c in p.columns.values():
        if c.name not in retyped:  # its values change type: checks on the text would mislead
            _range_check(s, c)
            _set_check(s, c)
    for column, (target, values, n) in p.orphans.items():
        if p.columns[column].distinct >= rows:  # this table's own key, not a reference to another
            continue
        evidence = (f"{values:,} {'value' if values == 1 else 'values'} ({n:,} rows) without a match in {target}" if values
                    else f"every value is in {target}")
        s.checks.append(({"relationship": {"column": column, "to": target}, "severity": "warn"}, evidence))


def _range_check(s: Suggestion, c: ColumnProfile) -> None:
    if not c.numeric or c.stats.get("min") is None:
        return
    present = s.profile.rows - c.nulls
    domain = _domain(c)
    if domain:
        lo, hi, what = domain
        n = c.outside.get((lo, hi), 0)
        evidence = (f"{n / present:.2%} of values ({n:,}) outside [{lo}, {hi}], the sensible range for {what} "
                    f"(seen {_n(c.stats['min'])} to {_n(c.stats['max'])}); failing rows move to quarantine") if n \
            else f"all values in [{lo}, {hi}], the sensible range for {what}"
        # values no {what} can have are errors, not news: set aside rather than only reported
        s.checks.append(({"between": {c.name: [lo, hi]}, "severity": "quarantine"}, evidence))
        return
    negative = c.outside.get((0, None), 0)
    if 0 < negative and negative / present < 0.01 and not _id_like(c):
        s.checks.append(({"between": {c.name: [0, None]}},
                         f"{negative:,} negative values ({negative / present:.2%}) in a column that is otherwise never negative"))


def _set_check(s: Suggestion, c: ColumnProfile) -> None:
    if not c.values or c.distinct > 12 or s.profile.rows < 20 * c.distinct or _id_like(c):
        return
    if c.kind == "string" and c.variants < c.distinct:
        step = next((arg for key, arg, _ in s.clean if key == "categories"), None)
        if step is None or c.name not in step["columns"]:
            return  # spelled several ways and nothing normalises them: an in_set would quarantine good rows
        mapping = step["columns"][c.name][0].get("map", {})
        allowed = sorted({mapping.get(str(v).strip(), str(v).strip()) for v, _ in c.values})
    elif c.kind == "string" or (c.kind == "integer" and c.distinct <= 3):  # flags, not counts
        allowed = sorted(v for v, _ in c.values)
    else:
        return
    rare = min(n for _, n in c.values)
    s.checks.append(({"in_set": {c.name: allowed}}, f"{c.distinct} distinct values; the rarest appears {rare:,} times"))
