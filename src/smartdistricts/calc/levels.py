"""Levels of each index: code, range, colour, names, a short description and advice lines.

The tables live in ``calc/data/levels.json``. Each level covers the half-open range
``[min, max)`` of its index (``max`` is ``None`` on the top level), as Airly's levels do: a value
of exactly 25.0 is ``LOW`` on the ``AIRLY_CAQI`` scale, 24.84 is ``VERY_LOW``. NaN (no value)
maps to the ``UNKNOWN`` level. Descriptions and advice come in Polish (``"pl"``) and English
(``"en"``); levels of similar severity share the same set of advice lines. All texts are the
project's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smartdistricts.calc.tables import check_choice, read_json

__all__ = [
    "INDEX_NAMES",
    "LANGUAGES",
    "Level",
    "advice",
    "index_levels",
    "level",
    "level_codes",
    "levels_of",
    "unknown_level",
]

#: Languages of the texts.
LANGUAGES = ("pl", "en")


@dataclass(frozen=True)
class Level:
    """One level of an index scale.

    ``min`` and ``max`` bound the half-open range ``[min, max)`` of index values; ``max`` is
    ``None`` on the top level and both are ``None`` for ``UNKNOWN``. ``values`` is the range as
    a label ("0-25", "125+"). ``label`` is the level's name, ``description`` a short sentence
    and ``advice`` several advice lines, each keyed by language (``"pl"``, ``"en"``).
    """

    code: str
    min: float | None
    max: float | None
    values: str
    color: str
    label: dict[str, str]
    description: dict[str, str]
    advice: dict[str, tuple[str, ...]]

    def meta(self, lang: str = "en") -> dict[str, Any]:
        """The level in the shape of an entry of Airly's ``/v2/meta/indexes`` ``levels`` list.

        >>> entry = level("AIRLY_CAQI", 130.0).meta()
        >>> entry["level"], entry["minValue"], entry["maxValue"], entry["values"]
        ('AIRMAGEDDON', 125.0, None, '125+')
        """
        check_choice("lang", lang, LANGUAGES)
        return {
            "minValue": self.min,
            "maxValue": self.max,
            "values": self.values,
            "level": self.code,
            "description": self.label[lang],
            "color": self.color,
        }


def _values_label(low: float, high: float | None) -> str:
    return f"{low:g}+" if high is None else f"{low:g}-{high:g}"


def _load() -> tuple[dict[str, tuple[Level, ...]], dict[str, Level]]:
    data = read_json("levels.json")
    tiers = data["tiers"]
    unknown = data["unknown"]
    tables: dict[str, tuple[Level, ...]] = {}
    unknowns: dict[str, Level] = {}
    for name, spec in data["indexes"].items():
        levels = []
        for item in spec["levels"]:
            tier = tiers[item["tier"]]
            low = float(item["min"])
            high = None if item["max"] is None else float(item["max"])
            levels.append(
                Level(
                    code=item["code"],
                    min=low,
                    max=high,
                    values=item.get("values", _values_label(low, high)),
                    color=item["color"],
                    label=dict(item["label"]),
                    description=dict(tier["description"]),
                    advice={lang: tuple(lines) for lang, lines in tier["advice"].items()},
                )
            )
        tables[name] = tuple(levels)
        unknowns[name] = Level(
            code=unknown["code"],
            min=None,
            max=None,
            values="",
            color=unknown["color"],
            label=dict(unknown["label"]),
            description=dict(unknown["description_by_index"].get(name, unknown["description"])),
            advice={lang: () for lang in LANGUAGES},
        )
    return tables, unknowns


_TABLES, _UNKNOWN = _load()
#: Index scales with level tables.
INDEX_NAMES = tuple(_TABLES)
_MINS = {name: np.array([lv.min for lv in levels]) for name, levels in _TABLES.items()}
_CODES = {
    name: np.array([lv.code for lv in levels] + [_UNKNOWN[name].code])
    for name, levels in _TABLES.items()
}


def _position(index_name: str, values: ArrayLike) -> NDArray[np.intp]:
    """Level position of each value; ``len(levels)`` stands for UNKNOWN (NaN or below min)."""
    mins = _MINS[check_choice("index_name", index_name, INDEX_NAMES)]
    array = np.asarray(values, dtype=np.float64)
    position = np.searchsorted(mins, array, side="right") - 1
    unknown = np.isnan(array) | (position < 0)
    return np.where(unknown, len(mins), position)


def index_levels(index_name: str) -> list[Level]:
    """The levels of an index scale, lowest first (a new list; ``UNKNOWN`` not included).

    Parameters
    ----------
    index_name : str
        One of :data:`INDEX_NAMES`: ``"AIRLY_CAQI"``, ``"CAQI"``, ``"PIJP"``, ``"GIOS"``,
        ``"EAQI_2024"``, ``"EAQI_2019"``, ``"US_AQI"``, ``"DAQI"``.

    Returns
    -------
    list of Level

    Notes
    -----
    For Airly's ``/v2/meta/indexes`` use ``[lv.meta("en") for lv in index_levels(name)]``.
    Scales: ``AIRLY_CAQI`` as Airly splits the CAQI (HIGH 75–87.5, VERY_HIGH 87.5–100, EXTREME
    100–125, AIRMAGEDDON 125+); ``CAQI`` the five CITEAIR classes; ``PIJP`` Airly's 0–10 scale
    for the Polish index (how Airly computes it is unverified); ``GIOS`` the categories 0–5 of
    :func:`~smartdistricts.calc.gios.gios_index`; ``EAQI_2024``/``EAQI_2019`` bands 1–6 of
    :func:`~smartdistricts.calc.eaqi.eaqi`; ``US_AQI`` the six EPA categories; ``DAQI`` the
    index values 1–10. Colours of CAQI, EAQI_2019 and DAQI vary between sources.

    References
    ----------
    [AIRLY-DOCS] (recorded ``/v2/meta/indexes``, 2020); [CITEAIR2012]; [GIOS]; [EEA2024];
    [EPA2024]; [DEFRA-DAQI].

    Examples
    --------
    >>> [lv.values for lv in index_levels("AIRLY_CAQI")]
    ['0-25', '25-50', '50-75', '75-87.5', '87.5-100', '100-125', '125+']
    """
    check_choice("index_name", index_name, INDEX_NAMES)
    return list(_TABLES[index_name])


def unknown_level(index_name: str) -> Level:
    """The ``UNKNOWN`` level of an index (no value), colour #999999.

    >>> unknown_level("AIRLY_CAQI").description["en"]
    'There are no Airly sensors in this area yet.'
    """
    check_choice("index_name", index_name, INDEX_NAMES)
    return _UNKNOWN[index_name]


def level(index_name: str, value: float) -> Level:
    """The level of one index value.

    Parameters
    ----------
    index_name : str
        One of :data:`INDEX_NAMES`.
    value : float
        Index value on that scale (unrounded values are fine).

    Returns
    -------
    Level
        The level whose ``[min, max)`` contains ``value``; ``UNKNOWN`` for NaN and for values
        below the scale (e.g. negative).

    Notes
    -----
    Half-open ranges as Airly: recorded 24.84 → VERY_LOW and 25.07 → LOW; exactly 25.0 is LOW
    (an exact boundary was not observed in Airly data).

    Examples
    --------
    >>> level("AIRLY_CAQI", 24.84).code, level("AIRLY_CAQI", 25.0).code
    ('VERY_LOW', 'LOW')
    >>> level("AIRLY_CAQI", 75.49).color
    '#EF7120'
    >>> level("US_AQI", float("nan")).code
    'UNKNOWN'
    """
    position = int(_position(index_name, float(value)))
    levels = _TABLES[index_name]
    return levels[position] if position < len(levels) else _UNKNOWN[index_name]


def level_codes(index_name: str, values: ArrayLike) -> NDArray[np.str_]:
    """Level codes of many index values at once (vectorised :func:`level`).

    Parameters
    ----------
    index_name : str
        One of :data:`INDEX_NAMES`.
    values : array_like
        Index values.

    Returns
    -------
    numpy.ndarray of str
        Codes such as ``"VERY_LOW"``; ``"UNKNOWN"`` for NaN or values below the scale.

    Examples
    --------
    >>> level_codes("AIRLY_CAQI", [8.78, 25.0, 100.0, float("nan")]).tolist()
    ['VERY_LOW', 'LOW', 'EXTREME', 'UNKNOWN']
    """
    position = _position(index_name, values)
    return np.asarray(_CODES[index_name][position], dtype=np.str_)


def levels_of(index_name: str, values: ArrayLike) -> list[Level]:
    """The :class:`Level` of many index values at once (vectorised :func:`level`).

    Parameters
    ----------
    index_name : str
        One of :data:`INDEX_NAMES`.
    values : array_like
        Index values (1-d).

    Returns
    -------
    list of Level
        One per value; the ``UNKNOWN`` level for NaN or values below the scale.

    Examples
    --------
    >>> [lv.code for lv in levels_of("AIRLY_CAQI", [8.78, float("nan")])]
    ['VERY_LOW', 'UNKNOWN']
    """
    table = (*_TABLES[check_choice("index_name", index_name, INDEX_NAMES)], _UNKNOWN[index_name])
    return [table[p] for p in np.atleast_1d(_position(index_name, values)).tolist()]


def advice(index_name: str, value: float, lang: str = "pl", seed: int = 0) -> str | None:
    """One advice line for an index value, chosen deterministically by ``seed``.

    Parameters
    ----------
    index_name : str
        One of :data:`INDEX_NAMES`.
    value : float
        Index value.
    lang : str, default ``"pl"``
        ``"pl"`` or ``"en"``.
    seed : int, default 0
        Picks the line: the same seed gives the same line; passing e.g. the hour of the day
        makes the line change from hour to hour.

    Returns
    -------
    str or None
        The advice line; ``None`` for the ``UNKNOWN`` level (no value), as Airly's ``advice``
        is null there.

    Examples
    --------
    >>> advice("AIRLY_CAQI", 8.78, "en", seed=1)
    'Great time for a run, a bike ride or a long walk.'
    >>> advice("AIRLY_CAQI", float("nan")) is None
    True
    """
    check_choice("lang", lang, LANGUAGES)
    lines = level(index_name, value).advice[lang]
    return lines[seed % len(lines)] if lines else None
