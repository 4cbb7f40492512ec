"""Tables on the terminal that never cut an identifier.

A battery code, a VIN, a credit code or a collection point id is copied from a table into the
next command (``show CODE``, ``--manufacturer``), so it is always printed whole, on one line: Rich's
default squeezes a narrow table by cutting cells to ``0SVPBB1KFBYU04HCH0003…``. Identifier columns
here keep their full width and never wrap; the other columns share what is left and fold their
text onto more lines. When even that does not fit the terminal (many columns at 80 characters),
each row is printed as a block of ``column  value`` lines instead, where every value fits whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rich.box import HEAVY_HEAD
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Columns holding something a person copies into another command: kept whole, on one line.
IDENTIFIER = re.compile(r"^(id|code|vin|held_by|by)$|_(id|code)$")
NARROWEST_TEXT_COLUMN = 6  # below this a folded column is unreadable: print blocks instead
BORDER_AND_PADDING = 3  # per column: a vertical line and one space either side


def is_identifier(column: str) -> bool:
    return bool(IDENTIFIER.search(column))


def cell_text(value: Any) -> str:
    """A cell as people read it: empty for missing, large numbers grouped, small ones short."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return str(value)


def print_table(
    target: Console,
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    title: str | None = None,
    headers: Sequence[str] | None = None,
    error_style: dict[str, str] | None = None,
) -> None:
    """``rows`` as a table on ``target`` with identifiers whole (see the module's docstring).
    ``headers`` are the words shown for ``columns``; ``error_style`` styles a column (e.g. red)."""
    shown = list(headers or columns)
    cells = [[cell_text(row.get(column)) for column in columns] for row in rows]
    widths = _fitting_widths(target.width, columns, shown, cells)
    if widths is None:
        _print_blocks(target, columns, shown, cells, title=title)
        return
    table = Table(title=title, box=HEAVY_HEAD)
    for column, header, width in zip(columns, shown, widths, strict=True):
        style = (error_style or {}).get(column)
        if is_identifier(column):
            table.add_column(header, width=width, no_wrap=True, overflow="ignore", style=style)
        else:
            table.add_column(header, width=width, overflow="fold", style=style)
    for row in cells:
        table.add_row(*(Text(value) for value in row))
    target.print(table)
    if not rows:
        target.print("(no rows)")


def _fitting_widths(
    total: int, columns: Sequence[str], headers: Sequence[str], cells: list[list[str]]
) -> list[int] | None:
    """Content widths that fit ``total`` with identifiers whole, or None when none do."""
    budget = total - 1 - BORDER_AND_PADDING * len(columns)
    natural = [
        max([cell_len(header)] + [cell_len(row[index]) for row in cells])
        for index, header in enumerate(headers)
    ]
    widths = list(natural)  # identifiers keep theirs (header included: it does not wrap either)
    flexible = [index for index, column in enumerate(columns) if not is_identifier(column)]
    while sum(widths) > budget:
        widest = max(flexible, key=lambda index: widths[index], default=None)
        if widest is None or widths[widest] <= NARROWEST_TEXT_COLUMN:
            return None
        widths[widest] -= 1
    return widths


def _print_blocks(
    target: Console,
    columns: Sequence[str],
    headers: Sequence[str],
    cells: list[list[str]],
    *,
    title: str | None,
) -> None:
    """One block per row, ``header  value`` a line: every value whole on the narrowest terminal."""
    if title:
        target.rule(title)
    label_width = max((cell_len(header) for header in headers), default=0)
    for number, row in enumerate(cells, start=1):
        target.print(Text(f"── {number} ──", style="bold"))
        for column, header, value in zip(columns, headers, row, strict=True):
            line = Text(header + " " * (label_width - cell_len(header) + 2), style="dim")
            line.append(value)
            target.print(line, soft_wrap=is_identifier(column))
    if not cells:
        target.print("(no rows)")
