"""Profile a table and propose ``clean:`` and ``checks:`` blocks, each line with its evidence.

The output is YAML for the ``datasets:`` section of ``datamill.yaml``; every
suggestion carries the numbers that justify it as a comment, and the whole
block is validated with the same parser the project loader uses before it is
returned.

Examples
--------
>>> import pyarrow as pa
>>> t = pa.table({"id": [1, 2, 3, 3], "age": [30.0, None, 41.0, 41.0]})
>>> s = suggest(t, name="people")
>>> s.config()["people_clean"]["clean"]
{'dedupe': True, 'impute': {'age': 'median'}}
>>> print(s.yaml.splitlines()[5])
    dedupe: true                # 1 row (25.0%) is an exact copy of another row
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from datamill.quality import _rules
from datamill.quality._profile import ColumnProfile, TableProfile, profile

__all__ = ["Suggestion", "suggest", "suggest_for_project"]


@dataclass
class Suggestion:
    """Suggested steps and checks for one table, with the evidence for each."""

    dataset: str
    source: str  # what the dataset reads: from: NAME (or the dataset's own body)
    profile: TableProfile
    engine: str
    clean: list[tuple[str, Any, str]] = field(default_factory=list)  # (step, {column: option} or value, evidence)
    checks: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (check as written, evidence)
    notes: list[str] = field(default_factory=list)  # things worth a look that no step fixes
    body: dict[str, Any] = field(default_factory=dict)  # the dataset's from/sql/python, as written

    @property
    def yaml(self) -> str:
        return render_yaml(self)

    def config(self) -> dict[str, Any]:
        """The suggested dataset entry as the loader reads it."""
        return yaml.safe_load(self.yaml)


def suggest(table: Any, *, name: str, engine: Any = None, dataset: str | None = None,
            others: Mapping[str, Any] | None = None, body: dict[str, Any] | None = None) -> Suggestion:
    """Profile ``table`` (Arrow, or a storage scan) on ``engine`` (DuckDB by default) and suggest rules.

    ``others``: tables (name -> scan) that ``*_id`` columns may reference.
    """
    import pyarrow as pa

    from datamill.engine import Frame
    from datamill.engine.base import ArrowScan

    own = engine is None
    if own:
        from datamill.engine.duckdb import DuckDBEngine

        engine = DuckDBEngine()
    try:
        scan = ArrowScan(name, table) if isinstance(table, pa.Table) else table
        frame = Frame(engine, scan, others=dict(others or {}))
        bounds = {f.name: _rules.candidate_bounds(f.name) for f in scan.schema}
        prof = profile(frame, bounds={k: v for k, v in bounds.items() if v},
                       others={t: list(s.schema.names) for t, s in (others or {}).items()})
        out = Suggestion(dataset or f"{name}_clean", name, prof, engine.name, body=body or {"from": name})
        _rules.apply_all(out)
        validate(out)
        return out
    finally:
        if own:
            engine.close()


def validate(s: Suggestion) -> None:
    """Parse the suggestion with the loader's own models: a bad suggestion is a bug here, not the user's."""
    from datamill.config.schema import DatasetSpec

    entry = s.config()[s.dataset]
    spec = DatasetSpec.model_validate(entry)
    if spec.clean is not None:
        spec.clean.steps()
    for check in spec.checks:
        check.build()


# -- YAML ------------------------------------------------------------------------------------------

def _y(value: Any) -> str:
    """One YAML scalar or flow collection: ``median``, ``[customer_id]``, ``{age: [0, 120]}``."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10_000).strip()
    return text[: -len("...")].strip() if text.endswith("...") else text


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else _y(name)


def _lines(s: Suggestion) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = [(f"{_key(s.dataset)}:", "")]
    for key, value in s.body.items():
        if key == "sql":
            lines.append(("  sql: |", ""))
            lines += [("    " + line, "") for line in str(value).rstrip().splitlines()]
        else:
            lines.append((f"  {key}: {_y(value)}", ""))
    if s.clean:
        lines.append(("  clean:", ""))
        for step, arg, evidence in s.clean:
            if isinstance(arg, dict) and arg.get("__per_column__"):
                lines.append((f"    {step}:", ""))
                lines += [(f"      {_key(col)}: {_y(opt)}", ev) for col, (opt, ev) in arg["columns"].items()]
            else:
                lines.append((f"    {step}: {_y(arg)}", evidence))
    if s.checks:
        lines.append(("  checks:", ""))
        for check, evidence in s.checks:
            (kind, arg), *rest = check.items()
            lines.append((f"    - {kind}: {_y(arg)}", evidence))
            lines += [(f"      {k}: {_y(v)}", "") for k, v in rest]
    return lines


def render_yaml(s: Suggestion) -> str:
    """The suggestion as YAML, comments aligned after the values."""
    lines = _lines(s)
    width = min(60, max(len(text) for text, _ in lines) + 2)
    head = [f"# datamill suggest {s.source}: {s.profile.rows:,} rows, {len(s.profile.columns)} columns profiled on {s.engine}",
            "# paste under datasets: in datamill.yaml; each line's comment is the evidence for it, review them all"]
    head += [f"# note: {n}" for n in s.notes]
    # a comment needs a space before its '#', or YAML reads it as part of the value
    body = [text if not ev else f"{text.ljust(width - 2)}  # {ev}" for text, ev in lines]
    return "\n".join(head + body) + "\n"


# -- projects --------------------------------------------------------------------------------------

def suggest_for_project(project: Any, name: str) -> str:
    """YAML suggestions for ``name``: a dataset (its input is profiled) or a table in storage."""
    from datamill._registry import did_you_mean
    from datamill.config import quarantine_table_name
    from datamill.exceptions import ConfigError

    tables = [t for t in project.tables() if not t.endswith(quarantine_table_name(""))]
    spec = project.config.datasets.get(name)
    if spec is not None:
        source = spec.from_ or name
        body = {"from": spec.from_} if spec.from_ else ({"sql": spec.sql} if spec.sql else {"python": spec.python})
        if spec.from_ is None and spec.sql is None:
            raise ConfigError(f"dataset '{name}' is built by python: {spec.python}; build it (`datamill run`) "
                              f"and suggest on a table it writes, or give it from: TABLE")
    elif name in tables:
        source, body = name, {"from": name}
    else:
        choices = [*project.config.datasets, *tables]
        raise ConfigError(f"no dataset or table '{name}'{did_you_mean(name, choices)}; "
                          f"tables: {', '.join(tables) or 'none yet (run `datamill run`)'}")
    downstream = _downstream(project, source)
    others = {t: project.storage.scan(t) for t in tables if t not in (source, name) and t not in downstream}
    if "sql" in body:
        relation = project.relation(spec.sql)  # type: ignore[union-attr]
        scan = project.engine.materialize(relation)
        try:
            return suggest(scan, name=name, engine=project.engine, dataset=name, others=others, body=body).yaml
        finally:
            project.engine.release(scan)
    if source not in tables:
        raise ConfigError(f"table '{source}' is not in storage yet: run `datamill run --select +{source}` first")
    return suggest(project.storage.scan(source), name=source, engine=project.engine,
                   dataset=name if spec is not None else None, others=others, body=body).yaml


def _downstream(project: Any, table: str) -> set[str]:
    """Tables built (directly or not) from ``table``: never what its keys point to."""
    try:
        dag = project.dag()
    except Exception:  # a broken project file elsewhere: suggest without the DAG
        return set()
    out: set[str] = set()
    for node in dag.order():
        if table in dag.deps[node] or out & set(dag.deps[node]):
            out.add(node)
    return out


def per_column(columns: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    """A step written one column per line (each with its own evidence)."""
    return {"__per_column__": True, "columns": columns}


def share(n: int, total: int) -> str:
    """``1,234 rows (1.2%)``."""
    return f"{n:,} {'row' if n == 1 else 'rows'} ({n / total:.1%})" if total else f"{n:,} rows"


def column_profiles(s: Suggestion) -> list[ColumnProfile]:
    return list(s.profile.columns.values())
