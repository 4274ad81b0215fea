"""CsvSource on real files, one test per kind of bad input."""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

import pydantic
import pytest

from datamill.exceptions import BadRowsError, SourceError
from datamill.sources import SOURCES
from datamill.sources.base import ReadContext
from datamill.sources.csv import CsvSource
from tests.sources.conftest import drain


def source(folder: Path, **options) -> CsvSource:
    options.setdefault("path", "data.csv")
    return CsvSource("data", CsvSource.Options(**options), project_dir=folder)


def write(folder: Path, text: str | bytes, name: str = "data.csv") -> Path:
    p = folder / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


RAGGED = "id,name,score\n1,ann,10\n2,bob\n3,cy,30\n4,dee,40,extra\n5,eve,50\n"


def test_registry_names_the_class() -> None:
    assert SOURCES.load("csv") is CsvSource


def test_semicolon_delimiter_header_and_types_are_sniffed(tmp_path: Path) -> None:
    write(tmp_path, "id;name;price;day\n1;ann;1.5;2024-01-02\n2;bob;2.25;2024-02-03\n")
    t = drain(source(tmp_path), ReadContext("data"))
    assert t.column_names == ["id", "name", "price", "day"]
    assert str(t.schema.field("id").type) == "int64"
    assert str(t.schema.field("day").type) == "date32[day]"
    assert t.column("name").to_pylist() == ["ann", "bob"]
    assert t.column("price").to_pylist() == [1.5, 2.25]


def test_missing_file_names_path_and_similar_files(tmp_path: Path) -> None:
    write(tmp_path, "a\n1\n", "customers.csv")
    with pytest.raises(SourceError) as err:
        source(tmp_path, path="customer.csv").read(ReadContext("data"))
    assert str(tmp_path / "customer.csv") in str(err.value)
    assert "customers.csv" in str(err.value)


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, b"")
    with pytest.raises(SourceError, match="data.csv is empty"):
        source(tmp_path).read(ReadContext("data"))


def test_header_only_gives_empty_table_with_columns(tmp_path: Path) -> None:
    write(tmp_path, "id,name\n")
    ctx = ReadContext("data")
    t = drain(source(tmp_path), ctx)
    assert t.num_rows == 0 and t.column_names == ["id", "name"]
    assert ctx.warnings == ["data.csv has a header but no rows: read as an empty table"]


def test_ragged_rows_fail_mode_names_the_line(tmp_path: Path) -> None:
    write(tmp_path, RAGGED)
    with pytest.raises(BadRowsError) as err:
        drain(source(tmp_path), ReadContext("data", on_bad_rows="fail"))
    assert str(err.value).startswith("data.csv line 3: 2 fields, expected 3 (")
    assert "on_bad_rows: quarantine" in str(err.value)


def test_ragged_rows_quarantined_with_raw_line_and_reason(tmp_path: Path) -> None:
    write(tmp_path, RAGGED)
    ctx = ReadContext("data", on_bad_rows="quarantine")
    t = drain(source(tmp_path), ctx)
    assert t.column("id").to_pylist() == [1, 3, 5]
    q = ctx.quarantine_table().to_pylist()
    assert [(r["line"], r["raw"], r["reason"]) for r in q] == [
        (3, "2,bob", "2 fields, expected 3"),
        (5, "4,dee,40,extra", "4 fields, expected 3"),
    ]
    rows_in = len(list(csv.reader(io.StringIO(RAGGED)))) - 1
    assert rows_in == t.num_rows + ctx.quarantined


def test_skip_mode_counts(tmp_path: Path) -> None:
    write(tmp_path, RAGGED)
    ctx = ReadContext("data", on_bad_rows="skip")
    assert drain(source(tmp_path), ctx).num_rows == 3
    assert ctx.skipped == 2 and ctx.bad_rows == []


def test_latin1_file_is_read_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "name,city\nJosé,Zürich\nAnaïs,Besançon\n".encode("latin-1"))
    ctx = ReadContext("data")
    t = drain(source(tmp_path), ctx)
    assert t.column("city").to_pylist() == ["Zürich", "Besançon"]
    assert "not valid UTF-8" in ctx.warnings[0] and "latin-1" in ctx.warnings[0]


def test_cp1252_file_keeps_euro_sign(tmp_path: Path) -> None:
    write(tmp_path, "item,price\n“tea”,3 €\n".encode("cp1252"))
    t = drain(source(tmp_path), ReadContext("data"))
    assert t.to_pylist() == [{"item": "“tea”", "price": "3 €"}]


def test_given_encoding_is_used(tmp_path: Path) -> None:
    write(tmp_path, "a,b\nü,1\n".encode("utf-16"))
    t = drain(source(tmp_path, encoding="UTF-16"), ReadContext("data"))
    assert t.to_pylist() == [{"a": "ü", "b": 1}]


def test_utf8_bom_is_not_part_of_first_column(tmp_path: Path) -> None:
    write(tmp_path, "id,name\n1,ann\n".encode("utf-8-sig"))
    t = drain(source(tmp_path), ReadContext("data"))
    assert t.column_names == ["id", "name"] and t.column("id").to_pylist() == [1]


def test_utf16_bom_is_sniffed(tmp_path: Path) -> None:
    write(tmp_path, "id,name\n1,Zoë\n".encode("utf-16"))
    assert drain(source(tmp_path), ReadContext("data")).to_pylist() == [{"id": 1, "name": "Zoë"}]


def test_quoted_newlines_and_physical_line_numbers(tmp_path: Path) -> None:
    write(tmp_path, 'id,note\n1,"two\nlines"\n2,plain\n3\n4,"a ""quote"""\n')
    ctx = ReadContext("data", on_bad_rows="quarantine")
    t = drain(source(tmp_path), ctx)
    assert t.column("note").to_pylist() == ["two\nlines", "plain", 'a "quote"']
    assert [(b.line, b.raw) for b in ctx.bad_rows] == [(5, "3")]


def test_unterminated_quote_is_a_bad_row(tmp_path: Path) -> None:
    write(tmp_path, 'id,note\n1,ok\n2,"oops\n')
    ctx = ReadContext("data", on_bad_rows="quarantine")
    t = drain(source(tmp_path), ctx)
    assert t.to_pylist() == [{"id": 1, "note": "ok"}]
    assert [(b.line, b.reason) for b in ctx.bad_rows] == [(3, "unterminated or misplaced quote")]


def test_duplicate_column_names_are_renamed(tmp_path: Path) -> None:
    write(tmp_path, "a,a,b,a\n1,2,3,4\n")
    ctx = ReadContext("data")
    t = drain(source(tmp_path), ctx)
    assert t.column_names == ["a", "a_2", "b", "a_3"]
    assert t.to_pylist() == [{"a": 1, "a_2": 2, "b": 3, "a_3": 4}]
    assert ctx.warnings == ["data.csv: repeated column names renamed: 'a' → 'a_2', 'a' → 'a_3'"]


def test_column_turning_to_text_after_30000_rows_is_reread_as_text(tmp_path: Path) -> None:
    rows = [f"{i},{i * 2}" for i in range(40_000)]
    rows[30_000] = "30000,n/a"
    write(tmp_path, "id,code\n" + "\n".join(rows) + "\n")
    src = source(tmp_path)
    ctx = ReadContext("data", on_bad_rows="fail")
    t = drain(src, ctx)
    assert t.num_rows == 40_000 and ctx.bad_rows == []
    assert str(t.schema.field("code").type) == "string"
    assert str(t.schema.field("id").type) == "int64"
    assert t.column("code")[30_000].as_py() == "n/a" and t.column("code")[29_999].as_py() == "59998"
    # integer columns are parsed strictly (DuckDB would round 4.5 into an int), so the line is not known
    assert ctx.warnings == ["column code holds text past the rows DuckDB sampled; read as text"]


def test_line_of_100_mb_is_a_bad_row_with_bounded_raw(tmp_path: Path) -> None:
    p = tmp_path / "data.csv"
    with open(p, "w") as f:
        f.write("id,blob\n1,a\n2,")
        chunk = "x" * (1 << 20)
        for _ in range(100):
            f.write(chunk)
        f.write("\n3,c\n")
    ctx = ReadContext("data", on_bad_rows="quarantine")
    t = drain(source(tmp_path), ctx)
    assert t.to_pylist() == [{"id": 1, "blob": "a"}, {"id": 3, "blob": "c"}]
    [bad] = ctx.bad_rows
    assert bad.line == 3 and "104,857,602 bytes, over max_line_bytes" in bad.reason
    assert bad.raw.startswith("2,xxx") and len(bad.raw) < 20_000
    with pytest.raises(BadRowsError, match="data.csv line 3: line is 104,857,602 bytes"):
        drain(source(tmp_path), ReadContext("data"))


def _long_lines_file(folder: Path, long: int, lines: int = 2) -> Path:
    """30,000 short rows (so DuckDB sniffs), ``lines`` lines of ``long`` bytes, a last short row."""
    p = folder / "data.csv"
    with open(p, "w") as f:
        f.write("id,blob\n" + "".join(f"{i},a\n" for i in range(30_000)))
        for i in range(lines):
            f.write(f"{-1 - i},")
            f.write("x" * long)
            f.write("\n")
        f.write("30000,z\n")
    return p


def test_lines_longer_than_the_read_buffer_are_each_a_bad_row(tmp_path: Path) -> None:
    # DuckDB reports the first line longer than two of its read buffers and drops the next ones silently
    _long_lines_file(tmp_path, 40 << 20)
    for read in ("read", "read_to_parquet"):
        ctx = ReadContext("data", on_bad_rows="quarantine")
        if read == "read":
            t = drain(source(tmp_path), ctx)
        else:
            import pyarrow.parquet as pq

            out = tmp_path / "out"
            out.mkdir()
            t = pq.read_table(source(tmp_path).read_to_parquet(ctx, out))
        assert t.num_rows == 30_001 and t.column("id")[-1].as_py() == 30_000
        assert [b.line for b in ctx.bad_rows] == [30_002, 30_003]
        assert [b.reason for b in ctx.bad_rows] == ["line is 41,943,043 bytes, over max_line_bytes (16,777,216)"] * 2
        assert all(b.raw.startswith(("-1,xxx", "-2,xxx")) and len(b.raw) < 20_000 for b in ctx.bad_rows)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: DuckDB reads with one thread")
def test_a_big_file_is_read_in_parallel_in_bounded_buffers(tmp_path: Path) -> None:
    # a 64 MiB line limit once made DuckDB read 1 GiB at a time: a smaller file was one buffer, one thread
    with open(tmp_path / "data.csv", "w") as f:
        f.write("id,text\n")
        row = "y" * 90
        for start in range(0, 400_000, 50_000):
            f.write("".join(f"{i},{row}\n" for i in range(start, start + 50_000)))
    out = tmp_path / "out"
    out.mkdir()
    ctx = ReadContext("data")
    files = source(tmp_path).read_to_parquet(ctx, out)
    import pyarrow.parquet as pq

    assert sum(pq.read_metadata(f).num_rows for f in files) == 400_000
    assert len(files) >= 2  # DuckDB writes one file per thread that read part of the file


def test_types_and_null_values_overrides(tmp_path: Path) -> None:
    write(tmp_path, "id,zip,flag\n1,01234,NA\n2,98765,red\n")
    t = drain(source(tmp_path, types={"zip": "string"}, null_values=["NA"]), ReadContext("data"))
    assert t.column("zip").to_pylist() == ["01234", "98765"]
    assert t.column("flag").to_pylist() == [None, "red"]


def test_unknown_type_name_is_a_config_error() -> None:
    with pytest.raises(pydantic.ValidationError, match="did you mean 'integer'"):
        CsvSource.Options(path="x.csv", types={"a": "intger"})


def test_glob_reads_all_files_and_fingerprint_follows_changes(tmp_path: Path) -> None:
    write(tmp_path, "id,v\n1,a\n", "part1.csv")
    p2 = write(tmp_path, "id,v\n2,b\n", "part2.csv")
    src = source(tmp_path, path="part*.csv")
    t = drain(src, ReadContext("data"))
    assert sorted(t.column("id").to_pylist()) == [1, 2]
    before = src.fingerprint()
    assert before == source(tmp_path, path="part*.csv").fingerprint()
    p2.write_text("id,v\n2,b\n3,c\n")
    os.utime(p2, (time.time() + 5, time.time() + 5))
    assert src.fingerprint() != before


def test_large_file_streams_in_several_batches(tmp_path: Path) -> None:
    write(tmp_path, "id,v\n" + "".join(f"{i},{i % 7}\n" for i in range(300_000)))
    reader = source(tmp_path).read(ReadContext("data"))
    sizes = [b.num_rows for b in reader]
    assert len(sizes) > 1 and sum(sizes) == 300_000


def test_integer_column_with_late_fractions_and_huge_values_is_widened_not_rounded(tmp_path: Path) -> None:
    rows = ["a,b,big"] + [f"{i},{i},{i}" for i in range(40_000)]
    rows += [f"{40_000 + i}.5,{i},{9_223_372_036_854_775_807 + i * 1000}" for i in range(1, 11)]
    (tmp_path / "f.csv").write_text("\n".join(rows) + "\n")
    src = CsvSource("f", CsvSource.Options(path="f.csv"), project_dir=tmp_path)
    ctx = ReadContext("f")
    t = drain(src, ctx)
    assert str(t.schema.field("a").type) == "double" and max(t.column("a").to_pylist()) == 40_010.5
    assert str(t.schema.field("b").type) == "int64"
    assert str(t.schema.field("big").type) == "decimal128(38, 0)"
    assert max(t.column("big").to_pylist()) == 9_223_372_036_854_785_807  # exact, not a rounded double
    assert any("column a holds fractional numbers" in w for w in ctx.warnings)
    assert any("column big holds integers beyond 64 bits" in w for w in ctx.warnings)


def test_cr_only_line_ends_are_read_with_their_line_numbers(tmp_path: Path) -> None:
    write(tmp_path, b'id,note\r1,"two\rlines"\r2,plain\r3\r4,last\r')
    ctx = ReadContext("data", on_bad_rows="quarantine")
    t = drain(source(tmp_path), ctx)
    assert t.to_pylist() == [{"id": 1, "note": "two\rlines"}, {"id": 2, "note": "plain"}, {"id": 4, "note": "last"}]
    assert [(b.line, b.raw) for b in ctx.bad_rows] == [(5, "3")]


def test_big_cp1252_file_drops_only_undecodable_lines_and_keeps_line_numbers(tmp_path: Path, monkeypatch) -> None:
    from datamill.sources import _csv_scan

    monkeypatch.setattr(_csv_scan, "_CHUNK", 1 << 18)  # ~1.8 MB of rows: several chunks, lines across their ends
    rows = [f"{i},caf\xe9 {i}".encode("cp1252") for i in range(1, 100_001)]
    rows[49_999] = b"50000,bad\x81"  # line 50,001
    rows[50_001] = b"50002,ok\x9d,\x81"  # line 50,003: two bad bytes, one report
    rows[80_000] = b"80001,ragged,row"  # line 80,002: DuckDB's own bad row, after the dropped lines
    write(tmp_path, b"id,name\n" + b"\n".join(rows) + b"\n")
    ctx = ReadContext("data", on_bad_rows="quarantine")
    t = drain(source(tmp_path, encoding="cp1252"), ctx)
    assert t.num_rows == 100_000 - 3 and t.column("name")[0].as_py() == "café 1"
    assert [(b.line, b.raw) for b in ctx.bad_rows] == [
        (50_001, "50000,bad\\x81"), (50_003, "50002,ok\\x9d,\\x81"), (80_002, "80001,ragged,row"),
    ]
    assert t.column("id").to_pylist() == [i for i in range(1, 100_001) if i not in (50_000, 50_002, 80_001)]
    assert "not valid cp1252" in ctx.bad_rows[0].reason and "set encoding:" in ctx.bad_rows[0].reason


def test_undecodable_header_is_an_error_naming_the_encoding(tmp_path: Path) -> None:
    write(tmp_path, b"id,na\x81me\n1,a\n")
    with pytest.raises(SourceError, match=r"line 1 \(the header\): byte 0x81 at column 6 is not valid cp1252 \(set encoding:"):
        drain(source(tmp_path, encoding="cp1252"), ReadContext("data", on_bad_rows="quarantine"))


def test_utf8_file_with_a_stray_byte_keeps_its_accents(tmp_path: Path) -> None:
    lines = ["id,name"] + [f"{i},Zoë {i}" for i in range(1, 50)]
    data = "\n".join(lines).encode().replace("Zoë 7".encode(), b"Zo\xeb 7") + b"\n"
    write(tmp_path, data)
    ctx = ReadContext("data", on_bad_rows="quarantine")
    t = drain(source(tmp_path), ctx)
    assert t.num_rows == 48 and t.column("name")[0].as_py() == "Zoë 1"  # not 'ZoÃ«': read as UTF-8
    assert [(b.line, b.raw) for b in ctx.bad_rows] == [(8, "7,Zo\\xeb 7")]
    assert "is UTF-8 with 1 byte(s) that are not" in ctx.warnings[0]


@pytest.mark.parametrize(
    ("head", "says"),
    [
        (b"PK\x03\x04", "a ZIP archive (an .xlsx or .ods workbook?)"),
        (b"%PDF-1.7\n", "a PDF document"),
        (b"PAR1", "a Parquet file: use type: parquet"),
        (b"\x1f\x8b\x08", "gzip-compressed: name it .csv.gz"),
        (b"", "binary data ("),
    ],
)
def test_binary_files_are_refused_by_name(tmp_path: Path, head: bytes, says: str) -> None:
    import random

    write(tmp_path, head + random.Random(1).randbytes(4096))
    with pytest.raises(SourceError) as err:
        source(tmp_path).read(ReadContext("data"))
    assert str(err.value).startswith(f"data.csv is not a CSV file: it is {says}")


def test_gzipped_csv_is_read(tmp_path: Path) -> None:
    import gzip

    write(tmp_path, gzip.compress(b"id,name\n1,ann\n2,bob\n"), "data.csv.gz")
    t = drain(source(tmp_path, path="data.csv.gz"), ReadContext("data"))
    assert t.to_pylist() == [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]


def test_a_five_megabyte_field_is_data_by_default(tmp_path: Path) -> None:
    write(tmp_path, "id,blob,n\n1,a,1\n2," + "x" * 5_000_000 + ",2\n3,c,3\n")
    ctx = ReadContext("data")
    t = drain(source(tmp_path), ctx)
    assert t.column("n").to_pylist() == [1, 2, 3] and len(t.column("blob")[1].as_py()) == 5_000_000


def test_a_field_over_128_kib_in_the_sniffed_sample(tmp_path: Path) -> None:
    write(tmp_path, "id,blob\n1," + "y" * 300_000 + "\n2,b\n")
    t = drain(source(tmp_path), ReadContext("data"))
    assert t.column("id").to_pylist() == [1, 2]


@pytest.mark.parametrize(("given", "expected"), [("64MiB", 64 << 20), ("5 MB", 5_000_000), (4096, 4096)])
def test_max_line_bytes_takes_sizes(given, expected) -> None:
    assert CsvSource.Options(path="x.csv", max_line_bytes=given).max_line_bytes == expected


@pytest.mark.parametrize(("given", "says"), [("lots", "not a size"), (10, "between 1 KiB and 1 GiB"), ("2GiB", "between")])
def test_max_line_bytes_is_validated(given, says) -> None:
    with pytest.raises(pydantic.ValidationError, match=says):
        CsvSource.Options(path="x.csv", max_line_bytes=given)


def test_what_duckdb_detects_carries_into_the_read(tmp_path: Path) -> None:
    # one DuckDB sniff: its day-first date format, CRLF line ends and comment lines are what the read uses
    body = "".join(f"{i};{i % 28 + 1:02d}/{i % 12 + 1:02d}/2024;x{i}\r\n" for i in range(3000))
    write(tmp_path, "id;day;name\r\n" + body + "3000;31/12/2024;last\r\n")
    for read in ("read", "read_to_parquet"):
        ctx = ReadContext("data", on_bad_rows="quarantine")
        if read == "read":
            t = drain(source(tmp_path), ctx)
        else:
            import pyarrow.parquet as pq

            out = tmp_path / "out"
            out.mkdir(exist_ok=True)
            for old in out.iterdir():
                old.unlink()
            t = pq.read_table(source(tmp_path).read_to_parquet(ctx, out)).sort_by("id")
        assert t.num_rows == 3001 and ctx.bad_rows == []
        assert str(t.schema.field("day").type) == "date32[day]" and str(t.schema.field("id").type) == "int64"
        assert str(t.column("day")[-1].as_py()) == "2024-12-31" and t.column("name")[-1].as_py() == "last"


def test_sniffed_types_take_each_value_whole() -> None:
    from datamill.sources._csv_sniff import value_type

    assert value_type(["1", "2\n3"]) == "VARCHAR"  # a quoted newline is inside one value
    assert value_type(["1", "2\x003"]) == "VARCHAR"
    assert value_type(["1", "", " 3 "]) == "BIGINT" and value_type(["1", "2.5e3", "nan"]) == "DOUBLE"
    assert value_type(["2024-01-02 09:00", "2024-01-03T10:00:01.5"]) == "TIMESTAMP"
    assert value_type(["True", "FALSE"]) == "BOOLEAN"
