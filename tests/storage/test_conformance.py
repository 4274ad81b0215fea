"""The storage conformance suite (:mod:`datamill.testing.storage`) on every storage of datamill's own."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from datamill.storage import Storage
from datamill.testing.storage import storage_checks
from tests.storage.conftest import CANNOT


@pytest.mark.parametrize("check", storage_checks())
def test_conformance(store: Storage, check: Callable[[Storage], None], request: pytest.FixtureRequest) -> None:
    reason = CANNOT.get(request.node.callspec.params["store"], {}).get(check.__name__.removeprefix("check_"))
    if reason:
        pytest.skip(reason)
    check(store)
