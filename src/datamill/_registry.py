"""Name -> backend tables, imported lazily, extensible through entry points."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from datamill.exceptions import ConfigError


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` when ``name`` is close to one of ``choices``.

    Examples
    --------
    >>> did_you_mean("cvs", ["csv", "json"])
    " (did you mean 'csv'?)"
    >>> did_you_mean("zzz", ["csv"])
    ''
    """
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Registry:
    """Maps a backend name to ``"module:Class"`` and loads it on first use.

    Third-party backends register under the entry-point group ``group``.

    Examples
    --------
    >>> r = Registry("engine", "datamill.engines", {"json": "json:JSONDecoder"})
    >>> r.load("json").__name__
    'JSONDecoder'
    """

    def __init__(self, kind: str, group: str, builtin: dict[str, str]) -> None:
        self.kind = kind
        self.group = group
        self._targets = dict(builtin)
        self._loaded_entry_points = False

    def _entry_points(self) -> None:
        if self._loaded_entry_points:
            return
        self._loaded_entry_points = True
        for ep in entry_points(group=self.group):
            self._targets.setdefault(ep.name, ep.value)

    def names(self) -> list[str]:
        self._entry_points()
        return sorted(self._targets)

    def register(self, name: str, target: str) -> None:
        """Register ``target`` (``"module:Class"``) under ``name``."""
        self._targets[name] = target

    def load(self, name: str) -> Any:
        self._entry_points()
        target = self._targets.get(name)
        if target is None:
            known = ", ".join(self.names())
            raise ConfigError(
                f"unknown {self.kind} '{name}'{did_you_mean(name, self._targets)}; known: {known}"
            )
        module_name, _, attr = target.partition(":")
        return getattr(importlib.import_module(module_name), attr)
