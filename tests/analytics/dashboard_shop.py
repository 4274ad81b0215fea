"""A small shop project with a dashboard, built for the analytics and CLI tests (ingested, ready to query)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

PROJECT = """\
# a small shop
name: shop
sources:
  customers: {type: csv, path: data/customers.csv}   # the export

queries:
  everyone: select * from customers   # all of them

dashboards:
  business:
    title: Churn and revenue   # shown on top
    params:
      country: {default: all, description: "US, DE, FR or all"}
    queries:
      churn_by_plan: |
        select plan, count(*) as customers, avg(churned) as churn_rate
        from customers where $country = 'all' or country = $country
        group by plan order by customers desc
      revenue_by_month: |
        select date_trunc('month', signup_date) as month, sum(monthly_spend) as revenue
        from customers where $country = 'all' or country = $country
        group by 1 order by 1
    charts:
      # the three business questions
      - {kind: bar, query: churn_by_plan, x: plan, y: churn_rate, title: Churn rate by plan}
      - {kind: line, query: revenue_by_month, x: month, y: revenue, title: Revenue by month}
      - {kind: pie, query: churn_by_plan, x: plan, y: customers, title: Customers by plan}
"""


def rows() -> list[dict]:
    rng = random.Random(1)
    return [{"customer_id": i, "plan": rng.choice(["basic", "standard", "premium"]), "country": rng.choice(["US", "DE", "FR"]),
             "signup_date": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
             "monthly_spend": rng.randint(5, 100) + 0.5, "churned": int(rng.random() < 0.2)} for i in range(400)]


def make_shop(folder: Path) -> Path:
    """Write the shop project into ``folder`` and ingest it; return the folder."""
    from datamill.project import Project

    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    cols = list(rows()[0])
    lines = [",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in rows()]
    (data / "customers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "datamill.yaml").write_text(PROJECT, encoding="utf-8")
    with Project(folder) as project:
        assert project.run().status == "ok"
    return folder


def copy_shop(built: Path, folder: Path) -> Path:
    """A fresh copy of a built shop (its tables too), for a test that edits it."""
    shutil.copytree(built, folder)
    return folder
