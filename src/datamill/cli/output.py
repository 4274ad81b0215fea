"""Tables that stay readable at any width: on a narrow terminal, through a pipe, in a log.

Rich shortens cells that do not fit with "…", which cuts headers and numbers
("versi…", "120,0…"). :func:`whole` renders a table so that no header word and
no number is ever cut: at its natural width when it fits; else with its columns
narrowed, text wrapping at spaces; else, when even the longest words do not fit
side by side, as one record per row (``header: value`` lines).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType
from rich.errors import MarkupError
from rich.table import Table
from rich.text import Text

__all__ = ["whole"]


def whole(table: Table) -> RenderableType:
    """``table``, rendered so that headers and numbers stay whole at the console's width.

    Examples
    --------
    >>> import io
    >>> t = Table(title="tables")
    >>> for col in ("table", "rows", "version"):
    ...     t.add_column(col)
    >>> t.add_row("orders", "120,000", "12")
    >>> out = Console(file=io.StringIO(), width=20)
    >>> out.print(whole(t))
    >>> print(out.file.getvalue().strip())
    tables
    table: orders
    rows: 120,000
    version: 12
    """
    return _Whole(table)


def _text(cell: Any) -> Text:
    if isinstance(cell, Text):
        return cell
    try:
        return Text.from_markup(str(cell))
    except MarkupError:
        return Text(str(cell))


def _longest_word(text: str) -> int:
    return max((cell_len(word) for line in text.splitlines() for word in line.split()), default=0)


def _longest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


class _Whole:
    def __init__(self, table: Table) -> None:
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[RenderableType]:
        table, width = self.table, options.max_width
        columns = table.columns
        texts = [[_text(column.header).plain] + [_text(c).plain for c in column.cells] for column in columns]
        natural = [max(_longest_line(t) for t in col) for col in texts]
        need = [max(_longest_word(t) for t in col) for col in texts]
        _, right, _, left = table.padding
        extra = len(columns) * (left + right) + ((2 if table.show_edge else 0) + len(columns) - 1 if table.box else 0)
        if extra + sum(natural) <= width:
            yield table
        elif extra + sum(need) <= width:
            for column, w in zip(columns, _widths(need, natural, width - extra)):
                column.width, column.min_width, column.no_wrap, column.overflow = w, None, False, "fold"
            yield table
        else:
            yield from self._records(texts)

    def _records(self, texts: list[list[str]]) -> Iterator[RenderableType]:
        """One record per row: ``header: value`` lines, a blank line between rows."""
        table = self.table
        if table.title:
            yield _text(table.title)
        headers = [" ".join(col[0].split()) for col in texts]
        rows = list(zip(*(list(column.cells) for column in table.columns)))
        for i, row in enumerate(rows):
            if i:
                yield Text("")
            for header, cell in zip(headers, row):
                line = Text.assemble((f"{header}: ", "bold"), _text(cell))
                line.overflow = "fold"
                yield line


def _widths(need: list[int], natural: list[int], room: int) -> list[int]:
    """Column widths from the longest words up, sharing what is left towards the natural widths."""
    widths = list(need)
    left = room - sum(need)
    wants = [n - w for n, w in zip(natural, widths)]
    total = sum(wants)
    if total > 0:
        for i, want in enumerate(wants):
            widths[i] += min(want, left * want // total)
    return widths
