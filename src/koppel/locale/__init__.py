"""The command line's language: its texts, plurals, numbers and times in the user's locale.

English is the default; Dutch with ``LANG=nl_NL.UTF-8`` (or ``LC_ALL``, ``LC_MESSAGES``, ``LANGUAGE``,
``KOPPEL_LANG``) or ``koppel --lang nl``. Texts come from gettext catalogues compiled by Babel
(``nl/LC_MESSAGES/koppel.po`` → ``.mo``, shipped with the package); numbers and times are formatted by
Babel, never by hand. A :class:`Language` is a value: renderers receive it, nothing reads a global.

Updating the catalogue (see docs/cli.md)::

    pybabel extract -F babel.cfg -o src/koppel/locale/koppel.pot .
    pybabel update -i src/koppel/locale/koppel.pot -d src/koppel/locale -D koppel
    pybabel compile -d src/koppel/locale -D koppel
"""

from __future__ import annotations

import datetime as dt
import gettext
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from babel.numbers import format_decimal

__all__ = ["DOMAIN", "LOCALE_DIR", "SUPPORTED", "Language", "choose", "language", "system_zone"]

DOMAIN = "koppel"
LOCALE_DIR = Path(__file__).resolve().parent
SUPPORTED = ("en", "nl")
_BABEL_LOCALE = {"en": "en_GB", "nl": "nl_NL"}
_ENV_ORDER = ("LC_ALL", "LC_MESSAGES", "LANG")


def choose(option: str | None, env: Mapping[str, str]) -> str:
    """The language code: ``--lang`` wins, then ``KOPPEL_LANG``, then the locale the usual way — ``LANGUAGE``
    (unless the locale is C), ``LC_ALL``, ``LC_MESSAGES``, ``LANG``. Anything that is not Dutch is English."""
    if option:
        return _code(option)
    if env.get("KOPPEL_LANG"):
        return _code(env["KOPPEL_LANG"])
    locale = next((env[name] for name in _ENV_ORDER if env.get(name)), "")
    if env.get("LANGUAGE") and locale.split(".")[0] not in ("C", "POSIX"):
        return _code(env["LANGUAGE"].split(":")[0])
    return _code(locale)


def _code(value: str) -> str:
    lang = value.strip().lower().replace("-", "_").split("_")[0].split(".")[0]
    return lang if lang in SUPPORTED else "en"


def system_zone(env: Mapping[str, str] | None = None) -> dt.tzinfo:
    """The zone of this machine: ``TZ``, else what ``/etc/localtime`` points at, else the offset now."""
    env = os.environ if env is None else env
    names = [env.get("TZ", "").lstrip(":")]
    try:
        names.append(str(Path("/etc/localtime").resolve()).partition("/zoneinfo/")[2])
    except OSError:
        pass
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return dt.datetime.now().astimezone().tzinfo or dt.UTC


def _as_written(text: str) -> str:
    return text


@dataclass(frozen=True)
class Language:
    """One language to show things in: its texts (gettext), plurals, numbers, and the zone times are shown in.

    ``say`` puts a text the core wrote in English (a plan's reason, a guard's hold) in this language where it
    knows the phrase, and leaves it as written otherwise."""

    code: str
    translations: gettext.NullTranslations = field(repr=False)
    zone: dt.tzinfo = dt.UTC
    say: Callable[[str], str] = field(default=_as_written, repr=False, compare=False)

    def _(self, message: str) -> str:
        """``message`` in this language (the msgid is the English text)."""
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The singular or plural form for ``n`` (by the language's own plural rule)."""
        return self.translations.ngettext(singular, plural, n)

    def num(self, value: float) -> str:
        """A number as the language writes it: 18,907 in English, 18.907 in Dutch."""
        return format_decimal(value, locale=_BABEL_LOCALE[self.code])

    def time(self, value: str | dt.datetime | None) -> str:
        """An instant in the local zone with the zone's name, ``2026-12-04 19:42 CET``; text that is not an ISO
        time is returned as it is, None as ``-``. A time without zone is taken as UTC (how the state stores it)."""
        if value is None:
            return "-"
        when = value
        if isinstance(value, str):
            try:
                when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return value
        assert isinstance(when, dt.datetime)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return format_datetime(when, "yyyy-MM-dd HH:mm zzz", tzinfo=self.zone, locale=_BABEL_LOCALE[self.code])

    def in_zone(self, zone: dt.tzinfo) -> Language:
        return replace(self, zone=zone)

    def with_phrases(self, say: Callable[[str], str]) -> Language:
        return replace(self, say=say)


def language(code: str, zone: dt.tzinfo | None = None) -> Language:
    """The :class:`Language` for ``code`` (``en`` or ``nl``), its catalogue loaded from the package."""
    code = _code(code)
    if code == "en":
        translations: gettext.NullTranslations = gettext.NullTranslations()
    else:
        from babel.support import Translations

        translations = Translations.load(str(LOCALE_DIR), [code], DOMAIN)
    return Language(code, translations, zone or system_zone())
