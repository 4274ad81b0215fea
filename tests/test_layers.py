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


# -- layers point down ------------------------------------------------------------------------

# Top-level packages and modules of src/datamill, lowest first. A module may import
# from its own layer and the layers below, never from a layer above: what sits low
# (config, engines, storage) stays usable without what is built on it. Read from
# DESIGN.md's tree and the code: engines read storage's table scans, so storage sits
# below engine; config validates each backend's options through the backends'
# registries, so it sits above them, and names the blocks of stages above it
# (quality's clean:/checks:, ml's models:) only as StageModel("module:Class").
LAYERS: list[set[str]] = [
    {"exceptions", "_deps", "_registry", "_ports"},
    {"report"},
    {"sources"},
    {"storage"},
    {"engine"},
    {"config", "testing"},  # testing: the conformance suites over sources, storages and engines
    {"quality"},
    {"profile"},
    {"ml"},
    {"registry"},  # the model store: ml logs models, the registry versions them
    {"serve"},  # the model server and its prediction log (reads ml's models, writes storage)
    {"monitor"},  # drift of a served model's inputs and predictions and live performance, reports, alerts (reads the registry and the prediction log)
    {"pipeline"},
    {"stream"},
    {"analytics", "demo", "project"},
    {"ui"},  # the web UI: shows every stage (reads them all), below only the CLI that starts it
    {"cli", "__main__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}
LAYER["datamill"] = 0  # `import datamill` (for __version__) loads only the exceptions, checked below


def top(module: str) -> str:
    """``datamill.quality.steps.base`` -> ``quality``; ``datamill`` -> ``datamill``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def own_module(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    return ".".join(["datamill", *(parts[:-1] if parts[-1] == "__init__" else parts)])


def datamill_imports(rel: str, tree: ast.Module) -> Iterator[tuple[int, str, list[str]]]:
    """Every import of a datamill module, at any depth (inside functions too): line, module, names."""
    here = own_module(rel)
    package = here if rel.endswith("__init__.py") else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "datamill" or alias.name.startswith("datamill."):
                    yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            if module == "datamill" or module.startswith("datamill."):
                yield node.lineno, module, [a.name for a in node.names]


def test_every_package_has_a_layer() -> None:
    packages = {p.name.removesuffix(".py") for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    packages.discard("__init__")
    assert packages <= set(LAYER), f"place {sorted(packages - set(LAYER))} in LAYERS (tests/test_layers.py)"


def test_layers_point_down() -> None:
    upward = []
    for rel, _, tree in modules():
        if rel == "__init__.py":
            continue  # the package's face: re-exports Project (lazily), the top of everything
        mine = top(own_module(rel))
        for line, module, _ in datamill_imports(rel, tree):
            theirs = top(module)
            if LAYER[theirs] > LAYER[mine]:
                upward.append(f"src/datamill/{rel}:{line} ({mine}) imports {module} ({theirs}, a higher layer)")
    assert not upward, "lower layers never import higher ones:\n" + "\n".join(upward)


def test_importing_datamill_itself_loads_only_the_lowest_layer() -> None:
    tree = ast.parse((SRC / "__init__.py").read_text(encoding="utf-8"))
    eager = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    assert {top(m) for _, m, _ in datamill_imports("__init__.py", ast.Module(eager, []))} <= LAYERS[0]


def test_no_module_reads_another_packages_private_parts() -> None:
    # private modules (quality/_sql.py) and names (_helper) are their package's own business
    found = []
    for rel, _, tree in modules():
        mine = top(own_module(rel))
        for line, module, names in datamill_imports(rel, tree):
            if top(module) in (mine, "datamill") or top(module) in LAYERS[0]:
                continue
            private = [p for p in module.split(".")[2:] if p.startswith("_")] + [n for n in names if n.startswith("_")]
            if private:
                found.append(f"src/datamill/{rel}:{line} imports {module}: {', '.join(private)}")
    assert not found, "import what a package makes public:\n" + "\n".join(found)


def test_the_layer_scan_sees_imports_inside_functions() -> None:
    tree = ast.parse("def f():\n    from datamill.pipeline.nodes import x\n\nfrom .steps import y\n")
    assert sorted(datamill_imports("quality/suggest.py", tree)) == [
        (2, "datamill.pipeline.nodes", ["x"]),
        (4, "datamill.quality.steps", ["y"]),
    ]
