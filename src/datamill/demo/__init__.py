"""The bundled demo project: messy customers from a CSV, plans from a local API, cleaned, joined."""

from __future__ import annotations

from pathlib import Path

from datamill.demo.api import serve_plans_api
from datamill.demo.data import write_customers_csv

__all__ = ["API_ENV", "CLEAN_DATASET", "DASHBOARD", "MODEL", "MONITOR", "PROFILE_TARGET", "SCORED", "create_demo", "project_text", "serve_plans_api"]

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
  customers_clean:                 # duplicates, gaps and outliers fixed; `datamill quality customers_clean`
    from: customers
    clean:
      dedupe: [customer_id]
      impute: {income: median, age: median}
      outliers: {income: iqr}%(categories)s
    checks:
      - not_null: customer_id       # warn (the default): counted, every row kept
      - between: {age: [18, 120]}   # impossible ages: the rows move to customers_clean__quarantine
        severity: quarantine
      - relationship: {column: plan_id, to: plans.plan_id}
        severity: warn              # unknown plans are reported; the customers stay
  features:
    sql: |
      select c.*, p.plan_name, p.monthly_price, p.tier,
             c.monthly_spend / nullif(p.monthly_price, 0) as spend_ratio
      from customers_clean c
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
  churn_holdout:                   # the rows a retrained model and the champion are both judged on
    sql: select * from features where customer_id %% 10 = 0

models:
  churn_model:                     # `datamill train churn_model`; report in reports/model-churn_model.html
    from: features
    target: churned
    metric: roc_auc
    features: {drop: [customer_id, name, email]}
    candidates: [baseline, logistic, lightgbm]   # add hist_gbm, random_forest, torch_mlp for a longer search
    cv: 3
    tune: {trials: 4, timeout: 40s, top: 1}

predictions:
  customers_scored:                # every customer scored by the newest churn_model, rescored when it changes
    model: churn_model             # or churn_model@champion, churn_model/3; by hand: `datamill predict`
    from: features

monitors:
  churn_watch:                     # `datamill monitor churn_model@champion`, `datamill retrain churn_watch`
    model: churn_model@champion
    current: predictions_log       # what `datamill serve` answered
    window: 1500rows
    thresholds: {share: 0.25}      # the model drifts when a quarter of its inputs do
    retrain:
      when: [drift]
      gate: {metric: roc_auc, min_gain: 0.0, floor: 0.6}   # promote only if no worse than the champion
      holdout: {dataset: churn_holdout}

dashboards:
  business:                        # `datamill dashboard business --param country=DE`; also in `datamill ui`
    title: Churn and revenue
    description: Which plans lose customers, and what the customers who signed up each month spend.
    params:
      country: {default: all, description: "a country code (US, DE, FR, GB, ES, IT, NL, BR) or all"}
    queries:                       # $country is bound by DuckDB as a parameter, never pasted into the SQL
      churn_by_plan: |
        select coalesce(plan_name, 'unknown') as plan_name, count(*) as customers,
               avg(churned) as churn_rate, sum(monthly_spend) as revenue
        from features
        where $country = 'all' or country = $country
        group by all
        order by customers desc
      revenue_by_month: |
        select date_trunc('month', signup_date) as month, coalesce(tier, 'unknown') as tier,
               sum(monthly_spend) as revenue
        from features
        where $country = 'all' or country = $country
        group by all
        order by month
    charts:
      - {kind: bar, query: churn_by_plan, x: plan_name, y: churn_rate, title: Churn rate by plan}
      - {kind: line, query: revenue_by_month, x: month, y: revenue, color: tier, title: Monthly spend by signup month}
      - {kind: pie, query: churn_by_plan, x: plan_name, y: customers, title: Customers by plan}
      - {kind: bar, query: churn_by_plan, x: plan_name, y: revenue, title: Monthly spend by plan}
"""

CLEAN_DATASET = "customers_clean"
DASHBOARD = "business"  # the demo's business questions: churn by plan, spend by month (`datamill dashboard business`)
MODEL = "churn_model"  # trained by `datamill run`; the demo shows its leaderboard and report
MONITOR = "churn_watch"  # the demo's closed loop: drift on the served traffic -> retrain -> gate -> promote or refuse
SCORED = "customers_scored"  # every customer scored by the champion (`datamill predict`)
PROFILE_TARGET = "churned"  # the demo profiles customers_clean against it
# country is spelled several ways in the messy export (see demo/data.py)
COUNTRY_MAP = {"us": "US", "United States": "US", "Germany": "DE", "UK": "GB"}


def _categories_line() -> str:
    """The country normalisation, where this version has a ``categories`` step that takes it."""
    from datamill.quality.steps import STEP_CLASSES

    step = STEP_CLASSES.get("categories")
    options = {"country": {"map": COUNTRY_MAP}}
    try:
        step.Options.model_validate(options)  # type: ignore[union-attr]
    except Exception:  # no such step (AttributeError) or other options (ValidationError)
        return ""
    pairs = ", ".join(f"{k!r}: {v}" if " " in k else f"{k}: {v}" for k, v in COUNTRY_MAP.items())
    return f"\n      categories: {{country: {{map: {{{pairs}}}}}}}"


def project_text() -> str:
    """The demo's datamill.yaml."""
    return _PROJECT % {"env": API_ENV, "categories": _categories_line()}


def create_demo(folder: Path, rows: int = 120_000) -> Path:
    """Write the demo project into ``folder`` (data generated, deterministic); return its file."""
    folder.mkdir(parents=True, exist_ok=True)
    write_customers_csv(folder / "data" / "customers.csv", rows=rows)
    (folder / ".gitignore").write_text("warehouse/\n.datamill/\n", encoding="utf-8")
    file = folder / "datamill.yaml"
    file.write_text(project_text(), encoding="utf-8")
    return file
