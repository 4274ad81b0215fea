"""``datamill init``: a new project folder that runs as it is."""

from __future__ import annotations

import re
from pathlib import Path

from datamill.exceptions import ConfigError

__all__ = ["init_project"]

_TEMPLATE = """\
# datamill project file: https://github.com/datamill/datamill
name: {name}
engine: duckdb                 # or {{type: spark, master: "local[2]"}}
storage: lakehouse:./warehouse # or postgresql://user@host/db, duckdb:./warehouse.duckdb

sources:
  orders:
    type: csv
    path: data/orders.csv
    on_bad_rows: quarantine    # fail | quarantine | skip

datasets:
  daily_revenue:
    sql: |
      select order_date, count(*) as orders, sum(amount) as revenue
      from orders
      group by order_date
      order by order_date
"""

_SAMPLE = """\
order_id,order_date,customer,amount
1,2026-01-01,ada,19.90
2,2026-01-01,grace,5.00
3,2026-01-02,ada,42.10
4,2026-01-03,linus,7.25
"""


def init_project(folder: Path, name: str | None = None) -> Path:
    """Create a project in ``folder`` (which must be empty or missing); return its file."""
    name = name or folder.name
    name = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not re.match(r"^[A-Za-z_]", name):
        name = f"p_{name}"
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} is not empty; choose a new folder name for the project")
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "orders.csv").write_text(_SAMPLE, encoding="utf-8")
    (folder / ".gitignore").write_text("warehouse/\n.datamill/\n", encoding="utf-8")
    file = folder / "datamill.yaml"
    file.write_text(_TEMPLATE.format(name=name), encoding="utf-8")
    return file
