"""The portal's languages: gettext catalogues and locale-aware numbers and dates (Babel).

Polish is the source language: message ids are the Polish texts, so Polish needs no catalogue.
English translations live in ``web/locale/en/LC_MESSAGES/<area>.po``, one file per area
(``portal.po``, ``places.po``, ``editor.po``, ``alerts.po``). Every ``*.po`` file of a language
is read with Babel and merged into one table the first time the language is used; no ``.mo``
files exist. Fuzzy and untranslated entries are skipped, so the Polish text shows instead.

Templates call ``{{ _("Tekst") }}`` or ``{% trans %}…{% endtrans %}`` (``jinja2.ext.i18n``,
new-style: ``_("Dane z %(when)s", when=…)`` escapes its arguments); the language is the
template variable ``lang`` (see :mod:`smartdistricts.web.pages`). Python code calls
:func:`gettext` with the language.

>>> gettext("pl", "Aktualności")
'Aktualności'
>>> format_number(21.0853, "pl", 2), format_number(21.0853, "en", 2)
('21,09', '21.09')
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.messages.catalog import Message
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = [
    "DEFAULT",
    "LANGS",
    "PoEntry",
    "catalogue",
    "format_date",
    "format_datetime",
    "format_number",
    "format_recent",
    "gettext",
    "locale",
    "ngettext",
    "po_entries",
    "reload",
]

#: The portal's languages; the first is the default (served at the root, ``/``).
LANGS = ("pl", "en")
DEFAULT = LANGS[0]
#: Babel locale of each language (English dates as in the UK: day before month).
_LOCALES = {"pl": Locale.parse("pl_PL"), "en": Locale.parse("en_GB")}
#: Date patterns (CLDR): "21 maja 2019" / "21 May 2019", with the time "…, 22:30".
_DATE = "d MMMM y"
_DATETIME = "d MMMM y, HH:mm"
_DOMAIN_DIR = "LC_MESSAGES"

Translation = str | tuple[str, ...]
_lock = threading.Lock()
_tables: dict[str, dict[str | tuple[str, ...], Translation]] = {}


@dataclass(frozen=True, slots=True)
class PoEntry:
    """One message of one ``.po`` file (for the catalogue checks in the tests)."""

    file: str
    id: str | tuple[str, ...]
    string: Translation
    fuzzy: bool


def _check(lang: str) -> str:
    if lang not in _LOCALES:
        raise ValueError(f"lang: use one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def _po_files(lang: str) -> Iterator[Traversable]:
    folder = resources.files("smartdistricts.web").joinpath("locale", lang, _DOMAIN_DIR)
    if not folder.is_dir():
        return
    yield from sorted((f for f in folder.iterdir() if f.name.endswith(".po")), key=lambda f: f.name)


def po_entries(lang: str) -> list[PoEntry]:
    """Every message of every ``.po`` file of ``lang`` (header excluded), file by file."""
    found = []
    for file in _po_files(_check(lang)):
        with file.open("rb") as handle:
            catalog = read_po(handle, locale=str(_LOCALES[lang]))
        message: Message
        for message in catalog:
            if not message.id:
                continue
            key = message.id if isinstance(message.id, str) else tuple(message.id)
            raw = message.string or ""
            string = raw if isinstance(raw, str) else tuple(raw)
            found.append(PoEntry(file.name, key, string, message.fuzzy))
    return found


def _usable(string: Translation) -> bool:
    if isinstance(string, tuple):
        return all(string)
    return bool(string)


def catalogue(lang: str) -> dict[str | tuple[str, ...], Translation]:
    """The merged translations of ``lang`` (message id → text); empty for Polish."""
    table = _tables.get(_check(lang))
    if table is None:
        with _lock:
            table = _tables.get(lang)
            if table is None:
                entries = po_entries(lang)
                table = {e.id: e.string for e in entries if not e.fuzzy and _usable(e.string)}
                _tables[lang] = table
    return table


def reload() -> None:
    """Forget the loaded catalogues (they are read again on next use)."""
    with _lock:
        _tables.clear()


def gettext(lang: str, message: str) -> str:
    """``message`` (Polish) in ``lang``; the Polish text when there is no translation."""
    found = catalogue(lang).get(message)
    return found if isinstance(found, str) else message


def ngettext(lang: str, singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for ``n`` in ``lang`` (the language's plural rule)."""
    found = catalogue(lang).get((singular, plural))
    if isinstance(found, tuple) and found:
        index = _plural_index(lang, n)
        return found[min(index, len(found) - 1)]
    return singular if n == 1 else plural


def _plural_index(lang: str, n: int) -> int:
    rule = _LOCALES[lang].plural_form(abs(n))
    order = ("one", "few", "many", "other") if lang == "pl" else ("one", "other")
    return order.index(rule) if rule in order else len(order) - 1


def locale(lang: str) -> Locale:
    """The Babel locale of ``lang``."""
    return _LOCALES[_check(lang)]


def format_number(x: float, lang: str, digits: int = 0) -> str:
    """``x`` with ``digits`` decimals in the language's format (pl ``21,09``, en ``21.09``).

    Rounding is half up on the decimal value, as in the widget (``1004.05`` → ``1004,1``).
    Thousands are grouped from five digits on, as Polish writes them (``1004,05``,
    ``12 345``; English ``12,345``).
    """
    value = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    grouped = "#,##0" if abs(value) >= 10_000 else "0"
    pattern = grouped + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(value, format=pattern, locale=locale(lang))


def _zone(tz: tzinfo | str) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _moment(ts: float | datetime, tz: tzinfo | str) -> datetime:
    if isinstance(ts, datetime):
        return ts.astimezone(_zone(tz))
    return datetime.fromtimestamp(ts, _zone(tz))


def format_datetime(ts: float | datetime, lang: str, tz: tzinfo | str) -> str:
    """A moment (Unix seconds) as the town reads it: ``21 maja 2019, 22:30`` / ``21 May …``."""
    return _babel_datetime(_moment(ts, tz), _DATETIME, locale=locale(lang))


def format_date(ts: float | datetime | date, lang: str, tz: tzinfo | str) -> str:
    """The calendar day of a moment in ``tz``: ``21 maja 2019`` / ``21 May 2019``."""
    day = ts if isinstance(ts, date) and not isinstance(ts, datetime) else _moment(ts, tz).date()
    return _babel_date(day, _DATE, locale=locale(lang))


def format_recent(ts: float, lang: str, tz: tzinfo | str, now: float | None = None) -> str:
    """A recent moment, short: ``14:05`` today, else ``27 lis, 14:05`` / ``27 Nov, 14:05``."""
    moment = _moment(ts, tz)
    today = _moment(time.time() if now is None else now, tz).date()
    pattern = "HH:mm" if moment.date() == today else "d MMM, HH:mm"
    return _babel_datetime(moment, pattern, locale=locale(lang))
