"""A real MLflow SQLite store per test session (started from the migrated template: no migrations to wait for)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

_names = itertools.count()


@pytest.fixture(scope="session")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datamill.ml import tracking

    root = tmp_path_factory.mktemp("registry")
    tracking._fresh_store(*tracking.project_tracking(root))
    return root


@pytest.fixture
def store(store_root: Path):
    from datamill.registry import ModelStore

    return ModelStore.for_project(store_root)


@pytest.fixture
def model_name() -> str:
    """A model name of its own for each test: the tests share one store."""
    return f"m{next(_names)}"


def register(store, name: str, count: int, tmp: Path) -> list:  # noqa: ANN001
    """``count`` versions of ``name`` whose source is an empty folder (no training: alias tests need none)."""
    out = []
    for i in range(count):
        folder = tmp / f"{name}-{i}"
        folder.mkdir(parents=True, exist_ok=True)
        out.append(store.register(name, folder.as_uri(), tags={"datamill.rows": str(100 + i)}))
    return out
