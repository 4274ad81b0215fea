"""The micro-batch's quarantine key: the same each time a batch is read, unique, never null."""

from __future__ import annotations

from dataclasses import dataclass

from datamill.stream.batch import QUARANTINE_KEYS, keyed_quarantine


@dataclass
class _Message:
    t: str
    p: int
    o: int

    def topic(self) -> str:
        return self.t

    def partition(self) -> int:
        return self.p

    def offset(self) -> int:
        return self.o


def test_quarantine_rows_are_keyed_by_their_message_uniquely_and_without_nulls() -> None:
    messages = [_Message("orders", 1, 40), _Message("orders", 0, 12), _Message("orders", 0, 13)]
    rows = [
        {"origin": "orders/0", "line": 13, "column": None, "reason": "not JSON: x", "raw": "{"},
        {"origin": "orders/0", "line": 12, "reason": "check positive", "raw": '{"a": -2}'},  # one message,
        {"origin": "orders/0", "line": 12, "reason": "check positive", "raw": '{"a": -1}'},  # two rows
        {"origin": "clean", "line": None, "reason": "check small", "raw": '{"n": 9}'},  # from several messages
        {"origin": "clean", "line": None, "reason": "x" * 2000, "raw": None},
    ]
    table = keyed_quarantine(rows, "clean", messages)
    keys = list(zip(*(table.column(k).to_pylist() for k in QUARANTINE_KEYS), strict=True))
    assert len(set(keys)) == len(keys) == 5 and all(None not in key for key in keys)
    by_raw = {r["raw"]: (r["origin"], r["line"], r["reason"]) for r in table.to_pylist()}
    assert by_raw['{"a": -1}'] == ("orders/0", 12, "check positive")  # in the order of their raw text
    assert by_raw['{"a": -2}'] == ("orders/0", 12, "check positive (row 2)")
    assert by_raw['{"n": 9}'] == ("clean@orders/0", 12, "check small")  # the batch's first message
    assert len(by_raw[None][2]) == 500 and by_raw[None][2].endswith("…")
    # the same rows in another order key the same way: a batch read again replaces its rows
    again = keyed_quarantine(rows[::-1], "clean", messages[::-1])
    assert sorted(map(str, again.to_pylist())) == sorted(map(str, table.to_pylist()))
