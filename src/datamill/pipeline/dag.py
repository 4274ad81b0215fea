"""The pipeline's DAG: nodes from the project file, edges from what each reads."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from datamill._registry import did_you_mean
from datamill.exceptions import ConfigError, PipelineError

__all__ = ["Dag", "select"]


@dataclass
class Dag:
    """Node name -> names it depends on; ``external`` are storage tables no node makes."""

    deps: dict[str, list[str]]
    external: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, deps: Mapping[str, Iterable[str]], existing_tables: Iterable[str] = ()) -> Dag:
        """Check every dependency exists and that there is no cycle.

        Examples
        --------
        >>> Dag.build({"a": [], "b": ["a"]}).order()
        ['a', 'b']
        """
        deps = {name: list(d) for name, d in deps.items()}
        existing = set(existing_tables)
        external: set[str] = set()
        for name, wanted in deps.items():
            for dep in wanted:
                if dep in deps:
                    continue
                if dep in existing:
                    external.add(dep)
                    continue
                known = sorted(set(deps) | existing)
                raise ConfigError(
                    f"dataset '{name}' reads table '{dep}', which is not a source, a dataset "
                    f"or a table in storage{did_you_mean(dep, known)} "
                    f"(known tables: {', '.join(known) or 'none'})"
                )
        dag = cls(deps={n: [d for d in w if d in deps] for n, w in deps.items()}, external=external)
        dag.order()
        return dag

    def order(self) -> list[str]:
        """Nodes in dependency order (ties by name, so runs are reproducible)."""
        sorter = graphlib.TopologicalSorter({n: sorted(d) for n, d in sorted(self.deps.items())})
        try:
            return list(sorter.static_order())
        except graphlib.CycleError as exc:
            cycle = exc.args[1]
            raise PipelineError(
                f"the pipeline has a cycle: {' → '.join(reversed(cycle))} "
                "(fix: a dataset cannot read, directly or not, a table built from itself)"
            ) from None

    def downstream(self, name: str) -> set[str]:
        out, todo = set(), [name]
        while todo:
            current = todo.pop()
            for node, deps in self.deps.items():
                if current in deps and node not in out:
                    out.add(node)
                    todo.append(node)
        return out

    def upstream(self, name: str) -> set[str]:
        out, todo = set(), [name]
        while todo:
            for dep in self.deps[todo.pop()]:
                if dep not in out:
                    out.add(dep)
                    todo.append(dep)
        return out


def select(dag: Dag, patterns: Iterable[str]) -> list[str]:
    """Nodes chosen by ``NAME``, ``NAME+`` (and downstream), ``+NAME`` (and upstream).

    Examples
    --------
    >>> d = Dag.build({"a": [], "b": ["a"], "c": ["b"], "x": []})
    >>> select(d, ["b+"])
    ['b', 'c']
    >>> select(d, ["+b"])
    ['a', 'b']
    """
    chosen: set[str] = set()
    for pattern in patterns:
        name = pattern.strip("+")
        if name not in dag.deps:
            raise ConfigError(
                f"--select {pattern}: no node '{name}'{did_you_mean(name, dag.deps)}; "
                f"nodes: {', '.join(sorted(dag.deps))}"
            )
        chosen.add(name)
        if pattern.endswith("+"):
            chosen |= dag.downstream(name)
        if pattern.startswith("+"):
            chosen |= dag.upstream(name)
    return [n for n in dag.order() if n in chosen]
