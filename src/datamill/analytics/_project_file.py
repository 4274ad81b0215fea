"""Edit one entry of ``datamill.yaml`` in place, keeping the user's comments, order and layout.

ruamel.yaml's round-trip mode keeps comments and key order; the file's own
indentation is found by trying the usual styles until one writes the
unchanged file back byte for byte. The new text is checked by loading it as a
project before it replaces the file (atomically), so a save never leaves a
broken project file behind.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from datamill._deps import require
from datamill.config import load_config
from datamill.exceptions import ConfigError

__all__ = ["replace_entry"]

# (mapping, sequence, offset): "- " under its key indented 2 (the demo's), flush with it, 4-space files
_STYLES = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4), (4, 4, 0), (2, 3, 1))


def _yaml(style: tuple[int, int, int]) -> Any:
    ruamel = require("ruamel.yaml", purpose="saving dashboards and queries into datamill.yaml")
    y = ruamel.YAML()
    y.preserve_quotes = True
    y.width = 4096  # never fold a long SQL line
    y.indent(mapping=style[0], sequence=style[1], offset=style[2])
    return y


def _dump(y: Any, doc: Any) -> str:
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


def _style_of(text: str) -> tuple[int, int, int]:
    for style in _STYLES:
        try:
            if _dump(_yaml(style), _yaml(style).load(text)) == text:
                return style
        except Exception:  # noqa: BLE001 (a style that cannot round-trip this file: try the next)
            continue
    return _STYLES[0]


def _blocks(value: Any) -> Any:
    """Multi-line strings (SQL) written as ``|`` blocks, as a person would."""
    if isinstance(value, dict):
        return {k: _blocks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blocks(v) for v in value]
    if isinstance(value, str) and "\n" in value.strip():
        literal = require("ruamel.yaml.scalarstring").LiteralScalarString
        return literal(value if value.endswith("\n") else value + "\n")
    return value


def _merge(target: Any, value: Any) -> Any:
    """``value`` written over ``target`` key by key, so comments on kept keys stay where they are."""
    if isinstance(value, dict) and hasattr(target, "items") and not isinstance(target, str):
        for key in [k for k in target if k not in value]:
            del target[key]
        for key, item in value.items():
            target[key] = _merge(target[key], item) if key in target else item
        return target
    if isinstance(value, list) and isinstance(target, list) and len(target) == len(value):
        for i, item in enumerate(value):
            target[i] = _merge(target[i], item)
        return target
    if not isinstance(value, (dict, list)) and type(value) is type(target) and target == value:
        return target  # unchanged: keep how it was written (its quotes, its block style)
    if isinstance(value, str) and isinstance(target, str) and target == value:
        return target
    return value


def replace_entry(file: Path, block: str, name: str, value: dict[str, Any] | str) -> Any:
    """Set ``block.name`` (e.g. ``dashboards.business``) in project ``file`` to ``value``; return the new config."""
    text = file.read_text(encoding="utf-8")
    style = _style_of(text)
    y = _yaml(style)
    doc = y.load(text)
    if doc is None or not hasattr(doc, "items"):
        raise ConfigError(f"{file}: expected a mapping of keys (name:, sources:, ...); cannot save {block}.{name} into it")
    if doc.get(block) is None:
        doc[block] = {}
    entries = doc[block]
    value = _blocks(value)
    entries[name] = _merge(entries[name], value) if name in entries else value
    new = _dump(y, doc)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(new, encoding="utf-8")
        try:
            config, _ = load_config(tmp)  # the whole project must still load: nothing broken is saved
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(tmp), str(file)).replace(tmp.name, file.name)) from None
        os.replace(tmp, file)
    finally:
        tmp.unlink(missing_ok=True)
    return config
