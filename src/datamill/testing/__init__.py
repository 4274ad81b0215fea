"""Conformance suites a backend runs to show it keeps datamill's promises.

One suite per plug-in interface, used by datamill's own backends and open to
third-party ones (see each function's module for pytest-friendly variants):

- :func:`check_source` (:mod:`datamill.testing.sources`): Arrow batches with a
  stable schema, bad rows counted and kept, a fingerprint that follows the content.
- :func:`check_engine` (:mod:`datamill.testing.engine`): every query case gives
  its exact Arrow result.
- :func:`check_storage` (:mod:`datamill.testing.storage`): round trips, atomic
  writes, history and errors.

Importing this package loads neither pytest nor any engine or storage backend.
"""

from datamill.testing.engine import check_engine
from datamill.testing.sources import check_source
from datamill.testing.storage import check_storage

__all__ = ["check_engine", "check_source", "check_storage"]
