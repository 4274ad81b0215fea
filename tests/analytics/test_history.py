"""Versions of dashboards and saved queries: numbered, never rewritten, safe with concurrent savers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from datamill.analytics.history import diff, get, history_dir, latest, record, versions
from datamill.exceptions import ConfigError


def test_versions_are_numbered_and_read_back(tmp_path: Path) -> None:
    ticks = iter([1_700_000_000.0, 1_700_000_060.0])
    first = record(tmp_path, "dashboard", "b", {"title": "A"}, author="ana", clock=lambda: next(ticks))
    second = record(tmp_path, "dashboard", "b", {"title": "B"}, note="renamed", clock=lambda: next(ticks))
    assert (first.number, second.number) == (1, 2)
    assert [v.saved_at for v in versions(tmp_path, "dashboard", "b")] == ["2023-11-14T22:13:20+00:00",
                                                                          "2023-11-14T22:14:20+00:00"]
    assert get(tmp_path, "dashboard", "b", 1) == first and latest(tmp_path, "dashboard", "b") == second
    assert diff(first, second).splitlines()[2:] == ["@@ -1 +1 @@", "-title: A", "+title: B"]
    assert versions(tmp_path, "query", "b") == [] and latest(tmp_path, "query", "b") is None
    assert history_dir(tmp_path, "query", "q") == tmp_path / ".datamill" / "history" / "queries" / "q"
    assert (tmp_path / ".datamill" / "history" / "dashboards" / "b" / "2.json").is_file()


def test_unknown_versions_and_kinds_are_clear_errors(tmp_path: Path) -> None:
    record(tmp_path, "query", "q", {"sql": "select 1"})
    with pytest.raises(ConfigError, match="query 'q' has no version 4; versions: 1"):
        get(tmp_path, "query", "q", 4)
    with pytest.raises(ConfigError, match="no history of kind 'dashbord' \\(did you mean 'dashboard'\\?\\)"):
        versions(tmp_path, "dashbord", "q")


def test_concurrent_savers_get_distinct_numbers(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)

    def save(i: int) -> None:
        barrier.wait()
        record(tmp_path, "query", "q", {"sql": f"select {i}"})

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    saved = versions(tmp_path, "query", "q")
    assert [v.number for v in saved] == list(range(1, 9))
    assert sorted(v.spec["sql"] for v in saved) == sorted(f"select {i}" for i in range(8))  # none lost or torn
    assert not list(history_dir(tmp_path, "query", "q").glob("*.tmp"))
