"""The shape of the package, read from its source: what may depend on what.

These tests parse ``src/datamill`` (nothing is imported), so they hold for
every module, including code paths no other test reaches.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "datamill"


def modules() -> Iterator[tuple[str, Path, ast.Module]]:
    """Every module under ``src/datamill``: its path relative to ``SRC``, the file, its syntax tree."""
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), path, ast.parse(path.read_text(encoding="utf-8"), str(path))


# -- engines own their SQL ------------------------------------------------------------------

ENGINE_NAMES = {"duckdb", "spark"}  # the built-in engines (and the SQL dialects they speak)


def _engine_names_in(node: ast.AST) -> set[str]:
    """Engine names written as string literals in ``node`` (alone, or in a tuple, list or set)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value.lower()} & ENGINE_NAMES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return set().union(*(_engine_names_in(e) for e in node.elts))
    return set()


def engine_name_comparisons(tree: ast.Module) -> list[tuple[int, str]]:
    """Line and name of each comparison with (or ``case`` on) an engine name as a string."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for name in set().union(*(_engine_names_in(n) for n in [node.left, *node.comparators])):
                found.append((node.lineno, name))
        elif isinstance(node, ast.MatchValue):
            found += [(node.lineno, name) for name in _engine_names_in(node.value)]
    return sorted(found)


def test_engine_names_are_compared_only_inside_engine() -> None:
    # Outside engine/, code asks the engine's Dialect (engine.dialect) what its SQL
    # is like, so that a third engine is one module plus the conformance suites.
    offenders = [
        f"src/datamill/{rel}:{line} compares with '{name}'"
        for rel, _, tree in modules()
        if not rel.startswith("engine/")
        for line, name in engine_name_comparisons(tree)
    ]
    assert not offenders, "ask engine.dialect instead:\n" + "\n".join(offenders)


def test_the_scan_finds_what_it_looks_for() -> None:
    tree = ast.parse(
        "if d.name == 'spark': pass\n"
        "x = 'VARCHAR' if dialect.name != \"duckdb\" else 'STRING'\n"
        "ok = getattr(engine, 'dialect', 'duckdb') in ('spark', 'x')\n"
        "match d.name:\n    case 'duckdb': pass\n"
        "fine = metric.name == 'log_loss'\n"
    )
    assert engine_name_comparisons(tree) == [(1, "spark"), (2, "duckdb"), (3, "spark"), (5, "duckdb")]
