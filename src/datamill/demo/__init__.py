"""The bundled demo project: messy customers from a CSV, plans from a local API, joined."""

from __future__ import annotations

from pathlib import Path

from datamill.demo.api import serve_plans_api
from datamill.demo.data import write_customers_csv

__all__ = ["API_ENV", "create_demo", "serve_plans_api"]

API_ENV = "DATAMILL_DEMO_API"

_PROJECT = """\
# The datamill demo: a churn project with messy data.
name: churn_demo
engine: duckdb
storage: lakehouse:./warehouse

sources:
  customers:
    type: csv
    path: data/customers.csv
    on_bad_rows: quarantine        # malformed lines go to customers__quarantine
  plans:
    type: http
    url: "${%(env)s:-http://127.0.0.1:8765}/plans"
    records: "$.data"
    paginate: {next: "$.next"}

datasets:
  features:
    sql: |
      select c.*, p.plan_name, p.monthly_price, p.tier,
             c.monthly_spend / nullif(p.monthly_price, 0) as spend_ratio
      from customers c
      left join plans p using (plan_id)
  churn_by_plan:
    sql: |
      select coalesce(plan_name, 'unknown') as plan_name,
             count(*) as customers,
             round(avg(churned), 4) as churn_rate,
             round(avg(monthly_spend), 2) as avg_spend
      from features
      group by all
      order by customers desc
""" % {"env": API_ENV}


def create_demo(folder: Path, rows: int = 120_000) -> Path:
    """Write the demo project into ``folder`` (data generated, deterministic); return its file."""
    folder.mkdir(parents=True, exist_ok=True)
    write_customers_csv(folder / "data" / "customers.csv", rows=rows)
    (folder / ".gitignore").write_text("warehouse/\n.datamill/\n", encoding="utf-8")
    file = folder / "datamill.yaml"
    file.write_text(_PROJECT, encoding="utf-8")
    return file
