"""Messy CSV files through ``datamill run``: every row is read, quarantined or refused, never changed."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests.cli.test_cli import cli


def last_run(project: Path) -> dict:
    """The newest run record, as ``datamill runs`` reads it."""
    runs = sorted((project / ".datamill" / "runs").glob("*.json"))
    return json.loads(runs[-1].read_text(encoding="utf-8"))


def sql_rows(project: Path, query: str, env: dict | None = None) -> list[str]:
    out = cli("sql", query, "--format", "csv", cwd=project, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[1:]


def balanced(node: dict) -> bool:
    return node["rows_in"] == node["rows_out"] + node["rows_quarantined"] + node["rows_skipped"]


def test_mac_line_ends_odd_bytes_and_huge_fields_are_read_or_quarantined_never_changed(tmp_path: Path) -> None:
    # old Excel "CSV (Macintosh)": CR-only line ends, and one ragged row
    (tmp_path / "mac.csv").write_bytes(b"id,name,score\r1,ann,10\r2,bob\r3,cy,30\r4,dee,40\r")
    # cp1252 with bytes cp1252 does not define (0x81, 0x9D) on lines 3 and 5
    (tmp_path / "win.csv").write_bytes(b"id,item\n1,caf\xe9\n2,bad\x81byte\n3,\x93tea\x94\n4,x\x9dy\n5,ok\n")
    # a 5 MB field is data
    (tmp_path / "wide.csv").write_text("id,blob\n1,a\n2," + "x" * 5_000_000 + "\n3,c\n")
    (tmp_path / "datamill.yaml").write_text(
        "name: messy\n"
        "sources:\n"
        "  mac: {type: csv, path: mac.csv, on_bad_rows: quarantine}\n"
        "  win: {type: csv, path: win.csv, encoding: cp1252, on_bad_rows: quarantine}\n"
        "  wide: {type: csv, path: wide.csv}\n"
    )
    run = cli("run", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    nodes = last_run(tmp_path)["nodes"]

    assert (nodes["mac"]["rows_in"], nodes["mac"]["rows_out"], nodes["mac"]["rows_quarantined"]) == (4, 3, 1)
    assert sql_rows(tmp_path, "select id, name, score from mac order by id") == ['1,"ann",10', '3,"cy",30', '4,"dee",40']
    assert sql_rows(tmp_path, "select line, raw from mac__quarantine") == ['3,"2,bob"']

    assert (nodes["win"]["rows_in"], nodes["win"]["rows_out"], nodes["win"]["rows_quarantined"]) == (5, 3, 2)
    assert sql_rows(tmp_path, "select id, item from win order by id") == ['1,"café"', '3,"“tea”"', '5,"ok"']
    kept = sql_rows(tmp_path, "select line, raw, reason from win__quarantine order by line")
    assert kept[0].startswith('3,"2,bad\\x81byte","byte 0x81 at column 6 is not valid cp1252')
    assert kept[1].startswith('5,"4,x\\x9dy","byte 0x9D at column 4 is not valid cp1252')
    assert all("set encoding:" in row for row in kept)

    assert (nodes["wide"]["rows_in"], nodes["wide"]["rows_out"], nodes["wide"]["rows_quarantined"]) == (3, 3, 0)
    assert sql_rows(tmp_path, "select id, length(blob) from wide order by id") == ["1,1", "2,5000000", "3,1"]
    assert all(balanced(n) for n in nodes.values())


def test_undecodable_bytes_under_fail_stop_with_the_encoding_option(tmp_path: Path) -> None:
    (tmp_path / "win.csv").write_bytes(b"id,item\n1,caf\xe9\n2,bad\x81byte\n")
    (tmp_path / "datamill.yaml").write_text("name: p\nsources:\n  win: {type: csv, path: win.csv, encoding: cp1252}\n")
    run = cli("run", cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    error = last_run(tmp_path)["nodes"]["win"]["error"]
    assert error.startswith("win.csv line 3: byte 0x81 at column 6 is not valid cp1252")
    assert "set encoding:" in error and "on_bad_rows: quarantine" in error
    assert cli("sql", "select * from win", cwd=tmp_path).returncode == 1  # nothing was written


def test_a_binary_file_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    noise = random.Random(7).randbytes(20_000)
    (tmp_path / "noise.csv").write_bytes(noise)
    (tmp_path / "book.csv").write_bytes(b"PK\x03\x04" + noise)  # an .xlsx saved under a .csv name
    (tmp_path / "datamill.yaml").write_text(
        "name: p\nsources:\n"
        "  noise: {type: csv, path: noise.csv, on_bad_rows: quarantine}\n"
        "  book: {type: csv, path: book.csv}\n"
    )
    run = cli("run", cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr
    nodes = last_run(tmp_path)["nodes"]
    assert nodes["noise"]["error"].startswith("noise.csv is not a CSV file: it is binary data (")
    assert nodes["book"]["error"].startswith("book.csv is not a CSV file: it is a ZIP archive (an .xlsx")
    assert "internal error" not in run.stdout
    assert cli("tables", cwd=tmp_path).stdout.count("noise") == 0  # no garbage table


def test_max_line_bytes_is_an_option(tmp_path: Path) -> None:
    (tmp_path / "wide.csv").write_text("id,blob\n1,a\n2," + "x" * 300_000 + "\n3,c\n")
    (tmp_path / "datamill.yaml").write_text(
        "name: p\nsources:\n  wide: {type: csv, path: wide.csv, max_line_bytes: 100KiB, on_bad_rows: quarantine}\n"
    )
    run = cli("run", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    node = last_run(tmp_path)["nodes"]["wide"]
    assert (node["rows_in"], node["rows_out"], node["rows_quarantined"]) == (3, 2, 1)
    [kept] = sql_rows(tmp_path, "select line, reason from wide__quarantine")
    assert kept == '3,"line is 300,002 bytes, over max_line_bytes (102,400)"'
    (tmp_path / "datamill.yaml").write_text("name: p\nsources:\n  wide: {type: csv, path: wide.csv, max_line_bytes: lots}\n")
    bad = cli("validate", cwd=tmp_path)
    assert bad.returncode == 1 and "max_line_bytes" in bad.stderr and "not a size" in bad.stderr


def test_integer_columns_keep_text_duckdb_would_turn_into_other_numbers(tmp_path: Path) -> None:
    # DuckDB casts 0x1F to 31, 0b101 to 5, 1_000 to 1000, 1e2 to 100 and 7.5 to 8: past the rows its
    # sniffer sampled, each is kept as written (the column widens); +7 and 007 are integers
    ints = "".join(f"{i},{i * 10}\n" for i in range(1, 30_001))
    cases = {"hexa": ("0x1F", '"0x1F"'), "bits": ("0b101", '"0b101"'), "grouped": ("1_000", '"1_000"'),
             "expo": ("1e2", "100"), "frac": ("7.5", "7.5"), "signs": ("+7", "7")}
    for name, (value, _) in cases.items():
        (tmp_path / f"{name}.csv").write_text(f"id,n\n{ints}30001,{value}\n30002,007\n")
    (tmp_path / "datamill.yaml").write_text(
        "name: p\nsources:\n" + "".join(f"  {name}: {{type: csv, path: {name}.csv}}\n" for name in cases)
    )
    run = cli("run", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    nodes = last_run(tmp_path)["nodes"]
    for name, (_, kept) in cases.items():
        assert sql_rows(tmp_path, f"select n from {name} where id = 30001") == [kept], name
        assert nodes[name]["rows_out"] == 30_002
    assert sql_rows(tmp_path, "select n from signs where id >= 30000 order by id") == ["300000", "7", "7"]
    assert "column n holds text" in " ".join(nodes["hexa"]["warnings"])
