"""Rows in = rows out + set aside, counted and compared: a backend that loses rows fails the node.

Through ``datamill run`` with a storage that silently loses a row
(:mod:`tests.pipeline.lossy_storage`, registered as a third-party backend).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import cli
from tests.pipeline.lossy_storage import install

ORDERS = "id,amount\n1,10\n2,70\n3,20\n4,-5\n5,\n6,50\n"
PROJECT = """\
name: shop
storage: {type: lossy, path: ./warehouse, lose_in: LOSE_IN}
sources:
  orders: {type: csv, path: data/orders.csv}
datasets:
  totals:
    sql: select id % 2 as odd, count(*) as n from orders group by all
  checked:
    from: orders
    clean: {impute: {amount: median}}
    checks:
      - between: {amount: [0, 50]}
        severity: quarantine
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    (root / "data").mkdir(parents=True)
    (root / "data" / "orders.csv").write_text(ORDERS)
    return root


def run(project: Path, lose_in: list[str], *args: str):  # noqa: ANN201
    (project / "datamill.yaml").write_text(PROJECT.replace("LOSE_IN", "[" + ", ".join(lose_in) + "]"))
    return cli(*args, cwd=project, env=install(project.parent / "plugins"))


def flat(text: str) -> str:
    return " ".join(text.split())


def test_a_source_whose_commit_lost_a_row_fails(project: Path) -> None:
    out = run(project, ["orders"], "run")
    assert out.returncode == 1, out.stdout + out.stderr
    text = flat(out.stdout)
    assert ("source 'orders': 6 rows were sent to table 'orders' but its commit (version 0) holds 5 rows: "
            "the storage lost or added rows") in text
    assert "did not exist before this write, so there is no previous version to keep" in text
    assert "Traceback" not in out.stdout + out.stderr
    assert "totals" in text and "blocked" in text  # nothing downstream builds on it


def test_a_dataset_whose_commit_lost_a_row_fails_and_keeps_its_previous_version(project: Path) -> None:
    first = run(project, [], "run")
    assert first.returncode == 0, first.stdout + first.stderr
    (project / "data" / "orders.csv").write_text(ORDERS + "7,1\n8,2\n9,3\n")
    second = run(project, ["totals"], "run")
    assert second.returncode == 1
    text = flat(second.stdout)
    assert "dataset 'totals': 2 rows were sent to table 'totals' but its commit (version 1) holds 1 row" in text
    assert "the table keeps its previous version 0 (restored as version 2)" in text
    rows = run(project, [], "sql", "select odd, n from totals order by odd", "--format", "csv")
    assert rows.stdout.split() == ['"odd","n"', "0,3", "1,3"]  # the first run's counts, not the lossy ones


def test_cleaning_whose_rows_do_not_add_up_fails(project: Path) -> None:
    first = run(project, [], "run")
    assert first.returncode == 0, first.stdout + first.stderr
    (project / "data" / "orders.csv").write_text(ORDERS + "7,1\n")
    second = run(project, ["checked"], "run")
    assert second.returncode == 1
    text = flat(second.stdout)
    assert ("dataset 'checked': rows do not add up: rows in 7 ≠ rows written 4 (commit version 1 of table "
            "'checked') + quarantined 2 + duplicates 0; 1 row unaccounted for") in text
    assert "the table keeps its previous version 0 (restored as version 2)" in text
    shown = run(project, [], "quality", "checked", "--no-html")
    assert "rows in 7 = rows out 4 + quarantined 2 + duplicates 0 (DOES NOT HOLD)" in flat(shown.stdout)
    ids = run(project, [], "sql", "select count(*) as n from checked", "--format", "csv")
    assert ids.stdout.split()[1:] == ["4"]  # version 0: the 6 orders less the 2 quarantined


def test_an_honest_run_balances(project: Path) -> None:
    out = run(project, [], "run")
    assert out.returncode == 0, out.stdout + out.stderr
    shown = run(project, [], "quality", "checked", "--no-html")
    assert "rows in 6 = rows out 4 + quarantined 2 + duplicates 0 (holds)" in flat(shown.stdout)
