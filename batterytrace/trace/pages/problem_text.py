"""A refusal in the reader's language, from the problem's stable ``code`` and its ``params``.

The API answers every refusal with an English ``detail`` (for programs and logs) and, for the
refusals a page shows a person, a message key and the values it needs (``{"code":
"battery.not_holder", "params": {"code": "…", "action": "hand over"}}``). Pages look the key up as
``problem.{code}`` in their catalogue; a code they do not know falls back to the English detail,
so a newer server's refusal still says something. The page scripts do the same in
``static/js/common.js`` (``BT.problemText``), with the same rules for the values below.

Values that are words of the domain are translated too: ``state`` by the state names the public
page uses, ``action`` both as a past participle (``{action}``) and as a verb (``{verb}``),
``allowed`` (actions) as a list of verbs, ``segment`` (of a battery code) and ``roles``; codes,
ids, names and numbers stay as they are.

The API's ``detail`` is written in English for the person who made the request, so an English page
shows it word for word (the same sentence as the API answer and the server log, often more
specific than a catalogue message could be); the catalogue ``messages/problems.zh.json`` holds
the other language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from batterytrace.trace.pages.i18n import translate

DETAIL_LANGUAGE = "en"  # the language the API's ``detail`` is written in


def _key(value: object) -> str:
    """A domain word as a message-key segment (``"hand over"`` -> ``hand_over``)."""
    return str(value).replace(" ", "_").replace("-", "_").replace("'", "")


def _word(language: str, prefix: str, value: object) -> str:
    key = f"{prefix}.{_key(value)}"
    words = translate(language, key)
    return str(value) if words == key else words


def readable_params(language: str, params: Mapping[str, Any]) -> dict[str, str]:
    """The params as the message shows them, domain words translated."""
    separator = translate(language, "problem.list_separator")
    shown: dict[str, str] = {}
    for name, value in params.items():
        if name == "state":
            shown[name] = _word(language, "public.state", value)
        elif name == "action":
            shown["action"] = _word(language, "problem.action", value)
            shown["verb"] = _word(language, "problem.verb", value)
        elif name == "allowed":
            verbs = [_word(language, "problem.verb", action) for action in value or ()]
            shown[name] = separator.join(verbs) or translate(language, "problem.allowed.none")
        elif name == "segment":
            shown[name] = _word(language, "problem.segment", value)
        elif name == "roles":
            shown[name] = separator.join(_word(language, "problem.role", role) for role in value or ())
        else:
            shown[name] = str(value)
    return shown


def problem_text(language: str, code: str | None, params: Mapping[str, Any] | None, fallback: str) -> str:
    """The message for ``code`` in ``language``, or ``fallback`` (the English detail) when the
    catalogue has no such message or the message needs a value the params do not carry."""
    if not code or language == DETAIL_LANGUAGE:
        return fallback
    key = f"problem.{code}"
    template = translate(language, key)
    if template == key:
        return fallback
    try:
        return template.format(**readable_params(language, params or {}))
    except (KeyError, IndexError, ValueError):
        return fallback
