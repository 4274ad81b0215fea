"""The model store on a real MLflow SQLite store: versions, aliases, history, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from datamill.exceptions import ConfigError, ModelError
from datamill.registry import ModelStore
from tests.registry.conftest import register


def test_resolve_by_name_alias_and_version(store: ModelStore, model_name: str, tmp_path: Path) -> None:
    v1, v2, v3 = register(store, model_name, 3, tmp_path)
    assert (v1.version, v3.version) == (1, 3)
    latest = store.resolve(model_name)
    assert latest.version == 3 and latest.alias is None and latest.model_uri == f"models:/{model_name}/3"
    assert latest.tags["datamill.rows"] == "102"
    assert store.resolve(f"{model_name}/2").version == 2
    store.promote(model_name, 2, "champion", by="ana")
    champion = store.resolve(f"{model_name}@champion")
    assert (champion.version, champion.alias, champion.aliases) == (2, "champion", ("champion",))
    assert [v.version for v in store.versions(model_name)] == [3, 2, 1]
    assert store.versions(model_name)[1].aliases == ("champion",)  # searches lose aliases; the store puts them back
    assert store.latest(model_name).version == 3 and store.latest_tags(model_name)["datamill.rows"] == "102"
    assert store.latest("nobody") is None and store.latest_tags("nobody") is None
    summary = next(m for m in store.models() if m.name == model_name)
    assert (summary.latest, summary.versions, summary.aliases) == (3, 3, {"champion": 2})


def test_missing_model_alias_or_version_lists_what_exists(store: ModelStore, model_name: str, tmp_path: Path) -> None:
    register(store, model_name, 2, tmp_path)
    store.promote(model_name, 1, "champion")
    with pytest.raises(ModelError, match=rf"no model '{model_name}x'.*did you mean '{model_name}'.*models: .*{model_name}"):
        store.resolve(f"{model_name}x")
    with pytest.raises(ModelError, match=rf"no alias 'champ'; aliases: champion → 1 \(fix: datamill models promote"):
        store.resolve(f"{model_name}@champ")
    with pytest.raises(ModelError, match=r"has no version 7; versions: 1-2"):
        store.resolve(f"{model_name}/7")
    with pytest.raises(ModelError, match=r"has no version 9; versions: 1-2"):
        store.promote(model_name, 9, "champion")
    with pytest.raises(ConfigError, match=r"alias 'latest'"):
        store.promote(model_name, 1, "latest")


def test_promote_and_rollback_keep_their_history(store: ModelStore, model_name: str, tmp_path: Path) -> None:
    register(store, model_name, 3, tmp_path)
    store.promote(model_name, 1, "champion", by="ana", reason="first")
    store.promote(model_name, 3, "champion", by="datamill train", reason="better auc")
    store.promote(model_name, 2, "challenger", by="ben")
    back = store.rollback(model_name, "champion", by="monitor", reason="drift")
    assert (back.from_version, back.to_version, back.action) == (3, 1, "rollback")
    assert store.resolve(f"{model_name}@champion").version == 1
    history = store.history(model_name, "champion")
    assert [(e.from_version, e.to_version, e.by, e.reason, e.action) for e in history] == [
        (None, 1, "ana", "first", "promote"), (1, 3, "datamill train", "better auc", "promote"),
        (3, 1, "monitor", "drift", "rollback"),
    ]
    assert history[0].at <= history[1].at <= history[2].at
    assert [e.alias for e in store.history(model_name)] == ["champion", "champion", "challenger", "champion"]
    with pytest.raises(ModelError, match=r"no earlier version to roll back to"):
        store.rollback(model_name, "champion")  # champion began at version 1
    with pytest.raises(ModelError, match=r"no alias 'staging' to roll back; aliases: challenger → 2, champion → 1"):
        store.rollback(model_name, "staging")


def test_the_person_comes_from_the_environment(store: ModelStore, model_name: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    register(store, model_name, 1, tmp_path)
    monkeypatch.setenv("DATAMILL_USER", "carla")
    assert store.promote(model_name, 1).by == "carla"
    assert store.history(model_name)[-1].by == "carla"


def test_reading_a_project_without_a_store_creates_nothing(tmp_path: Path) -> None:
    store = ModelStore.for_project(tmp_path)
    assert store.models() == [] and store.latest("churn") is None
    with pytest.raises(ModelError, match=r"no model 'churn' in the model store .*no model is registered yet "
                                         r"\(fix: `datamill train NAME`"):
        store.resolve("churn@champion")
    assert not (tmp_path / ".datamill" / "mlflow.db").exists()


def test_the_sqlite_store_runs_in_wal_mode(store: ModelStore, store_root: Path) -> None:
    store.models()
    con = sqlite3.connect(store_root / ".datamill" / "mlflow.db")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_a_write_is_retried_while_the_database_is_locked() -> None:
    waits: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    store = ModelStore("sqlite:////nowhere.db", retry_seconds=1.0, sleep=sleep, clock=lambda: now[0])
    calls = iter([RuntimeError("(sqlite3.OperationalError) database is locked")] * 3 + ["done"])

    def flaky() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert store._retry(flaky) == "done" and waits == [0.05, 0.1, 0.2]
    always = RuntimeError("database is locked")

    def locked() -> None:
        raise always

    with pytest.raises(RuntimeError):
        store._retry(locked)  # gives up once retry_seconds have passed
    assert now[0] <= 1.0 + 2.0
    with pytest.raises(ValueError):  # any other error is not retried
        store._retry(lambda: (_ for _ in ()).throw(ValueError("bad")))


def test_a_lost_insert_race_is_retried_a_few_times_then_reported() -> None:
    # two writers both found no alias row and both inserted one: the loser's transaction rolled back
    waits: list[float] = []
    store = ModelStore("sqlite:////nowhere.db", retry_seconds=60.0, sleep=waits.append, clock=lambda: 0.0)
    raced = iter([True, True])

    def move() -> str:
        if next(raced, False):
            raise RuntimeError("(sqlite3.IntegrityError) UNIQUE constraint failed: registered_model_aliases.name")
        return "moved"

    assert store._retry(move) == "moved" and len(waits) == 2

    def always() -> None:
        raise RuntimeError("UNIQUE constraint failed: registered_models.name")

    with pytest.raises(RuntimeError, match="UNIQUE"):
        store._retry(always)  # a real duplicate is not retried for ever


def test_public_names() -> None:
    import datamill.registry

    assert sorted(datamill.registry.__all__) == sorted([
        "AliasEvent", "FINGERPRINT_TAG", "ModelRef", "ModelStore", "ModelSummary", "ModelVersion", "parse_ref",
        "train_and_register"])
