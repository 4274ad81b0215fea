"""The model store stand-in (until datamill.registry is merged): references resolve, misses say what exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from datamill.exceptions import ConfigError, ModelError
from datamill.pipeline._model_store import ModelStore, parse_reference
from tests.pipeline.scoring_project import make_project, train_and_register


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
    project = make_project(tmp_path_factory.mktemp("store"))
    train_and_register(project)
    return ModelStore.for_project(project)


def test_references_resolve_by_alias_version_or_latest(store: ModelStore) -> None:
    champion = store.resolve("churn@champion")
    assert (champion.name, champion.version, champion.alias, champion.model_uri) == ("churn", 1, "champion",
                                                                                       "models:/churn/1")
    assert champion.signature.inputs.input_names() == ["x0", "x1", "x2", "plan"]
    assert store.resolve("churn/2").version == 2 and store.resolve("churn").version == 2
    assert hasattr(store.load(champion), "predict_proba")


@pytest.mark.parametrize(("ref", "message"), [
    ("chrun", "no model 'chrun' in the model store at sqlite:///"),
    ("churn@champ", "model 'churn' has no alias 'champ' (did you mean 'champion'?); its aliases: @champion → v1 "
                    "(fix: point it at a version, e.g. `datamill models promote churn 2 --alias champ`)"),
    ("churn/9", "model 'churn' has no version 9; its versions: 1, 2"),
])
def test_a_miss_says_what_the_store_has(store: ModelStore, ref: str, message: str) -> None:
    with pytest.raises(ModelError) as err:
        store.resolve(ref)
    assert message in str(err.value)
    if ref == "chrun":
        assert "(did you mean 'churn'?); registered models: churn" in str(err.value)


def test_a_malformed_reference_is_a_config_error() -> None:
    assert parse_reference(" churn ") == ("churn", None, None)
    with pytest.raises(ConfigError, match="write NAME, NAME@ALIAS or NAME/VERSION"):
        parse_reference("churn@a@b")
