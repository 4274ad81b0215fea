"""The pipeline's DAG as an SVG drawing: one box per node (status, rows, seconds), edges left to right."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["DagNode", "dag_svg"]

_COLOURS = {"ok": "#2f9e44", "up_to_date": "#74b816", "unchanged": "#74b816", "skipped": "#868e96",
            "failed": "#e03131", "blocked": "#f08c00", "interrupted": "#f08c00", "pending": "#adb5bd",
            "running": "#1c7ed6"}
_W, _H, _GAP_X, _GAP_Y, _PAD = 190, 58, 70, 18, 16


@dataclass
class DagNode:
    name: str
    kind: str = ""
    status: str = "pending"
    rows_out: int | None = None
    seconds: float | None = None


def _depths(deps: Mapping[str, Sequence[str]]) -> dict[str, int]:
    depth: dict[str, int] = {}

    def of(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in depth:
            parents = [d for d in deps.get(name, ()) if d in deps and d not in seen]
            depth[name] = 1 + max((of(p, seen | {name}) for p in parents), default=-1)
        return depth[name]

    for name in deps:
        of(name)
    return depth


def dag_svg(nodes: Sequence[DagNode], deps: Mapping[str, Sequence[str]]) -> str:
    """An SVG (a string, escaped) of ``nodes`` laid out by depth; ``deps``: node -> the nodes it reads.

    Examples
    --------
    >>> svg = dag_svg([DagNode("a", status="ok"), DagNode("b", status="failed")], {"a": [], "b": ["a"]})
    >>> svg.count('class="dag-node"'), svg.count('marker-end'), 'data-status="failed"' in svg
    (2, 1, True)
    """
    by_name = {n.name: n for n in nodes}
    graph = {n.name: [d for d in deps.get(n.name, ()) if d in by_name] for n in nodes}
    depth = _depths(graph)
    columns: dict[int, list[str]] = {}
    for n in nodes:
        columns.setdefault(depth[n.name], []).append(n.name)
    where: dict[str, tuple[int, int]] = {}
    for col, names in columns.items():
        for row, name in enumerate(names):
            where[name] = (_PAD + col * (_W + _GAP_X), _PAD + row * (_H + _GAP_Y))
    width = _PAD * 2 + (max(columns, default=0) + 1) * (_W + _GAP_X) - _GAP_X
    height = _PAD * 2 + max((len(v) for v in columns.values()), default=1) * (_H + _GAP_Y) - _GAP_Y
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="dag-svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="pipeline DAG">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#8792a6"/></marker></defs>']
    for name, parents in graph.items():
        x2, y2 = where[name]
        for parent in parents:
            x1, y1 = where[parent]
            sx, sy, ex, ey = x1 + _W, y1 + _H / 2, x2, y2 + _H / 2
            mid = (sx + ex) / 2
            parts.append(f'<path d="M {sx} {sy} C {mid} {sy}, {mid} {ey}, {ex - 2} {ey}" fill="none" '
                         f'stroke="#8792a6" stroke-width="1.4" marker-end="url(#arrow)"/>')
    for n in nodes:
        x, y = where[n.name]
        colour = _COLOURS.get(n.status, "#adb5bd")
        facts = " · ".join(p for p in (
            f"{n.rows_out:,} rows" if n.rows_out is not None else "",
            f"{n.seconds:.1f} s" if n.seconds is not None else "") if p)
        parts.append(
            f'<g class="dag-node" data-node="{escape(n.name)}" data-status="{escape(n.status)}">'
            f'<title>{escape(n.name)} ({escape(n.kind)}): {escape(n.status)}</title>'
            f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="6" fill="#fff" stroke="{colour}" stroke-width="2"/>'
            f'<rect x="{x}" y="{y}" width="6" height="{_H}" rx="3" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y + 18}" font-weight="600">{escape(n.name[:26])}</text>'
            f'<text x="{x + 14}" y="{y + 34}" fill="{colour}">{escape(n.kind)} · {escape(n.status)}</text>'
            f'<text x="{x + 14}" y="{y + 49}" fill="#6b7385">{escape(facts)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
