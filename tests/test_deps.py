"""Dependencies: a missing optional one names its extra; every library datamill imports is declared."""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

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


# -- every library datamill imports is declared ------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "datamill"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

# Modules that run only once their extra is installed (each reaches its library through
# require() first, which names the extra); everything else must work on a base install.
EXTRA_MODULES = {
    "engine/spark.py": ("spark",),
    "storage/postgres.py": ("postgres",),
    "storage/cassandra.py": ("cassandra",),
    "storage/cassandra_server.py": ("cassandra",),
    "sources/sql.py": ("postgres",),
    "ml/": ("ml",),
    "ml/torch_mlp.py": ("ml", "torch"),
    "serve/": ("serve",),
    "monitor/": ("ml",),  # reads the model store; its statistics need only numpy and scipy (base)
    "registry/": ("ml",),  # the model store is MLflow's registry
    "testing/engine.py": ("testing",),  # pytest only in engine_cases(), for one test per case
    "testing/storage.py": ("testing",),
    "stream/": ("kafka",),
    "analytics/wire.py": ("analytics",),  # datamill sql --serve
    "analytics/_hyper.py": ("analytics",),  # .hyper exports
    "analytics/_xlsx.py": ("analytics",),  # .xlsx exports
    "ui/": ("ui",),
}


def _name(requirement: str) -> str:
    """``psycopg[binary]>=3.1`` -> ``psycopg`` (normalised as PyPI does)."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group()).lower()


def _extras() -> dict[str, set[str]]:
    raw = PYPROJECT["optional-dependencies"]

    def names(extra: str) -> set[str]:
        out: set[str] = set()
        for req in raw[extra]:
            if _name(req) == "datamill":  # datamill[a,b]: the union of those extras
                for other in re.search(r"\[(.*)\]", req).group(1).split(","):
                    out |= names(other.strip())
            else:
                out.add(_name(req))
        return out

    return {extra: names(extra) for extra in raw}


BASE = {_name(req) for req in PYPROJECT["dependencies"]}
EXTRAS = _extras()


@functools.cache
def _installed() -> dict[str, list[str]]:
    return packages_distributions()


def _distributions(module: str) -> set[str]:
    """The distributions that install top-level ``module`` (its own name when not installed here)."""
    found = _installed().get(module)
    return {_name(d) for d in found} if found else {_name(module)}


def _guarded(tree: ast.Module) -> set[int]:
    """Lines inside ``try:`` blocks that handle ImportError (the code copes without the library)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            h.type is not None and {"ImportError", "ModuleNotFoundError"} & {n.id for n in ast.walk(h.type) if isinstance(n, ast.Name)}
            for h in node.handlers
        ):
            lines |= {n.lineno for stmt in node.body for n in ast.walk(stmt) if hasattr(n, "lineno")}
    return lines


def third_party_imports() -> Iterator[tuple[str, int, str, bool]]:
    """Every library imported under src/datamill: module path, line, top-level name, and whether
    it is a direct import (not through require() or a try/except ImportError)."""
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = _guarded(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names, direct = [a.name for a in node.names], True
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names, direct = [node.module], True
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "require"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                names, direct = [node.args[0].value], False
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "datamill" and top not in sys.stdlib_module_names:
                    yield rel, node.lineno, top, direct and node.lineno not in guarded


def _owners(rel: str) -> tuple[str, ...]:
    """The extras module ``rel`` runs under (none: a base install runs it)."""
    matches = [prefix for prefix in EXTRA_MODULES if rel == prefix or (prefix.endswith("/") and rel.startswith(prefix))]
    return EXTRA_MODULES[max(matches, key=len)] if matches else ()


def test_every_imported_library_is_declared() -> None:
    declared = BASE.union(*EXTRAS.values())
    missing = sorted({f"src/datamill/{rel}:{line} imports {top}" for rel, line, top, _ in third_party_imports()
                      if not _distributions(top) & declared})
    assert not missing, "declare these in pyproject.toml (dependencies, or the extra that needs them):\n" + "\n".join(missing)


def test_a_base_install_has_what_core_modules_import() -> None:
    # `datamill stats` imported scipy, declared nowhere: a base install failed with an internal error
    wrong = []
    for rel, line, top, direct in third_party_imports():
        owners = _owners(rel)
        allowed = BASE.union(*(EXTRAS[o] for o in owners))
        if direct and not _distributions(top) & allowed:
            where = f"the {' or '.join(owners)} extra" if owners else "dependencies (or reach it through require())"
            wrong.append(f"src/datamill/{rel}:{line} imports {top}: add it to {where}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_require_names_extras_that_install_the_module() -> None:
    from datamill._deps import _EXTRA_FOR

    for module, extra in _EXTRA_FOR.items():
        assert extra in EXTRAS, f"_deps names extra '{extra}' for {module}, which pyproject.toml lacks"
        assert _distributions(module) & EXTRAS[extra], f"the {extra} extra does not install {module}"


def test_the_import_scan_sees_imports_guarded_by_try() -> None:
    tree = ast.parse("try:\n    import scipy\nexcept ImportError:\n    scipy = None\nimport polars\n")
    assert _guarded(tree) == {2}
