"""File helpers: content fingerprints that a ``touch`` does not change."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from datamill.sources._files import FileDigests, files_fingerprint


def aged(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def test_a_touch_keeps_the_fingerprint_and_a_changed_byte_changes_it(tmp_path: Path) -> None:
    data = tmp_path / "a.csv"
    data.write_text("id\n1\n")
    before = files_fingerprint([data])
    os.utime(data, (time.time() + 60, time.time() + 60))
    assert files_fingerprint([data]) == before
    data.write_text("id\n2\n")  # same size
    assert files_fingerprint([data]) != before


def test_digests_are_kept_between_runs_and_trusted_while_size_and_time_hold(tmp_path: Path) -> None:
    data, kept = tmp_path / "a.csv", tmp_path / "state" / "digests.json"
    data.write_text("id\n1\n")
    aged(data, 60)
    first = FileDigests(kept)
    digest = first.digest(data)
    first.save()
    entry = json.loads(kept.read_text())[str(data.resolve())]
    assert entry[2] == digest
    # a later run trusts the kept digest while size and time hold (no read of the file)
    json.dump({str(data.resolve()): [entry[0], entry[1], "kept"]}, kept.open("w"))
    assert FileDigests(kept).digest(data) == "kept"
    aged(data, 30)  # the time moved: hashed again
    assert FileDigests(kept).digest(data) == digest


def test_a_file_written_just_now_is_not_kept(tmp_path: Path) -> None:
    # a second write in the same clock tick could keep size and time: such digests are not trusted later
    data, kept = tmp_path / "a.csv", tmp_path / "digests.json"
    data.write_text("id\n1\n")
    digests = FileDigests(kept)
    digests.digest(data)
    digests.save()
    assert not kept.exists()


def test_the_digest_names_its_hash_and_follows_the_bytes(tmp_path: Path) -> None:
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_bytes(b"id\n1\n" * 100_000)
    two.write_bytes(b"id\n1\n" * 100_000)
    digests = FileDigests()
    digest = digests.digest(one)
    assert digest.startswith("xxh3_128/64MiB:") and len(digest) == len("xxh3_128/64MiB:") + 32
    assert digests.digest(two) == digest  # same bytes, same digest, whatever the name
    with two.open("r+b") as fh:  # one byte in the middle, same size
        fh.seek(300_001)
        fh.write(b"2")
    assert digests.digest(two) != digest


def test_a_big_file_hashes_the_same_whatever_its_segments_and_threads(tmp_path: Path, monkeypatch) -> None:
    import datamill.sources._files as files

    data = tmp_path / "big.csv"
    data.write_bytes(bytes(range(256)) * 40_000)  # 10,240,000 bytes
    monkeypatch.setattr(files, "_SEGMENT", 1 << 20)  # 10 segments, hashed on every core
    many = files.content_hash(data, data.stat().st_size)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert files.content_hash(data, data.stat().st_size) == many
    with data.open("r+b") as fh:  # one byte in the last segment
        fh.seek(10_000_000)
        fh.write(b"\xff")
    assert files.content_hash(data, data.stat().st_size) != many
