"""The demo's data: a deterministic, realistically messy customers table.

Generated, not shipped, so the repository stays small and every run is the
same: duplicates, missing values, outliers, inconsistent categories and a few
malformed CSV lines, the way real exports arrive.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

__all__ = ["BAD_LINES", "PLANS", "customers_table", "write_customers_csv"]

PLANS = [
    {"plan_id": 1, "plan_name": "basic", "monthly_price": 9.0, "tier": "consumer"},
    {"plan_id": 2, "plan_name": "standard", "monthly_price": 19.0, "tier": "consumer"},
    {"plan_id": 3, "plan_name": "premium", "monthly_price": 39.0, "tier": "consumer"},
    {"plan_id": 4, "plan_name": "team", "monthly_price": 99.0, "tier": "business"},
    {"plan_id": 5, "plan_name": "enterprise", "monthly_price": 499.0, "tier": "business"},
]

_COUNTRIES = np.array(["US", "us", "United States", "DE", "Germany", "FR", "GB", "UK", "ES", "IT", "NL", "BR"])
_COUNTRY_P = np.array([0.25, 0.03, 0.02, 0.12, 0.02, 0.1, 0.1, 0.03, 0.08, 0.08, 0.07, 0.1])
_FIRST = np.array(["Ada", "Grace", "Linus", "Guido", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger", "Zoë", "José"])
_LAST = np.array(["Lovelace", "Hopper", "Torvalds", "van Rossum", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen", "Dijkstra", "Müller", "García"])

# Malformed lines inserted into the CSV: (line index in the data, text). The
# pipeline must quarantine them, not drop them.
BAD_LINES = [
    (1_000, "99000001,Broken,Row,with,too,many,fields,2024-01-01,1,1,1,1,1,1,1"),
    (25_000, "99000002;semicolon;instead;of;commas"),
    (50_000, "99000003,Truncated"),
    (75_000, "99000004,Extra Field,x@example.com,44,52000,3,2023-05-01,DE,12.5,2,0,surplus,more"),
    (99_000, "99000005"),
]


def customers_table(rows: int = 120_000, seed: int = 7) -> pa.Table:
    """Customers with about 2% duplicate rows, missing values and outliers."""
    rng = np.random.default_rng(seed)
    n = int(rows * 0.98)
    ids = np.arange(100_001, 100_001 + n)
    age = rng.normal(41, 13, n).clip(18, 90).round().astype("float64")
    income = np.round(rng.lognormal(10.8, 0.55, n), 2)
    plan = rng.choice([1, 2, 3, 4, 5, 6], n, p=[0.35, 0.3, 0.18, 0.1, 0.05, 0.02])  # 6: not in the API
    tenure = rng.integers(0, 120, n)
    calls = rng.poisson(1.2, n)
    spend = np.round(rng.gamma(2.0, 18.0, n), 2)
    logit = -1.2 + 0.45 * calls - 0.025 * tenure + 0.4 * (plan == 1) - 0.00001 * (income - 50_000)
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    signup = np.datetime64("2016-01-01") + rng.integers(0, 3650, n).astype("timedelta64[D]")
    first, last = rng.choice(_FIRST, n), rng.choice(_LAST, n)
    names = np.char.add(np.char.add(first, " "), last)
    emails = np.char.add(np.char.add(np.char.lower(first), np.char.mod(".%d", ids)), "@example.com")
    country = rng.choice(_COUNTRIES, n, p=_COUNTRY_P)

    age[rng.random(n) < 0.04] = np.nan  # missing
    income[rng.random(n) < 0.06] = np.nan
    age[rng.choice(n, 40, replace=False)] = rng.choice([-1, 150, 999], 40)  # outliers
    income[rng.choice(n, 60, replace=False)] *= 100
    table = pa.table(
        {
            "customer_id": ids,
            "name": names,
            "email": pa.array(np.where(rng.random(n) < 0.03, None, emails)),
            "age": pa.array(age, from_pandas=True),
            "income": pa.array(income, from_pandas=True),
            "plan_id": plan,
            "signup_date": pa.array(signup),
            "country": country,
            "monthly_spend": spend,
            "support_calls": calls,
            "tenure_months": tenure,
            "churned": churned,
        }
    )
    dupes = table.take(rng.choice(n, rows - n, replace=False))  # exact duplicate rows
    mixed = pa.concat_tables([table, dupes])
    return mixed.take(rng.permutation(mixed.num_rows))


def write_customers_csv(path: Path, rows: int = 120_000, seed: int = 7) -> int:
    """Write the customers CSV with :data:`BAD_LINES` inserted; return the data lines written."""
    buffer = io.BytesIO()
    pcsv.write_csv(customers_table(rows, seed), buffer, pcsv.WriteOptions(quoting_style="needed"))
    lines = buffer.getvalue().decode("utf-8").splitlines()
    header, body = lines[0], lines[1:]
    for index, text in sorted(BAD_LINES, reverse=True):
        body.insert(min(index, len(body)), text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
    return len(body)
