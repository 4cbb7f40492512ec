"""Rows as CSV for people's spreadsheets: one header, nested values as JSON, empty for missing.

The CLI's ``--format csv`` and the API's ``?format=csv`` share it, so a file downloaded from either
opens the same way."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO


def csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def write_csv(stream: TextIO, rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    writer = csv.DictWriter(stream, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: csv_value(value) for key, value in row.items()})
