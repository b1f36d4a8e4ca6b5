"""The town's air box: what the embeddable widget shows, as data.

:func:`widget_data` turns one site's air (:class:`~smartdistricts.services.airnow.SiteAir`) into
the widget's JSON twin. The HTML page, the ``<script>`` snippet and ``/widget/{id}.json`` all
render this one dictionary, so they cannot disagree. The items are those of the box the town's
website showed until 2019 (Airly's), in its order and number formats::

    14°C                                  temperature, rounded
    9                                     AIRLY_CAQI, rounded
    Powietrze
    <description of the level>
    <one advice line>
    PM1: 4.03
    PM25: 5.27 (21,08%)                   percent of the configured standard
    PM10: 7.06 (14,12%)
    Temperatura: 14.09°C
    Ciśnienie: 1004.05 hPa
    Wilgotność: 71.97%
    Dane z 21.05.2019 22:30, airly.pl     newest reading, in the town's time zone

Values are shown with two decimals and a decimal point, as the original box did; Polish
percentages use a decimal comma (``21,08%``), English ones a point. Rounding is half up on the
decimal value. The colour of the level is the background of the index area and the text colour
there is black or white, whichever contrasts more (at least 4.58:1, above WCAG AA's 4.5:1).

Values come from the last 60 minutes; when that window is empty but the site sent data less than
two hours ago, the newest hourly mean stands in. A site silent for more than two hours is in the
``no_data`` state: no values, a message saying so, and when the last data came.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from smartdistricts.config import Settings
from smartdistricts.indices import advice, level, standard_percent, unknown_level
from smartdistricts.nomenclature import variable
from smartdistricts.services.airly import index_value
from smartdistricts.services.airnow import SiteAir, Window

__all__ = [
    "INDEX",
    "LANGUAGES",
    "STALE_AFTER",
    "contrast_ratio",
    "relative_luminance",
    "source_label",
    "text_color",
    "widget_data",
]

#: The index the box shows (Airly's hourly CAQI over PM2.5 and PM10).
INDEX = "AIRLY_CAQI"
#: Languages of the box; the first is the default.
LANGUAGES = ("pl", "en")
#: Seconds of silence after which the box shows no values [s].
STALE_AFTER = 2 * 3600
_BLACK, _WHITE = "#000000", "#FFFFFF"

#: The box's items: canonical variable, label as the original box printed it, unit suffix.
_ITEMS = (
    ("pm1", "PM1", ""),
    ("pm2_5", "PM25", ""),
    ("pm10", "PM10", ""),
    ("temp_air", "temperature", "°C"),
    ("pressure", "pressure", " hPa"),
    ("relative_humidity", "humidity", "%"),
)
_TEXTS: dict[str, dict[str, str]] = {
    "pl": {
        "title": "Powietrze",
        "temperature": "Temperatura",
        "pressure": "Ciśnienie",
        "humidity": "Wilgotność",
        "index": "Indeks jakości powietrza CAQI",
        "data_from": "Dane z {when}, {source}",
        "last_data_from": "Ostatnie dane z {when}, {source}",
        "no_data": "Brak aktualnych danych",
        "silent": "Czujnik milczy od ponad dwóch godzin, więc nie pokazujemy starych wartości.",
        "never": "Ten punkt pomiarowy nie przesłał jeszcze żadnych danych.",
        "no_pm": "Brak pomiarów pyłu",
    },
    "en": {
        "title": "Air",
        "temperature": "Temperature",
        "pressure": "Pressure",
        "humidity": "Humidity",
        "index": "Air quality index CAQI",
        "data_from": "Data from {when}, {source}",
        "last_data_from": "Last data from {when}, {source}",
        "no_data": "No current data",
        "silent": "The sensor has been silent for more than two hours, so no old values are shown.",
        "never": "This site has not sent any data yet.",
        "no_pm": "No particulate readings",
    },
}
#: Sources of imported data → the network credited; the town's own sensors get the attribution.
_NETWORKS = {
    "airly.pl": "airly.pl",
    "gios": "GIOŚ",
    "sensor.community-archive": "Sensor.Community",
    "sensor.community-api": "Sensor.Community",
    "madavi": "Sensor.Community",
}


def source_label(source: str | None, attribution: str) -> str:
    """Who the box credits for data from ``source``.

    Imported data names its network; the town's own sensors (``push``, ``mqtt``,
    ``batch-api``, ``demo``) and unknown sources are credited to ``attribution``.

    >>> source_label("gios", "Miasto Mińsk Mazowiecki")
    'GIOŚ'
    >>> source_label("push", "Miasto Mińsk Mazowiecki")
    'Miasto Mińsk Mazowiecki'
    """
    return _NETWORKS.get(source or "", attribution)


# -- colours -----------------------------------------------------------------------------------
def _channel(byte: int) -> float:
    c = byte / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(color: str) -> float:
    """WCAG 2.x relative luminance of a ``#RRGGBB`` colour [0, 1].

    >>> relative_luminance("#FFFFFF"), relative_luminance("#000000")
    (1.0, 0.0)
    """
    text = color.lstrip("#")
    if len(text) != 6:
        raise ValueError(f"color: expected #RRGGBB, got {color!r}")
    r, g, b = (int(text[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two ``#RRGGBB`` colours, from 1 to 21 (order does not matter).

    >>> round(contrast_ratio("#000000", "#6BC926"), 2)
    10.01
    """
    a, b = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def text_color(background: str) -> str:
    """Black or white, whichever contrasts more with ``background`` (always ≥ 4.58:1).

    >>> text_color("#6BC926"), text_color("#770078")
    ('#000000', '#FFFFFF')
    """
    black = contrast_ratio(_BLACK, background)
    return _BLACK if black >= contrast_ratio(_WHITE, background) else _WHITE


# -- numbers and times -------------------------------------------------------------------------
def _decimal(value: float, places: int) -> Decimal:
    """``value`` rounded half up (away from zero) on its shortest decimal form."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _whole(value: float) -> str:
    text = str(_decimal(value, 0))
    return "0" if text == "-0" else text


def _percent_text(percent: float, lang: str) -> str:
    text = f"{percent:.2f}%"
    return text.replace(".", ",") if lang == "pl" else text


def _local(t: float, settings: Settings) -> datetime:
    return datetime.fromtimestamp(t, settings.tz)


def _values(air: SiteAir, now: float) -> tuple[Window | None, bool]:
    """The window the box shows and whether the site is silent (no data for two hours)."""
    if air.latest is None or now - air.latest > STALE_AFTER:
        return None, True
    if air.current.values:
        return air.current, False
    for window in reversed(air.history):
        if window.values and window.end > now - STALE_AFTER:
            return window, False
    return None, True


# -- the box -----------------------------------------------------------------------------------
def _item(
    name: str, label: str, suffix: str, value: float, standard: str, lang: str
) -> dict[str, Any]:
    shown = float(_decimal(value, 2))
    display = f"{_decimal(value, 2)}{suffix}"
    percent: float | None = None
    if name in ("pm2_5", "pm10"):
        computed = float(standard_percent(value, variable=name, standard=standard))
        if not math.isnan(computed):
            percent = computed
            display += f" ({_percent_text(percent, lang)})"
    return {
        "name": name,
        "label": label,
        "value": shown,
        "unit": variable(name).unit,
        "percent": percent,
        "display": display,
        "text": f"{label}: {display}",
    }


def _index(values: dict[str, float], lang: str, seed: int) -> dict[str, Any]:
    texts = _TEXTS[lang]
    value = index_value(INDEX, values)
    lv = unknown_level(INDEX) if value is None else level(INDEX, value)
    background = lv.color
    return {
        "name": INDEX,
        "label": texts["index"],
        "value": value,
        "text": "—" if value is None else _whole(value),
        "level": lv.code,
        "color": background,
        "text_color": text_color(background),
        "description": texts["no_pm"] if value is None else lv.description[lang],
        "advice": None if value is None else advice(INDEX, value, lang=lang, seed=seed),
    }


def widget_data(
    air: SiteAir, settings: Settings, *, lang: str = "pl", now: float | None = None
) -> dict[str, Any]:
    """The widget's JSON twin for one site.

    Parameters
    ----------
    air : SiteAir
        The site's air, from :meth:`smartdistricts.services.airnow.AirNow.site`.
    settings : Settings
        Uses ``standard`` (the percentages), ``attribution`` (credit for the town's own
        sensors) and ``tz`` (the time of the newest reading).
    lang : str, default ``"pl"``
        ``"pl"`` or ``"en"``.
    now : float, optional
        Unix time [s] the box is drawn at (default ``air.computed_at``): decides the
        ``no_data`` state and picks the advice line (one per hour).

    Returns
    -------
    dict
        ``installation`` (id, name), ``lang``, ``state`` (``"ok"`` or ``"no_data"``),
        ``title``, ``temperature`` (the rounded one at the top, or None), ``index`` (value,
        rounded ``text``, ``level``, ``color``, ``text_color``, ``description``, ``advice``),
        ``message`` (why nothing is shown, or None), ``items`` (each with ``name``, ``label``,
        ``value``, ``unit``, ``percent``, ``display`` and ``text`` — label and display
        joined by ``": "``), ``standard``, ``window`` (the averaging period), ``updated``
        (ISO time of the newest reading), ``source`` and ``footer``.
    """
    if lang not in _TEXTS:
        raise ValueError(f"lang: use one of {', '.join(LANGUAGES)}, got {lang!r}")
    texts = _TEXTS[lang]
    now = air.computed_at if now is None else now
    window, silent = _values(air, now)
    values = window.values if window is not None else {}
    index = _index(values, lang, seed=int(now) // 3600)
    items = [
        _item(name, texts.get(label, label), suffix, values[name], settings.standard, lang)
        for name, label, suffix in _ITEMS
        if name in values
    ]
    temperature = None
    if "temp_air" in values:
        temperature = {
            "label": texts["temperature"],
            "value": float(_decimal(values["temp_air"], 2)),
            "text": f"{_whole(values['temp_air'])}°C",
        }
    source = None if air.latest is None else source_label(air.source, settings.attribution)
    footer = updated = message = None
    if air.latest is not None:
        when = _local(air.latest, settings)
        updated = when.isoformat(timespec="seconds")
        template = texts["last_data_from" if silent else "data_from"]
        footer = template.format(when=when.strftime("%d.%m.%Y %H:%M"), source=source)
    if silent:
        index.update(description=texts["no_data"], advice=None)
        message = texts["never" if air.latest is None else "silent"]
    period = None
    if window is not None:
        period = {
            "from": _local(window.start, settings).isoformat(timespec="seconds"),
            "to": _local(window.end, settings).isoformat(timespec="seconds"),
        }
    return {
        "installation": {"id": air.site.id, "name": air.site.name},
        "lang": lang,
        "state": "no_data" if silent else "ok",
        "title": texts["title"],
        "temperature": temperature,
        "index": index,
        "message": message,
        "items": items,
        "standard": settings.standard,
        "window": period,
        "updated": updated,
        "source": source,
        "footer": footer,
    }
