"""The pieces a report is made of: sections holding cards, tables, charts and text.

Reports are data first: a stage (quality, profile, evaluation) builds a
:class:`Report` out of these blocks and :func:`datamill.report.render_html`
turns it into one self-contained page. Nothing here knows about HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

__all__ = ["Badge", "Block", "Card", "Cards", "Chart", "Grid", "Report", "Section", "Table", "Text"]

Tone = Literal["", "good", "warn", "bad", "muted"]


class Block:
    """Something a section shows; ``kind`` picks its template macro."""

    kind: ClassVar[str] = ""


@dataclass
class Card:
    """One key number: ``label`` above, ``value`` large, ``note`` small below."""

    label: str
    value: Any
    note: str = ""
    tone: Tone = ""


@dataclass
class Cards(Block):
    """A row of :class:`Card` (wraps on narrow screens)."""

    items: list[Card]
    kind: ClassVar[str] = "cards"


@dataclass
class Badge:
    """A short coloured label inside a table cell (``pass``, ``fail``, ``warn``)."""

    text: str
    tone: Tone = ""


@dataclass
class Table(Block):
    """Rows of cells; numbers are right-aligned and grouped (``12,345``).

    A cell is a number, text, ``None`` (shown as a dash) or a :class:`Badge`.
    """

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""
    kind: ClassVar[str] = "table"

    def numeric(self) -> list[bool]:
        """Per column: are all its non-empty cells numbers? (right-aligned if so)."""
        out = []
        for i in range(len(self.columns)):
            cells = [r[i] for r in self.rows if i < len(r) and r[i] is not None and r[i] != ""]
            out.append(bool(cells) and all(_is_number(c) for c in cells))
        return out


def _is_number(cell: Any) -> bool:
    if isinstance(cell, str) and cell.endswith("%"):  # a share, already formatted
        return cell[:-1].replace(".", "", 1).replace(",", "").lstrip("-").isdigit()
    return isinstance(cell, (int, float)) and not isinstance(cell, bool)


@dataclass
class Chart(Block):
    """A Vega-Lite chart from its JSON spec (see :mod:`datamill.report.charts`)."""

    spec: dict[str, Any]
    title: str = ""
    caption: str = ""
    kind: ClassVar[str] = "chart"


@dataclass
class Text(Block):
    """A paragraph of plain text (escaped; no markup)."""

    text: str
    tone: Tone = ""
    kind: ClassVar[str] = "text"


@dataclass
class Grid(Block):
    """Blocks side by side (charts, usually), wrapping on narrow screens."""

    blocks: list[Block]
    title: str = ""
    kind: ClassVar[str] = "grid"


@dataclass
class Section:
    """A titled part of the report; listed in the table of contents."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    intro: str = ""
    subsections: list[Section] = field(default_factory=list)
    anchor: str = ""

    def add(self, *blocks: Block) -> Section:
        self.blocks.extend(blocks)
        return self


@dataclass
class Report:
    """A whole page: a header (title, subtitle, facts) and sections."""

    title: str
    subtitle: str = ""
    facts: dict[str, str] = field(default_factory=dict)  # shown in the header: label -> value
    sections: list[Section] = field(default_factory=list)

    def add(self, section: Section) -> Section:
        self.sections.append(section)
        return section

    def charts(self) -> list[Chart]:
        """Every chart, in page order (each gets a stable id when rendered)."""
        found: list[Chart] = []

        def walk(blocks: list[Block]) -> None:
            for b in blocks:
                if isinstance(b, Chart):
                    found.append(b)
                elif isinstance(b, Grid):
                    walk(b.blocks)

        def visit(sections: list[Section]) -> None:
            for s in sections:
                walk(s.blocks)
                visit(s.subsections)

        visit(self.sections)
        return found

    def assign_anchors(self) -> None:
        """Give every section a unique ``anchor`` for the table of contents."""
        seen: set[str] = set()

        def visit(sections: list[Section]) -> None:
            for s in sections:
                base = s.anchor or (re.sub(r"[^a-z0-9]+", "-", s.title.lower()).strip("-") or "section")
                anchor, n = base, 2
                while anchor in seen:
                    anchor, n = f"{base}-{n}", n + 1
                seen.add(anchor)
                s.anchor = anchor
                visit(s.subsections)

        visit(self.sections)
