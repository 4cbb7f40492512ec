"""Rows as CSV for people's spreadsheets: one header, nested values as JSON, empty for missing.

The CLI's ``--format csv`` and the API's ``?format=csv`` share it (``csv_chunks``, with the columns
of ``report_columns``), so a file downloaded from either has the same columns, order and values. It
writes rows as they come, a chunk of text at a time, so a whole report is never held in memory.

Text that people typed (a collection point's name is chosen by its operator) must not run as a
spreadsheet formula when the file is opened ("CSV injection", OWASP): a text cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a leading apostrophe, which
Excel, LibreOffice and Google Sheets show as plain text. Numbers are left alone: an ``int`` or
``float`` is never touched, and neither is text that is a plain decimal number (``-3.5``, ``+7``,
``1e-3``), which a spreadsheet reads as that number, not as a formula. The pages' own CSV builder
(``downloadCsv`` in static/js/common.js) follows the same rule.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")  # OWASP's list of characters that start a formula
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def neutralise_formula(text: str) -> str:
    """``text`` as a spreadsheet shows it literally: prefixed with ``'`` when it would start a
    formula, unchanged when it is a plain number or starts harmlessly."""
    if text.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_value(value: Any) -> Any:
    """One cell: empty for missing, JSON for nested values, text made formula-safe, numbers as is."""
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return neutralise_formula(json.dumps(value, ensure_ascii=False, default=str))
    if isinstance(value, str):
        return neutralise_formula(value)
    return value


ROWS_PER_CHUNK = 1000


def csv_chunks(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    header: Sequence[str] | None = None,
    *,
    rows_per_chunk: int = ROWS_PER_CHUNK,
) -> Iterator[str]:
    """CSV text: the header line (``header``, default the column keys), then the rows in
    ``columns`` order, yielded every ``rows_per_chunk`` rows (a streamed HTTP body, a file)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(header if header is not None else columns))
    pending = 0
    for row in rows:
        writer.writerow([csv_value(row.get(key)) for key in columns])
        pending += 1
        if pending == rows_per_chunk:
            yield _take(buffer)
            pending = 0
    yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def write_csv(
    stream: TextIO,
    rows: Iterable[dict[str, Any]],
    columns: Sequence[str],
    header: Sequence[str] | None = None,
) -> None:
    """Every row into ``stream`` (a file, stdout), chunk by chunk."""
    for text in csv_chunks(rows, columns, header):
        stream.write(text)
