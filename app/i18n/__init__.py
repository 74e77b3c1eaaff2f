"""UI strings: one catalogue per language (`id` Bahasa Indonesia, the default; `en` English) and `t()` to look them up.

Keys are dotted by where they are used (`report.title`, `col.opened`). Every
catalogue holds the same keys (a test checks it), so a missing translation
fails CI rather than a page.
"""

from __future__ import annotations

from typing import Literal

from app.i18n import en, id as id_

Lang = Literal["id", "en"]
LANGS: tuple[Lang, ...] = ("id", "en")
DEFAULT_LANG: Lang = "id"
CATALOGUES: dict[str, dict[str, str]] = {"id": id_.STRINGS, "en": en.STRINGS}


def t(key: str, lang: str = DEFAULT_LANG, **values: object) -> str:
    """The string `key` in `lang` (an unknown language falls back to the default), formatted with `values`."""
    text = CATALOGUES.get(lang, CATALOGUES[DEFAULT_LANG])[key]
    return text.format(**values) if values else text
