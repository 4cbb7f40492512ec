"""A page's HTML: the shared shell (header, language switch, messages) around the page's body.

Bodies are HTML files in ``templates/``; words in them are keys (``data-i18n="signin.title"``)
that the shell's script fills from the messages of the chosen language, so one body serves both
languages. The messages are embedded as JSON; ``html.escape`` is not enough for a ``<script>``
block, so ``<``, ``>`` and ``&`` are escaped as JSON unicode escapes there.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from string import Template

from batterytrace.trace.pages.i18n import LANGUAGES, messages, translate

STATIC = "/static"


@cache
def _template(name: str) -> Template:
    return Template(resources.files(__package__).joinpath("templates", name).read_text("utf-8"))


def _script_json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@cache
def render_page(page: str, language: str, *, title_key: str, scripts: tuple[str, ...] = ()) -> str:
    """The page ``templates/{page}.html`` inside the shell, in ``language`` (rendered once per
    page and language: nothing in it depends on the request)."""
    other = next(code for code in LANGUAGES if code != language)
    script_tags = "\n".join(f'<script src="{STATIC}/{path}" defer></script>' for path in scripts)
    return _template("shell.html").substitute(
        lang=language,
        other_lang=other,
        other_lang_name=translate(language, "lang.switch"),
        title=translate(language, title_key),
        site_name=translate(language, "site.name"),
        page=page,
        messages=_script_json(messages(language)),
        static=STATIC,
        body=_template(f"{page}.html").substitute(static=STATIC),
        scripts=script_tags,
    )
