"""Which language a page speaks, and its words.

The caller's choice wins in this order: ``?lang=`` (the switch on every page, remembered in a
cookie), the cookie, then ``Accept-Language`` with its quality values. Chinese is the default: the
platform serves the Chinese traceability system. Messages live in ``messages/{part}.{lang}.json`` (one
file per page and one shared) and go to the page whole (they are small), so the page's JavaScript
and the server render the same words.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
LANGUAGE_COOKIE = "bt_lang"


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page's language from the switch, the remembered choice or the browser's preferences."""
    for explicit in (query, cookie):
        if explicit and explicit.lower()[:2] in LANGUAGES:
            return explicit.lower()[:2]
    return _from_accept_language(accept_language or "")


def _from_accept_language(header: str) -> str:
    """The supported language the browser weights highest (``zh-CN,zh;q=0.9,en;q=0.8``)."""
    best, best_weight = DEFAULT_LANGUAGE, 0.0
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower()[:2]
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        weight -= position * 1e-6  # the earlier of two equal weights wins
        if language in LANGUAGES and weight > best_weight:
            best, best_weight = language, weight
    return best


@cache
def messages(language: str) -> dict[str, str]:
    """Every message of one language, by key."""
    merged: dict[str, str] = {}
    folder = resources.files(__package__).joinpath("messages")
    for part in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if part.name.endswith(f".{language}.json"):
            loaded: dict[str, Any] = json.loads(part.read_text("utf-8"))
            merged.update({key: str(value) for key, value in loaded.items()})
    return merged


def translate(language: str, key: str, **values: object) -> str:
    """One message with its ``{placeholders}`` filled; the key itself where it is missing."""
    template = messages(language).get(key) or messages(DEFAULT_LANGUAGE).get(key) or key
    return template.format(**values) if values else template
