"""Alias history kept as registered-model tags; where a rollback goes."""

from __future__ import annotations

from datetime import UTC, datetime

from datamill.registry import AliasEvent
from datamill.registry._history import events_from_tags, rollback_target


def _event(frm: int | None, to: int, action: str = "promote", alias: str = "champion") -> AliasEvent:
    return AliasEvent("churn", alias, frm, to, "ana", datetime(2026, 1, 1, tzinfo=UTC), "why", action)


def test_events_round_trip_through_tags_in_time_order() -> None:
    events = [_event(None, 1), _event(1, 2), _event(2, 1, "rollback"), _event(None, 4, alias="challenger")]
    tags = dict(e.to_tag() for e in events)  # same timestamp: keys still sort in the order written
    tags["datamill.alias_history.bogus"] = "not json"  # edited by hand: skipped, not fatal
    tags["other"] = "x"
    assert events_from_tags("churn", tags) == events
    assert events_from_tags("churn", tags, "challenger") == events[3:]


def test_rollback_goes_back_one_step_at_a_time() -> None:
    history = [_event(None, 1), _event(1, 2), _event(2, 3)]
    assert rollback_target(history, 3, {1, 2, 3}) == 2
    history.append(_event(3, 2, "rollback"))
    assert rollback_target(history, 2, {1, 2, 3}) == 1  # further back, never forth to 3 again
    history.append(_event(2, 1, "rollback"))
    assert rollback_target(history, 1, {1, 2, 3}) is None  # champion began at 1


def test_rollback_skips_versions_deleted_since() -> None:
    history = [_event(None, 1), _event(1, 2), _event(2, 3)]
    assert rollback_target(history, 3, {1, 3}) == 1
