"""``datamill profile`` as a user runs it: on a file, on a project table, compared, with bad arguments."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from datamill.demo.data import customers_table
from datamill.profile import Profile
from tests.cli.test_cli import cli
from tests.profile.conftest import BIG_ROWS


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("files")
    table = customers_table(3_000)
    pcsv.write_csv(table, folder / "customers.csv")
    pq.write_table(table.slice(0, 1_500), folder / "recent.parquet")
    return folder


def test_profile_a_file_without_a_project(files: Path) -> None:
    out = cli("profile", "customers.csv", "--target", "churned", "--json", "p.json", cwd=files)
    assert out.returncode == 0, out.stderr
    assert "profile of customers.csv" in out.stdout and "3,000 rows x 12 columns" in out.stdout
    assert "duplicate rows" in out.stdout and "alerts" in out.stdout
    report = files / "profile-customers.csv.html"
    assert str(report.name) in out.stdout.replace("\n", "") and report.stat().st_size < 2_000_000
    html = report.read_text(encoding="utf-8")
    assert "Target: churned" in html and "mutual information" in html and (files / "p.json").is_file()


def test_compare_two_files(files: Path) -> None:
    out = cli("profile", "customers.csv", "--compare", "recent.parquet", "-o", "out/cmp.html", cwd=files)
    assert out.returncode == 0, out.stderr
    assert "customers.csv vs recent.parquet" in out.stdout and "shared columns" in out.stdout
    assert "Comparison: customers.csv vs recent.parquet" in (files / "out" / "cmp.html").read_text(encoding="utf-8")


def test_profile_a_project_table(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    pcsv.write_csv(customers_table(2_000), tmp_path / "data" / "customers.csv")
    (tmp_path / "datamill.yaml").write_text("name: shop\nsources:\n  customers: {type: csv, path: data/customers.csv}\n")
    assert cli("ingest", cwd=tmp_path).returncode == 0
    out = cli("profile", "customers", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "reports" / "profile-customers.html").is_file()
    assert "on disk (Parquet)" in out.stdout
    exact = cli("profile", "customers", "--exact", "--json", "p.json", cwd=tmp_path)  # Project.profile(exact=True)
    assert exact.returncode == 0, exact.stderr
    assert Profile.from_json(tmp_path / "p.json").notes["mode"] == "exact"
    typo = cli("profile", "customerz", cwd=tmp_path)
    assert typo.returncode == 1 and "did you mean 'customers'" in typo.stderr


def test_bad_arguments_give_clear_errors(files: Path) -> None:
    target = cli("profile", "customers.csv", "--target", "churn", cwd=files)
    assert target.returncode == 1 and "target column 'churn' is not in customers.csv (did you mean 'churned'?)" in target.stderr
    missing = cli("profile", "nope.csv", cwd=files)
    assert missing.returncode == 1 and "nope.csv: no such file" in missing.stderr
    assert "Traceback" not in target.stderr + missing.stderr


def test_the_terminal_and_the_report_say_what_was_sampled_and_exact_mode_samples_nothing(big_file: Path,
                                                                                        tmp_path: Path) -> None:
    out = cli("profile", str(big_file), "-o", "default.html", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    said = " ".join(out.stdout.split())
    assert "quantiles (percentiles, median, IQR): from a random sample of" in said and f"of the {BIG_ROWS:,} rows" in said
    assert "distinct values of 4 column(s) with many values: key, x, z, at: HyperLogLog estimates" in said
    assert "(--exact: every statistic on every row)" in said
    html = (tmp_path / "default.html").read_text(encoding="utf-8")
    assert "Not every statistic here uses every row" in html and "Dvoretzky-Kiefer-Wolfowitz" in html
    exact = cli("profile", str(big_file), "--exact", "--json", "p.json", "-o", "exact.html", cwd=tmp_path)
    assert exact.returncode == 0, exact.stderr
    assert "random sample" not in exact.stdout and "--exact" not in exact.stdout
    p = Profile.from_json(tmp_path / "p.json")
    assert p.notes["mode"] == "exact" and p.notes["approximate"] == []
    assert all(c["distinct_exact"] for c in p.columns.values())
    assert f"Every statistic here uses all {BIG_ROWS:,} rows (exact mode)." in (tmp_path / "exact.html").read_text(encoding="utf-8")
