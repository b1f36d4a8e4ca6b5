"""Server-rendered SVG charts for the portal's pages (no JavaScript).

* :func:`line_chart` — one or more series over time (hourly or daily means) with horizontal
  norm lines, each labelled with its value, e.g. PM2.5 and PM10 with the configured standard's
  24-hour limits; a series may be dashed (the forecast) and may have its own times.
* :func:`bar_chart` — an index history as bars coloured by level, with a text legend of the
  levels (colour is never the only cue: the bar's height is the value, every bar has a
  ``<title>`` tooltip with the time, value and level, and the legend names every level).

Every chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (referenced by
``aria-labelledby``) that sums the data up in words, so a screen reader gets the gist; the
page carries the numbers in text too. Texts come translated (gettext, ``places.po``); numbers
and times are formatted with Babel in the page's locale and time zone. Output is escaped
(:mod:`markupsafe`) and contains no script or event attribute.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as babel_datetime
from markupsafe import Markup, escape

from smartdistricts.web import i18n

__all__ = ["Bar", "Line", "Norm", "bar_chart", "line_chart", "nice_ticks"]

WIDTH = 720
_LEFT, _RIGHT, _TOP = 56, 16, 26
_AXIS_H = 26  # x tick labels under the plot
_LEGEND_ROW = 20
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
_INK = "#1a1a1a"
_GRID = "#d9d9d9"


@dataclass(frozen=True, slots=True)
class Line:
    """A series: ``values[i]`` at ``times[i]`` (Unix seconds), None where there is none."""

    key: str
    label: str
    times: Sequence[int]
    values: Sequence[float | None]
    color: str
    #: SVG ``stroke-dasharray`` (e.g. ``"6 4"``) or None for a solid line.
    dash: str | None = None


@dataclass(frozen=True, slots=True)
class Norm:
    """A horizontal line at ``value`` labelled ``label`` (e.g. a 24-hour limit)."""

    key: str
    label: str
    value: float
    color: str


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: the index ``value`` (None: no bar) over ``[time, time + step)`` with its
    level's ``color`` and ``label``."""

    time: int
    value: float | None
    color: str
    label: str


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]`` (steps of 1, 2 or 5 × 10ⁿ).

    >>> nice_ticks(0, 47)
    [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    >>> nice_ticks(1003.2, 1012.9)
    [1002.0, 1004.0, 1006.0, 1008.0, 1010.0, 1012.0, 1014.0]
    """
    if not high > low:
        high = low + 1.0
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    t = first
    while t < high + step * 0.999:
        ticks.append(round(t, 10))
        t += step
    return [float(x) for x in ticks]


def _digits(step: float) -> int:
    return 0 if step >= 1 else min(3, -math.floor(math.log10(step)))


def _time_ticks(start: int, end: int, tz: ZoneInfo) -> tuple[list[int], str]:
    """Tick times in ``[start, end]`` at round local times, and their Babel pattern."""
    span = end - start
    if span <= 2 * 86400:
        every = 3 if span <= 86400 else 6
        ticks = [
            t
            for t in range(start - start % 3600, end + 1, 3600)
            if t >= start and datetime.fromtimestamp(t, tz).hour % every == 0
        ]
        return ticks, "HH:mm"
    every_days = 1 if span <= 10 * 86400 else 5
    day = datetime.fromtimestamp(start, tz).date()
    ticks = []
    while True:
        t = int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())
        if t > end:
            break
        if t >= start and (every_days == 1 or day.day in (1, 6, 11, 16, 21, 26)):
            ticks.append(t)
        day += timedelta(days=1)
    return ticks, "d MMM"


@functools.lru_cache(maxsize=4096)
def _when(t: int, pattern: str, lang: str, tz: ZoneInfo) -> str:
    return babel_datetime(datetime.fromtimestamp(t, tz), pattern, locale=i18n.locale(lang))


def _f(x: float) -> str:
    """A coordinate with one decimal (compact SVG)."""
    return f"{x:.1f}"


def _open(chart_id: str, height: int, title: str, desc: str) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{cid}"'
        f' viewBox="0 0 {WIDTH} {height}" width="100%" role="img"'
        f' aria-labelledby="{cid}-t {cid}-d" {_FONT}>',
        f'<title id="{cid}-t">{escape(title)}</title>',
        f'<desc id="{cid}-d">{escape(desc)}</desc>',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]


def _x_axis(
    parts: list[str],
    start: int,
    end: int,
    sx: object,
    top: float,
    bottom: float,
    lang: str,
    tz: ZoneInfo,
) -> None:
    scale = sx  # a callable: time → x
    ticks, pattern = _time_ticks(start, end, tz)
    for t in ticks:
        x = _f(scale(t))  # type: ignore[operator]
        parts.append(f'<line x1="{x}" x2="{x}" y1="{_f(top)}" y2="{_f(bottom)}" stroke="{_GRID}"/>')
        parts.append(
            f'<text x="{x}" y="{_f(bottom + 16)}" text-anchor="middle" fill="{_INK}">'
            f"{escape(_when(t, pattern, lang, tz))}</text>"
        )
    parts.append(
        f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{_f(bottom)}" y2="{_f(bottom)}"'
        f' stroke="{_INK}"/>'
    )


def _y_axis(parts: list[str], ticks: list[float], sy: object, lang: str, unit: str) -> None:
    digits = _digits(ticks[1] - ticks[0]) if len(ticks) > 1 else 0
    for v in ticks:
        y = _f(sy(v))  # type: ignore[operator]
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y}" y2="{y}" stroke="{_GRID}"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y}" dy="4" text-anchor="end" fill="{_INK}">'
            f"{escape(i18n.format_number(v, lang, digits))}</text>"
        )
    parts.append(f'<text x="4" y="14" fill="{_INK}" font-size="11">{escape(unit)}</text>')


def _path(points: list[tuple[float, float] | None]) -> str:
    """An SVG path through the points, broken where a point is None."""
    out: list[str] = []
    pen_up = True
    for p in points:
        if p is None:
            pen_up = True
            continue
        out.append(("M" if pen_up else "L") + f"{_f(p[0])},{_f(p[1])}")
        pen_up = False
    return "".join(out)


def _legend(parts: list[str], items: list[tuple[str, str, str | None, str]], y: float) -> float:
    """Legend entries (label, colour, dash, kind "line"/"box") in rows; returns the last y."""
    x = float(_LEFT)
    for label, color, dash, kind in items:
        width = 40 + 7.5 * len(label)
        if x + width > WIDTH - _RIGHT and x > _LEFT:
            x = float(_LEFT)
            y += _LEGEND_ROW
        if kind == "box":
            parts.append(
                f'<rect x="{_f(x)}" y="{_f(y - 9)}" width="14" height="12" fill="{escape(color)}"'
                f' stroke="{_INK}" stroke-width="0.5"/>'
            )
        else:
            style = f' stroke-dasharray="{escape(dash)}"' if dash else ""
            parts.append(
                f'<line x1="{_f(x)}" x2="{_f(x + 20)}" y1="{_f(y - 4)}" y2="{_f(y - 4)}"'
                f' stroke="{escape(color)}" stroke-width="2.5"{style}/>'
            )
        parts.append(f'<text x="{_f(x + 24)}" y="{_f(y)}" fill="{_INK}">{escape(label)}</text>')
        x += width
    return y


def _rows_needed(labels: Sequence[str]) -> int:
    rows, x = 1, float(_LEFT)
    for label in labels:
        width = 40 + 7.5 * len(label)
        if x + width > WIDTH - _RIGHT and x > _LEFT:
            rows += 1
            x = float(_LEFT)
        x += width
    return rows


def _present(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and not math.isnan(v)]


def line_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    start: int,
    end: int,
    lines: Sequence[Line],
    unit: str,
    lang: str,
    tz: ZoneInfo,
    norms: Sequence[Norm] = (),
    zero_based: bool = True,
    height: int = 240,
) -> Markup:
    """An SVG line chart of ``lines`` over ``[start, end]`` (Unix seconds) with ``norms``.

    ``unit`` labels the y axis; ``zero_based`` starts it at 0 (concentrations) instead of
    near the lowest value (temperature, pressure). Returns markup safe to put in a page.
    """
    labels = [ln.label for ln in lines] + [n.label for n in norms]
    legend_rows = _rows_needed(labels)
    total_h = height + _AXIS_H + legend_rows * _LEGEND_ROW
    bottom = float(height)
    parts = _open(chart_id, total_h, title, desc)
    values = [v for ln in lines for v in _present(ln.values)]
    if not values:
        parts.append(
            f'<text x="{WIDTH // 2}" y="{height // 2}" text-anchor="middle" fill="{_INK}">'
            f"{escape(i18n.gettext(lang, 'Brak danych z tego okresu'))}</text>"
        )
    low = 0.0 if zero_based else min(values, default=0.0)
    high = max([*values, *(n.value for n in norms)], default=1.0)
    if not zero_based and values:
        pad = max((high - low) * 0.1, 0.5)
        low, high = low - pad, high + pad
    ticks = nice_ticks(low, high)
    y0, y1 = ticks[0], ticks[-1]
    span_t = max(end - start, 1)

    def sx(t: float) -> float:
        return _LEFT + (t - start) / span_t * (WIDTH - _LEFT - _RIGHT)

    def sy(v: float) -> float:
        return bottom - (v - y0) / (y1 - y0) * (bottom - _TOP)

    _y_axis(parts, ticks, sy, lang, unit)
    _x_axis(parts, start, end, sx, _TOP, bottom, lang, tz)
    for ln in lines:
        points: list[tuple[float, float] | None] = [
            None if v is None or math.isnan(v) else (sx(t), sy(v))
            for t, v in zip(ln.times, ln.values, strict=True)
        ]
        d = _path(points)
        if not d:
            continue
        style = f' stroke-dasharray="{escape(ln.dash)}"' if ln.dash else ""
        parts.append(
            f'<path class="series" data-variable="{escape(ln.key)}" d="{d}" fill="none"'
            f' stroke="{escape(ln.color)}" stroke-width="2" stroke-linejoin="round"{style}/>'
        )
        for p, before, after in zip(points, [None, *points[:-1]], [*points[1:], None], strict=True):
            if p is not None and before is None and after is None:  # a lone point: a dot
                parts.append(
                    f'<circle cx="{_f(p[0])}" cy="{_f(p[1])}" r="2.5" fill="{escape(ln.color)}"/>'
                )
    for n in norms:
        y = _f(sy(n.value))
        parts.append(
            f'<g class="norm" data-variable="{escape(n.key)}">'
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y}" y2="{y}" stroke="{escape(n.color)}"'
            f' stroke-width="1.5" stroke-dasharray="2 3"/>'
            f'<text x="{WIDTH - _RIGHT - 4}" y="{y}" dy="-4" text-anchor="end" fill="{_INK}"'
            f' stroke="#ffffff" stroke-width="3" paint-order="stroke">{escape(n.label)}</text></g>'
        )
    items = [(ln.label, ln.color, ln.dash, "line") for ln in lines]
    items += [(n.label, n.color, "2 3", "line") for n in norms]
    _legend(parts, items, bottom + _AXIS_H + 14)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text and attribute above is escaped)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    step: int,
    bars: Sequence[Bar],
    legend: Sequence[tuple[str, str]],
    unit: str,
    lang: str,
    tz: ZoneInfo,
    height: int = 200,
) -> Markup:
    """An SVG bar chart: one bar per ``step`` seconds, coloured by level, with a legend of
    ``(label, colour)`` pairs (every level of the scale, so the colours can be read)."""
    legend_rows = _rows_needed([label for label, _c in legend])
    total_h = height + _AXIS_H + legend_rows * _LEGEND_ROW
    bottom = float(height)
    parts = _open(chart_id, total_h, title, desc)
    start = bars[0].time if bars else 0
    end = bars[-1].time + step if bars else step
    values = _present([b.value for b in bars])
    if not values:
        parts.append(
            f'<text x="{WIDTH // 2}" y="{height // 2}" text-anchor="middle" fill="{_INK}">'
            f"{escape(i18n.gettext(lang, 'Brak danych z tego okresu'))}</text>"
        )
    ticks = nice_ticks(0.0, max(values, default=1.0))
    top_v = ticks[-1]
    span_t = max(end - start, 1)

    def sx(t: float) -> float:
        return _LEFT + (t - start) / span_t * (WIDTH - _LEFT - _RIGHT)

    def sy(v: float) -> float:
        return bottom - v / top_v * (bottom - _TOP)

    _y_axis(parts, ticks, sy, lang, unit)
    width = (WIDTH - _LEFT - _RIGHT) * step / span_t
    gap = 0.15 * width if width > 3 else 0.0
    for b in bars:
        if b.value is None or math.isnan(b.value):
            continue
        x, y = sx(b.time) + gap / 2, sy(b.value)
        when = _when(b.time, "d MMM, HH:mm", lang, tz)
        tip = f"{when}: {round(b.value)} ({b.label})"
        parts.append(
            f'<rect class="bar" x="{_f(x)}" y="{_f(y)}" width="{_f(max(width - gap, 0.5))}"'
            f' height="{_f(max(bottom - y, 0.5))}" fill="{escape(b.color)}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    _x_axis(parts, start, end, sx, _TOP, bottom, lang, tz)
    _legend(parts, [(label, color, None, "box") for label, color in legend], bottom + _AXIS_H + 14)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text and attribute above is escaped)
