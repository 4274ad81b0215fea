"""The analytics tests' project: a small shop with a dashboard, ingested once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analytics.shop import copy_shop, make_shop


@pytest.fixture(scope="session")
def built_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_shop(tmp_path_factory.mktemp("shop") / "shop")


@pytest.fixture()
def shop(built_shop: Path, tmp_path: Path) -> Path:
    """A copy of the shop this test may change."""
    return copy_shop(built_shop, tmp_path / "shop")
