"""Conformance suites a backend runs to prove it does what its stage promises.

Importable by third-party backends; nothing here imports a test framework.
"""

from datamill.testing.sources import check_source

__all__ = ["check_source"]
