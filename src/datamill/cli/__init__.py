"""The ``datamill`` command line."""

from datamill.cli.app import app, main

__all__ = ["app", "main"]
