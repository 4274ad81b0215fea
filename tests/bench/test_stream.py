"""bench.stream's messages and its exactly-once check (the run itself needs a broker: see bench/README.md)."""

from __future__ import annotations

import json

from bench.stream import BARE, DATAMILL, check, expected, message


def test_messages_are_about_200_bytes_and_unique_by_id() -> None:
    sizes = [len(json.dumps(message(i), separators=(",", ":"))) for i in range(10_000)]
    assert 190 <= sum(sizes) / len(sizes) <= 210
    assert len({message(i)["id"] for i in range(1000)}) == 1000


def test_the_expected_sum_is_that_of_the_transform() -> None:
    want = expected(1000)
    assert want["amount_cents"] == sum(round(message(i)["amount"] * 100) for i in range(1000))


def test_a_lost_duplicated_or_changed_message_fails_the_check() -> None:
    want = expected(100)
    good = {"extra": {"messages": 100, "rows": 100, "distinct": 100, "amount_cents": want["amount_cents"]}}
    assert check(DATAMILL, good, want) == (True, "✓ 100 rows, each id once, sum(amount_cents) as made")
    lost = {"extra": {**good["extra"], "rows": 99, "distinct": 99}}
    assert check(DATAMILL, lost, want) == (False, "✗ 99 rows vs 100; 99 distinct ids vs 100")
    changed = {"extra": {**good["extra"], "amount_cents": 1}}
    assert check(DATAMILL, changed, want)[1].startswith("✗ sum(amount_cents) 1 vs ")
    twice = {"extra": {"messages": 100, "distinct": 99}}
    assert check(BARE, twice, want) == (False, "✗ 99 distinct ids vs 100")
