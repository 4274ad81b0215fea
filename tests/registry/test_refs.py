"""Model references: NAME, NAME@ALIAS, NAME/VERSION and MLflow's models:/ forms."""

from __future__ import annotations

import pytest

from datamill.exceptions import ConfigError
from datamill.registry import ModelRef, parse_ref


@pytest.mark.parametrize(("text", "ref", "uri"), [
    ("churn", ModelRef("churn"), "models:/churn/latest"),
    ("churn@champion", ModelRef("churn", alias="champion"), "models:/churn@champion"),
    ("churn/3", ModelRef("churn", version=3), "models:/churn/3"),
    ("models:/churn/3", ModelRef("churn", version=3), "models:/churn/3"),
    ("models:/churn@champion", ModelRef("churn", alias="champion"), "models:/churn@champion"),
    ("churn/latest", ModelRef("churn"), "models:/churn/latest"),
])
def test_forms(text: str, ref: ModelRef, uri: str) -> None:
    assert parse_ref(text) == ref and ref.uri == uri
    assert parse_ref(str(ref)) == ref  # the CLI form reads back


@pytest.mark.parametrize("text", ["", "@champion", "churn@", "churn/x", "churn/0", "/3", "a@b/c"])
def test_malformed_references_show_the_forms(text: str) -> None:
    with pytest.raises(ConfigError, match=r"NAME, NAME@ALIAS or NAME/VERSION"):
        parse_ref(text)
