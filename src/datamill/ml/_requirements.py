"""What loading a pickled pipeline needs: pinned requirements and datamill's own code.

A fitted pipeline holds datamill's transformers (``DateParts``) and estimators
(``TorchMLPClassifier``) by reference, beside scikit-learn's, LightGBM's and
PyTorch's. An environment built from the logged model alone must load it, so:

- the pickle is read back once, recording every module it imports: each one's
  distribution is pinned (``lightgbm==4.6.0``; ``torch`` when a torch model is in it);
- the datamill modules among them, with the datamill modules they import and their
  packages' ``__init__``, are copied as the model's code (MLflow's ``code_paths``),
  and the libraries those import are pinned too;
- MLflow, cloudpickle, scikit-learn, SciPy, NumPy and pandas are always pinned:
  loading the flavour needs them.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import io
import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

__all__ = ["code_modules", "pickled_modules", "requirements", "write_code"]

_ALWAYS = ("mlflow", "cloudpickle", "scikit-learn", "scipy", "numpy", "pandas")
_DISTRIBUTIONS: dict[str, list[str]] | None = None


def distributions() -> dict[str, list[str]]:
    """Top-level module -> the distributions that install it (cached: reading it takes a moment)."""
    global _DISTRIBUTIONS
    if _DISTRIBUTIONS is None:
        _DISTRIBUTIONS = metadata.packages_distributions()
    return _DISTRIBUTIONS


class _Recorder(pickle.Unpickler):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.modules: set[str] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.modules.add(module)
        return super().find_class(module, name)


def pickled_modules(obj: Any) -> set[str]:
    """Every module that unpickling ``obj`` (pickled as MLflow does, with cloudpickle) imports."""
    import cloudpickle

    recorder = _Recorder(cloudpickle.dumps(obj))
    recorder.load()
    return recorder.modules


def _module_file(module: str) -> Path | None:
    import datamill

    base = Path(datamill.__file__).parent.joinpath(*module.split(".")[1:])
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(module: str, tree: ast.Module, is_package: bool, deep: bool) -> set[str]:
    """Modules ``module`` imports (``deep``: inside functions too), outside ``if TYPE_CHECKING:``, and ``require``s."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if not deep and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return  # runs when called, not on import
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if base.startswith("datamill"))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "require"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.add(node.args[0].value)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def code_modules(modules: set[str]) -> tuple[dict[str, Path], set[str]]:
    """The datamill modules loading needs (name -> file) and the other modules they import.

    The modules the pickle names are read whole (their methods run when the model
    predicts); the modules they lead to, only for what runs on import: following every
    import inside every function would take in all of datamill.
    """
    direct = {m for m in modules if m == "datamill" or m.startswith("datamill.")}
    todo = list(direct)
    files: dict[str, Path] = {}
    others: set[str] = set()
    while todo:
        module = todo.pop()
        if module in files:
            continue
        path = _module_file(module)
        if path is None:  # a name imported from a module (datamill.ml.features.DateParts): not a module
            continue
        files[module] = path
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # the packages above it
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name in _imports(module, tree, path.name == "__init__.py", deep=module in direct):
            if name == "datamill" or name.startswith("datamill."):
                todo.append(name)
            else:
                others.add(name)
    return files, others


def requirements(modules: set[str]) -> list[str]:
    """Pinned requirements (``name==version``) for the distributions of ``modules``, plus the flavour's."""
    dists = distributions()
    wanted: dict[str, None] = dict.fromkeys(_ALWAYS)
    for module in sorted(modules):
        top = module.split(".")[0]
        if not top or top in sys.stdlib_module_names or top == "datamill":
            continue
        for dist in dists.get(top, []):
            wanted.setdefault(dist)
    pins = []
    for dist in wanted:
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        pins.append(f"{_canonical(dist)}=={version}")
    return sorted(set(pins), key=str.lower)


def _canonical(dist: str) -> str:
    return dist.lower().replace("_", "-")


def write_code(files: dict[str, Path], folder: Path) -> Path:
    """Copy the datamill modules to ``folder/datamill`` (their package tree); return that folder."""
    import datamill

    top = Path(datamill.__file__).parent
    target = folder / "datamill"
    for path in files.values():
        dest = target / path.relative_to(top)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    return target
