"""A missing optional dependency names the extra that installs it."""

from __future__ import annotations

import sys

import pytest

from datamill._deps import require
from datamill.exceptions import DependencyError


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import now fails as if not installed
    with pytest.raises(DependencyError) as err:
        require("pyspark", purpose="the spark engine")
    assert "pip install 'datamill[spark]'" in str(err.value)
    assert "for the spark engine" in str(err.value)


def test_unknown_module_suggests_pip() -> None:
    with pytest.raises(DependencyError, match="pip install no_such_module_here"):
        require("no_such_module_here")
