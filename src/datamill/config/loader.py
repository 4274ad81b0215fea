"""Read ``datamill.yaml`` into a :class:`ProjectConfig`, with errors that point at lines.

A bad file gives one :class:`ConfigError` that lists every problem as
``datamill.yaml line 12, sources.customers.typ: unknown key (did you mean 'type'?)``.
``${VAR}`` (or ``${VAR:-default}``) in any string is replaced from the environment,
so secrets stay out of committed files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from datamill._registry import did_you_mean
from datamill.config.schema import ProjectConfig, StageModel
from datamill.exceptions import ConfigError

__all__ = ["PROJECT_FILE", "load_config", "find_project_file"]

PROJECT_FILE = "datamill.yaml"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Located:
    """A parsed YAML value together with the line of every key path inside it."""

    def __init__(self) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        self.duplicates: list[tuple[tuple[Any, ...], str]] = []

    def build(self, node: yaml.Node, path: tuple[Any, ...]) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = key_node.value
                if key in out:
                    first = self.lines.get(path + (key,))
                    self.duplicates.append((path + (key,), f"'{key}' is given twice (first at line {first}); the second would silently win: remove one"))
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, path + (key,))
                self.lines[path + (key,)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        return yaml.safe_load(yaml.serialize(node))

    def line_of(self, path: tuple[Any, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def find_project_file(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the project file for ``path`` (a folder or a file); search upwards from cwd."""
    if path is not None:
        p = Path(path)
        candidate = p / PROJECT_FILE if p.is_dir() else p
        if not candidate.exists():
            raise ConfigError(
                f"no {PROJECT_FILE} at {candidate} (fix: run `datamill init NAME` to create a project)"
            )
        return candidate
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).exists():
            return folder / PROJECT_FILE
    raise ConfigError(
        f"no {PROJECT_FILE} in {here} or any parent folder "
        "(fix: cd into a project, pass --project PATH, or run `datamill init NAME`)"
    )


def _substitute(value: Any, path: tuple[Any, ...], where: _Located, file: Path, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, path + (k,), where, file, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, path + (i,), where, file, env) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(
            f"{file.name} line {where.line_of(path)}, {_dotted(path)}: environment variable "
            f"{name} is not set (fix: export {name}=... or write ${{{name}:-default}})"
        )

    return _VAR.sub(repl, value)


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _problem(err: dict[str, Any], model: type[BaseModel], owner: tuple[Any, ...] = ()) -> str:
    loc = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
    kind = err["type"]
    if kind == "extra_forbidden":
        known = _known_fields(model, loc[:-1])
        if owner and owner[0] == "sources" and len(loc) == 1:  # the keys every source has
            known += ["type", "on_bad_rows", "description"]
        return f"unknown key '{loc[-1]}'{did_you_mean(str(loc[-1]), known)}; allowed here: {', '.join(sorted(known))}"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind == "string_pattern_mismatch":
        return f"{err.get('input')!r} is not a valid name: use letters, digits and _, starting with a letter"
    if kind == "literal_error":
        return f"{err.get('input')!r} is not allowed: {msg[len('Input should be '):] if msg.startswith('Input should be ') else msg}"
    if kind == "bool_parsing":
        return f"{err.get('input')!r} is not true or false"
    if kind == "missing":
        return f"'{loc[-1]}' is required here"
    return msg


def _known_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at ``loc`` (aliases as written in the file)."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None:
            return []
        match = next((f for n, f in fields.items() if (f.alias or n) == part), None)
        if match is None:
            # a dict of models: ``part`` is a user key, stay on the value type
            continue
        current = _inner_model(match.annotation)
    fields = getattr(current, "model_fields", {})
    return [f.alias or n for n, f in fields.items()]


def _inner_model(annotation: Any) -> Any:
    args = getattr(annotation, "__args__", ())
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for meta in getattr(annotation, "__metadata__", ()):  # a stage's block: its own model
        if isinstance(meta, StageModel):
            return meta.load()
    for arg in reversed(args):
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None


def _format(file: Path, where: _Located, problems: list[tuple[tuple[Any, ...], str]]) -> ConfigError:
    lines = [
        f"{file} line {where.line_of(path)}, {_dotted(path)}: {text}" for path, text in problems
    ]
    head = f"{file.name} is not valid ({len(lines)} problem{'s' * (len(lines) != 1)}):"
    return ConfigError("\n".join([head, *("  " + line for line in lines)]))


def _validate_backends(config: ProjectConfig) -> list[tuple[tuple[Any, ...], Exception, Any]]:
    """Validate each backend's own options with its ``Options`` model."""
    from datamill.engine import ENGINES
    from datamill.sources import SOURCES
    from datamill.storage import STORAGES

    failures: list[tuple[tuple[Any, ...], Exception, Any]] = []
    checks: list[tuple[tuple[Any, ...], Any, Any]] = [
        (("engine",), ENGINES, config.engine),
        (("storage",), STORAGES, config.storage),
    ]
    checks += [(("sources", name), SOURCES, spec) for name, spec in config.sources.items()]
    checks += [(("datasets", name, "storage"), STORAGES, spec.storage)
               for name, spec in config.datasets.items() if spec.storage is not None]
    for path, registry, spec in checks:
        try:
            cls = registry.load(spec.type)
        except ConfigError as exc:
            failures.append((path + ("type",), exc, None))
            continue
        try:
            spec._parsed = cls.Options.model_validate(spec.options)  # type: ignore[attr-defined]
        except ValidationError as exc:
            failures.append((path, exc, cls.Options))
    return failures


def load_config(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> tuple[ProjectConfig, Path]:
    """Parse and validate a project file; return the config and the file's path."""
    file = find_project_file(path)
    env = dict(os.environ) if env is None else env
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from exc
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            f"{file}{where}: broken YAML: {problem} (fix: check indentation and that "
            "every 'key: value' has a space after the colon)"
        ) from None
    where = _Located()
    if node is None:
        raise ConfigError(f"{file} is empty: a project file needs at least `name: my_project` (run `datamill init NAME` for a start)")
    raw = where.build(node, ())
    if where.duplicates:
        raise _format(file, where, where.duplicates)
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping of keys (name:, sources:, datasets:), got {type(raw).__name__}")
    raw = _substitute(raw, (), where, file, env)
    try:
        config = ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [(tuple(e["loc"]), _problem(e, ProjectConfig)) for e in exc.errors()]
        raise _format(file, where, problems) from None
    problems = []
    for path, failure, options in _validate_backends(config):
        if isinstance(failure, ValidationError):
            problems += [(path + tuple(e["loc"]), _problem(e, options, path)) for e in failure.errors()]
        else:
            problems.append((path, str(failure)))
    if not problems:
        from datamill.config.streaming import check_streaming

        problems = check_streaming(config)
        for name, monitor in config.monitors.items():  # the monitor stage's own cross-checks (tables, model)
            problems += [(("monitors", name, *path), text) for path, text in monitor.problems(config)]
        for name, dashboard in config.dashboards.items():  # charts name queries, queries name params
            problems += [(("dashboards", name, *path), text) for path, text in dashboard.problems(config)]
    if problems:
        raise _format(file, where, problems)
    return config, file
