"""Deterministic synthetic readings for the demo sites (a pure function of site and time).

The demo database and the ``simulate`` command's virtual airrohr devices both call
:func:`synthetic_values`, so the 30-day history and the live readings lie on the same curves:
every value depends only on ``(seed, site, timestamp)``, never on the length of the array it was
computed in or on global random state.

Building blocks
---------------
* A counter-based hash (SplitMix64 finaliser) of ``(seed, stream name, integer counter)`` gives
  reproducible uniform and Gaussian numbers; a stream name is e.g. ``"weather/pressure/96h"`` or
  ``"site/<slug>/pm"``.
* Smooth random components are *value noise*: Gaussian knots hashed from the integer time bucket
  ``floor(t / scale)``, joined by a Catmull-Rom spline and rescaled to unit variance. Several
  scales (hours to days) are summed, so weather anomalies are smooth, aperiodic and identical for
  a 30-day array and a single timestamp.
* Shared weather streams carry no site in their name: the four sites see the same weather, with
  small per-site offsets and local components.

Examples
--------
>>> import numpy as np
>>> from smartdistricts.demo import load_town
>>> site = load_town().site("wyszynskiego-56")
>>> t = np.array([1705780800, 1721494800])  # 2024-01-20 20:00 UTC, 2024-07-20 17:00 UTC
>>> v = synthetic_values(site, t)
>>> list(v)
['pm1', 'pm2_5', 'pm10', 'temp_air', 'relative_humidity', 'pressure']
>>> bool(np.all((v["pm1"] < v["pm2_5"]) & (v["pm2_5"] < v["pm10"])))
True
>>> v2 = synthetic_values(site, t[1:])
>>> all(v[k][1] == v2[k][0] for k in v)
True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smartdistricts.demo.town import DemoSite

__all__ = [
    "PROFILES",
    "VARIABLES",
    "SiteProfile",
    "SyntheticSeries",
    "demo_times",
    "synthetic_series",
    "synthetic_values",
    "warsaw_utc_offset",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]

#: Canonical variables returned by :func:`synthetic_values`, in airrohr order.
VARIABLES: Final = ("pm1", "pm2_5", "pm10", "temp_air", "relative_humidity", "pressure")

_DAY: Final = 86400.0
_HOUR: Final = 3600.0
_YEAR_DAYS: Final = 365.2422
_EPOCH_2000: Final = 946684800  # 2000-01-01T00:00:00Z, origin of the seasonal phase


@dataclass(frozen=True, slots=True)
class SiteProfile:
    """Site character used by the generator.

    ``heating`` multiplies the home-heating PM2.5 component [-]; ``traffic`` and ``industry`` are
    the amplitudes of the road-traffic and working-hours PM2.5 components [µg/m³]; ``pm10_ratio``
    is PM10/PM2.5 outside the heating season [-] (road dust makes it higher at a traffic site);
    ``temp_offset`` is the site's mean temperature offset [°C]; ``local_sigma`` the log-standard
    deviation of the site's own smooth PM component [-]; ``plumes`` scales short chimney plumes
    from neighbouring houses [-].
    """

    heating: float
    traffic: float
    industry: float
    pm10_ratio: float
    temp_offset: float
    local_sigma: float
    plumes: float


PROFILES: Final[dict[str, SiteProfile]] = {
    "residential": SiteProfile(1.25, 0.8, 0.0, 1.38, -0.3, 0.16, 1.0),
    "traffic": SiteProfile(0.9, 3.5, 0.0, 1.55, 0.4, 0.12, 0.3),
    "industrial": SiteProfile(0.9, 1.5, 3.0, 1.45, 0.2, 0.18, 0.3),
}


@dataclass(frozen=True, slots=True)
class SyntheticSeries:
    """Unrounded synthetic series for one site, plus the hidden "truth" behind the PM readings.

    ``pm2_5_true`` is what a reference (dried) instrument would read [µg/m³]; the sensor reports
    ``pm2_5 = pm2_5_true × humidity_growth``. All arrays have the shape of the input times.
    """

    pm1: F64
    pm2_5: F64
    pm10: F64
    temp_air: F64
    relative_humidity: F64
    pressure: F64
    pm2_5_true: F64
    humidity_growth: F64


# --- counter-based random numbers ------------------------------------------------------------

_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)
_MIX1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MIX2: Final = np.uint64(0x94D049BB133111EB)


def _key(seed: int, name: str) -> np.uint64:
    digest = hashlib.blake2b(f"{seed}/{name}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _mix(z: U64) -> U64:
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def _uniform(key: np.uint64, counter: I64) -> F64:
    """Uniform numbers in (0, 1) from ``(key, counter)``; no global state."""
    z = _mix(_mix(counter.astype(np.uint64) * _GOLDEN ^ key) + key)
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def _gauss(key: np.uint64, counter: I64) -> F64:
    """Standard normal numbers from ``(key, counter)`` (Box-Muller)."""
    u1 = _uniform(key, counter)
    u2 = _uniform(key ^ _GOLDEN, counter)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _noise(t: F64, seed: int, name: str, scale_s: float) -> F64:
    """Smooth unit-variance value noise with knots every ``scale_s`` seconds."""
    x = t / scale_s
    k = np.floor(x)
    u = x - k
    ki = k.astype(np.int64)
    lo = int(ki.min()) - 1
    knots = _gauss(_key(seed, name), np.arange(lo, int(ki.max()) + 3, dtype=np.int64))
    i = ki - lo
    u2, u3 = u * u, u * u * u
    w0 = 0.5 * (-u3 + 2.0 * u2 - u)
    w1 = 0.5 * (3.0 * u3 - 5.0 * u2 + 2.0)
    w2 = 0.5 * (-3.0 * u3 + 4.0 * u2 + u)
    w3 = 0.5 * (u3 - u2)
    value = w0 * knots[i - 1] + w1 * knots[i] + w2 * knots[i + 1] + w3 * knots[i + 2]
    return value / np.sqrt(w0 * w0 + w1 * w1 + w2 * w2 + w3 * w3)


def _octaves(
    t: F64, seed: int, name: str, scales_h: tuple[float, ...], weights: tuple[float, ...]
) -> F64:
    """Unit-variance sum of value noise at several scales [h]."""
    total = np.zeros_like(t)
    for scale, weight in zip(scales_h, weights, strict=True):
        total += weight * _noise(t, seed, f"{name}/{scale:g}h", scale * _HOUR)
    return total / float(np.sqrt(np.sum(np.square(weights))))


def _white(t: I64, seed: int, name: str) -> F64:
    """Independent standard normal noise per timestamp."""
    return _gauss(_key(seed, name), t)


# --- calendar and sun -------------------------------------------------------------------------


def warsaw_utc_offset(times: ArrayLike) -> I64:
    """UTC offset of Europe/Warsaw local time [s] for Unix times [s], vectorised.

    Notes
    -----
    Applies the EU summer-time rule in force since 1996 (CEST, +2 h, from 01:00 UTC on the last
    Sunday of March to 01:00 UTC on the last Sunday of October; CET, +1 h, otherwise). Not valid
    before 1996.

    Examples
    --------
    >>> warsaw_utc_offset([1704067200, 1719792000]).tolist()  # 2024-01-01, 2024-07-01
    [3600, 7200]
    """
    t = np.asarray(times, dtype=np.int64)
    year = t.astype("datetime64[s]").astype("datetime64[Y]")
    march31 = (year.astype("datetime64[M]") + 2).astype("datetime64[D]").astype(np.int64) + 30
    october31 = (year.astype("datetime64[M]") + 9).astype("datetime64[D]").astype(np.int64) + 30
    # Day numbers count from Thursday 1970-01-01; (day + 4) % 7 is the days since Sunday.
    start = (march31 - (march31 + 4) % 7) * 86400 + 3600
    end = (october31 - (october31 + 4) % 7) * 86400 + 3600
    return np.where((t >= start) & (t < end), 7200, 3600).astype(np.int64)


def _circular_bump(hour: F64, centre: float, width: float) -> F64:
    """Gaussian bump on the 24-hour clock [h]."""
    d = np.abs(hour - centre) % 24.0
    d = np.minimum(d, 24.0 - d)
    return np.exp(-0.5 * np.square(d / width))


def _diurnal_temperature(solar_hour: F64, sunrise: F64) -> F64:
    """Diurnal temperature shape in [-1, 1]: -1 at sunrise, +1 at 14:30 solar time.

    Cosine rise from sunrise to the afternoon maximum, cosine fall to the next sunrise; the curve
    and its slope are continuous.
    """
    since_sunrise = (solar_hour - sunrise) % 24.0
    rise = 14.5 - sunrise
    return np.where(
        since_sunrise <= rise,
        -np.cos(np.pi * since_sunrise / rise),
        np.cos(np.pi * (since_sunrise - rise) / (24.0 - rise)),
    )


def _heating_profile(local_hour: F64) -> F64:
    """Home-heating emissions on the local clock, before normalisation [-].

    Evening peak at 20 h (people come home and stoke the stove), a smaller one at 7:30.
    """
    return (
        0.35
        + 1.1 * _circular_bump(local_hour, 20.0, 2.4)
        + 0.3 * _circular_bump(local_hour, 7.5, 1.5)
    )


_HEATING_MEAN: Final = float(np.mean(_heating_profile(np.arange(0.0, 24.0, 0.125))))


def _kohler(h: F64, kappa: float) -> F64:
    """κ-Köhler bulk mass growth factor C(a_w) = 1 + (κ/1.65)/(1/a_w − 1) ([CRILLEY2018])."""
    return 1.0 + (kappa / 1.65) / (1.0 / h - 1.0)


def _growth(rh: F64, kappa: float, onset: float = 0.85, cap: float = 0.95) -> F64:
    """Sensor humidity artefact [-]: κ-Köhler growth at RH [%] relative to that at ``onset``."""
    h = np.clip(rh / 100.0, onset, cap)
    return _kohler(h, kappa) / _kohler(np.array([onset]), kappa)


def _magnus(temp: F64) -> F64:
    """ln of the saturation vapour pressure up to a constant (Magnus, WMO-2008 coefficients)."""
    return 17.62 * temp / (243.12 + temp)


# --- the model --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Clock:
    """Calendar and sun for each timestamp."""

    season: F64  # cos of the seasonal phase: 1 in late January, -1 in late July
    winter: F64  # (season + 1) / 2 [-]
    solar_hour: F64  # [h]
    sunrise: F64  # [h, solar time]
    local_hour: F64  # [h, Europe/Warsaw]
    workday: F64  # 1 Monday to Friday, 0 at weekends (local time)


def _clock(ti: I64, t: F64, site: DemoSite) -> _Clock:
    doy = ((t - _EPOCH_2000) / _DAY) % _YEAR_DAYS
    season = np.cos(2.0 * np.pi * (doy - 20.0) / _YEAR_DAYS)
    # Solar time from the longitude; sunrise from the declination (Cooper 1969) and latitude.
    solar_hour = ((t / _HOUR) + site.longitude / 15.0) % 24.0
    decl = np.radians(23.44) * np.sin(2.0 * np.pi * (doy + 285.0) / 365.0)
    cos_omega = np.clip(-np.tan(np.radians(site.latitude)) * np.tan(decl), -1.0, 1.0)
    local = ti + warsaw_utc_offset(ti)
    weekday = ((local // 86400) + 3) % 7  # Monday = 0
    return _Clock(
        season=season,
        winter=0.5 * (season + 1.0),
        solar_hour=solar_hour,
        sunrise=12.0 - np.degrees(np.arccos(cos_omega)) / 15.0,
        local_hour=(local % 86400).astype(np.float64) / _HOUR,
        workday=(weekday < 5).astype(np.float64),
    )


@dataclass(frozen=True, slots=True)
class _Weather:
    """Shared synoptic weather (identical for every site)."""

    p_anom: F64  # sea-level pressure anomaly [hPa]
    p_sea: F64  # sea-level pressure [hPa]
    t_daily: F64  # daily-mean temperature [°C]
    diurnal: F64  # diurnal temperature deviation [°C]
    dew_point: F64  # [°C]
    cloud: F64  # cloudiness index, ~N(0, 1) [-]
    wind: F64  # wind index, ~N(0, 1), low = calm [-]


def _weather(t: F64, clock: _Clock, seed: int) -> _Weather:
    w = clock.winter
    p_anom = _octaves(t, seed, "weather/pressure", (96.0, 48.0, 9.0), (1.0, 0.6, 0.25))
    p_anom = 26.0 * np.tanh(p_anom * (7.0 + 3.0 * w) / 26.0)
    tide = 0.6 * np.cos(2.0 * np.pi * (clock.solar_hour - 10.0) / 12.0)

    t_noise = _octaves(t, seed, "weather/temperature", (120.0, 60.0, 24.0), (1.0, 0.7, 0.35))
    coupling = -0.12 * w + 0.08 * (1.0 - w)  # [°C/hPa]: anticyclones are cold in winter
    t_anom = 8.0 * np.tanh(((2.8 + 1.2 * w) * t_noise + coupling * p_anom) / 8.0)
    t_daily = 8.5 - 10.5 * clock.season + t_anom

    cloud = _octaves(t, seed, "weather/cloud", (36.0, 8.0), (1.0, 0.5)) - 0.07 * p_anom
    swing = np.clip(1.0 - 0.3 * cloud, 0.35, 1.6)
    half_range = (2.6 + 2.9 * (1.0 - w)) * swing
    diurnal = half_range * _diurnal_temperature(clock.solar_hour, clock.sunrise)

    dew_noise = _octaves(t, seed, "weather/dewpoint", (48.0, 12.0), (1.0, 0.4))
    depression = 3.0 * w + 7.5 * (1.0 - w) + (1.0 + 0.8 * (1.0 - w)) * dew_noise
    dew_point = t_daily + 0.55 * w * diurnal - np.maximum(depression - 0.6 * cloud, 0.2)

    wind = _octaves(t, seed, "weather/wind", (48.0, 12.0), (1.0, 0.5)) - 0.05 * p_anom
    return _Weather(
        p_anom=p_anom,
        p_sea=1013.5 + p_anom + tide,
        t_daily=t_daily,
        diurnal=diurnal,
        dew_point=dew_point,
        cloud=cloud,
        wind=wind,
    )


def _pm25_true(t: F64, ti: I64, clock: _Clock, weather: _Weather, site: DemoSite, seed: int) -> F64:
    """Humidity-free PM2.5 at the site [µg/m³] (see the Notes of :func:`synthetic_series`)."""
    profile = _profile(site)
    stream = f"site/{site.slug}"
    hour, w = clock.local_hour, clock.winter
    heat_degree = np.clip((14.0 - weather.t_daily) / 15.0, 0.0, 2.5)
    heating = heat_degree * _heating_profile(hour) / _HEATING_MEAN
    background = (6.0 + 2.0 * w) * (
        1.0
        + 0.15 * _circular_bump(hour, 8.0, 2.0)
        - 0.25 * _circular_bump(clock.solar_hour, 14.5, 3.0)
    )
    rush = _circular_bump(hour, 7.75, 1.3) + 0.8 * _circular_bump(hour, 16.5, 2.0)
    working = 1.0 / (1.0 + np.exp(-3.0 * (hour - 6.0))) / (1.0 + np.exp(3.0 * (hour - 22.0)))
    plume = np.square(np.maximum(_noise(t, seed, f"{stream}/plume", 0.5 * _HOUR) - 1.2, 0.0))
    sources = (
        background
        + 14.0 * profile.heating * heating
        + profile.traffic * rush * (0.6 + 0.4 * clock.workday)
        + profile.industry * working * (0.3 + 0.7 * clock.workday)
        + 6.0 * profile.plumes * heating * plume
    )
    calm = -0.4 * np.clip(weather.wind, -3.0, 3.0) + 0.15 * np.clip(-weather.cloud, 0.0, None) * w
    regional = 0.22 * _octaves(t, seed, "weather/pm", (72.0, 24.0, 6.0), (1.0, 0.7, 0.4))
    local = profile.local_sigma * _octaves(t, seed, f"{stream}/pm", (8.0, 2.0), (1.0, 0.6))
    white = 0.05 * _white(ti, seed, f"{stream}/pm/white")
    return np.maximum(sources * np.exp(calm + regional + local + white), 0.8)


def synthetic_series(site: DemoSite, times: ArrayLike, *, seed: int = 2019) -> SyntheticSeries:
    """Unrounded synthetic readings of one demo site, with the humidity-free PM2.5 behind them.

    Parameters
    ----------
    site : DemoSite
        The site; its ``slug`` keys the site's own random streams, ``latitude``/``longitude``
        [°] set the sun, ``elevation`` [m] the station pressure and ``profile`` the source mix.
    times : array of int
        Unix times [s, UTC]; any shape.
    seed : int
        Seed of every random stream; one seed gives one reproducible "climate history".

    Returns
    -------
    SyntheticSeries
        ``pm1``, ``pm2_5``, ``pm10`` [µg/m³] as the low-cost sensor reads them,
        ``temp_air`` [°C], ``relative_humidity`` [%], ``pressure`` [hPa, station pressure],
        ``pm2_5_true`` [µg/m³] and ``humidity_growth`` [-].

    Notes
    -----
    Continental climate of central Poland and a town heated partly with coal and wood:

    * Temperature: seasonal mean 8.5 − 10.5·cos(2π(doy − 20)/365.24) (−2 °C late January,
      19 °C late July); diurnal cosine shape with the minimum at sunrise and the maximum at
      14:30 solar time, half-range 2.6 °C in winter to 5.5 °C in summer, scaled by cloudiness
      (clear, anticyclonic days swing more); a weather anomaly of 3–4 °C standard deviation
      over days, soft-limited to ±8 °C and coupled to pressure (high pressure is cold in winter,
      warm in summer); a site offset by profile, a smooth local term and 0.08 °C sensor noise.
    * Humidity: Magnus formula from a dew point = daily-mean temperature (plus 55 % of the
      diurnal swing in winter, none in summer) minus a depression of ≈ 3 °C in winter and
      7.5 °C in summer that varies over days. RH is therefore anti-correlated with the diurnal
      temperature, higher at night and in winter (≈ 85 % in January, 67 % in July), and
      reaches 97–100 % (fog) on some clear nights; 0.8 % sensor noise, clipped to 30–100 %.
    * Pressure: sea-level pressure 1013.5 hPa plus synoptic anomalies (σ 7–10 hPa over
      9 h–4 d, soft-limited to ±26 hPa) and a 0.6 hPa semi-diurnal tide. An airrohr BME280
      reports *station* pressure, so elevation/8.3 hPa (≈ 1 hPa per 8.3 m near sea level) is
      subtracted: ≈ 993 hPa on average at 168 m.
    * PM2.5 (true): background (secondary aerosol, 6–8 µg/m³, diluted in the afternoon) plus
      home heating proportional to heating degrees max(0, 14 °C − daily mean)/15 with an
      evening peak at ≈ 20 h local (Europe/Warsaw) time and a smaller one at 7:30, plus road
      traffic (rush hours, less at weekends), industry (working hours) and short chimney plumes
      by site profile; times a calm factor (low wind index, which high pressure lowers; clear
      winter skies), a shared regional log-normal factor and a per-site local one. Cold, calm
      anticyclonic days give smog episodes of 80–150+ µg/m³; summer stays at 5–15.
    * PM1/PM2.5 ≈ 0.84 in the heating season and 0.74 in summer; PM10/PM2.5 is the profile's
      ratio in summer (1.38–1.55) and 0.17 lower in winter (finer combustion aerosol).
    * Sensor artefact: optical sensors count water-swollen particles. Readings are the true
      values times the κ-Köhler bulk growth ([CRILLEY2018]; κ = 0.25, 0.3, 0.45 for PM1,
      PM2.5, PM10; h capped at 0.95) relative to its value at RH 85 %, so readings are
      unaffected below 85 % and up to 2.2× high at RH ≥ 95 %; in fog (RH > 96 %) droplets add
      up to 1.5 × PM2.5 to PM10 only.

    A demo generator, not a climate model: the statistics are plausible, not fitted.

    References
    ----------
    Crilley et al. (2018), AMT 11, 709, doi:10.5194/amt-11-709-2018 (κ-Köhler bulk form);
    Cooper (1969), Solar Energy 12, 333, doi:10.1016/0038-092X(69)90047-4 (declination);
    WMO-No. 8 (2008), Annex 4.B (Magnus coefficients over water).
    """
    t_int = np.asarray(times, dtype=np.int64)
    ti = t_int.ravel()
    if ti.size == 0:
        return SyntheticSeries(*(np.zeros(t_int.shape) for _ in range(8)))
    profile = _profile(site)
    stream = f"site/{site.slug}"
    t = ti.astype(np.float64)
    clock = _clock(ti, t, site)
    weather = _weather(t, clock, seed)

    temp = weather.t_daily + weather.diurnal + profile.temp_offset
    temp = temp + 0.25 * _noise(t, seed, f"{stream}/temperature", 3.0 * _HOUR)
    rh_true = np.clip(100.0 * np.exp(_magnus(weather.dew_point) - _magnus(temp)), 0.0, 100.0)

    pm25_true = _pm25_true(t, ti, clock, weather, site, seed)
    heating_season = np.clip((14.0 - weather.t_daily) / 15.0, 0.0, 1.0)
    ratio1 = 0.74 + 0.10 * heating_season + 0.02 * _noise(t, seed, f"{stream}/pm1", 6 * _HOUR)
    ratio10 = profile.pm10_ratio - 0.17 * heating_season
    ratio10 = ratio10 + 0.05 * _noise(t, seed, f"{stream}/pm10", 6 * _HOUR)
    growth = _growth(rh_true, 0.3)
    fog = 1.5 * np.clip((rh_true - 96.0) / 4.0, 0.0, 1.0)

    fields = {
        "pm1": pm25_true * np.minimum(ratio1, 0.9) * _growth(rh_true, 0.25),
        "pm2_5": pm25_true * growth,
        "pm10": pm25_true * (np.maximum(ratio10, 1.12) * _growth(rh_true, 0.45) + fog),
        "temp_air": temp + 0.08 * _white(ti, seed, f"{stream}/temperature/white"),
        "relative_humidity": np.clip(
            rh_true + 0.8 * _white(ti, seed, f"{stream}/humidity/white"), 30.0, 100.0
        ),
        "pressure": weather.p_sea
        - site.elevation / 8.3
        + 0.04 * _white(ti, seed, f"{stream}/pressure/white"),
        "pm2_5_true": pm25_true,
        "humidity_growth": growth,
    }
    return SyntheticSeries(**{k: v.reshape(t_int.shape) for k, v in fields.items()})


def synthetic_values(site: DemoSite, times: ArrayLike, *, seed: int = 2019) -> dict[str, F64]:
    """Synthetic airrohr readings of one demo site, rounded to 0.01 like the firmware.

    Parameters
    ----------
    site : DemoSite
        The site (see :func:`synthetic_series`).
    times : array of int
        Unix times [s, UTC]; any shape.
    seed : int
        Seed of every random stream.

    Returns
    -------
    dict of str to array
        ``pm1``, ``pm2_5``, ``pm10`` [µg/m³], ``temp_air`` [°C], ``relative_humidity`` [%],
        ``pressure`` [hPa, station pressure], each of the shape of ``times``.

    Notes
    -----
    The modelling assumptions are listed in :func:`synthetic_series`. Values depend only on
    ``(seed, site, time)``: computing a month at once or one timestamp at a time gives identical
    numbers. After rounding, ``pm1 < pm2_5 < pm10`` is enforced (steps of 0.01 µg/m³).

    Examples
    --------
    >>> import numpy as np
    >>> from smartdistricts.demo import load_town
    >>> site = load_town().site("malopolska-11")
    >>> v = synthetic_values(site, np.array([1705780800]))  # 2024-01-20 20:00 UTC
    >>> bool(960.0 < v["pressure"][0] < 1040.0), bool(30.0 <= v["relative_humidity"][0] <= 100.0)
    (True, True)
    """
    series = synthetic_series(site, times, seed=seed)
    pm2_5 = np.maximum(np.round(series.pm2_5, 2), 0.02)
    return {
        "pm1": np.minimum(np.round(series.pm1, 2), pm2_5 - 0.01),
        "pm2_5": pm2_5,
        "pm10": np.maximum(np.round(series.pm10, 2), pm2_5 + 0.01),
        "temp_air": np.round(series.temp_air, 2),
        "relative_humidity": np.round(series.relative_humidity, 2),
        "pressure": np.round(series.pressure, 2),
    }


def demo_times(
    start: int,
    end: int,
    *,
    interval_s: int = 145,
    jitter_s: int = 3,
    seed: int = 2019,
    site_index: int = 0,
) -> I64:
    """Receipt times [s, UTC] of an airrohr device sending every ``interval_s`` in [start, end).

    Parameters
    ----------
    start, end : int
        Half-open interval of Unix times [s].
    interval_s : int
        Send interval [s]; the firmware default is 145 s (airrohr firmware).
    jitter_s : int
        Maximum deterministic jitter of each receipt time [s]; must be below ``interval_s / 2``.
    seed, site_index : int
        Select the device's phase within the interval and its jitter.

    Returns
    -------
    array of int64
        Strictly increasing times. The grid is anchored to the Unix epoch, not to ``start``, so
        two overlapping windows give the same times where they overlap (history and live
        simulation continue one cadence).

    Examples
    --------
    >>> t = demo_times(1_700_000_000, 1_700_003_600)
    >>> len(t), bool(t.min() >= 1_700_000_000), bool(t.max() < 1_700_003_600)
    (25, True, True)
    >>> bool(set(t[5:10]) <= set(demo_times(1_699_999_000, 1_700_010_000)))
    True
    """
    if interval_s <= 0 or jitter_s < 0 or 2 * jitter_s >= interval_s:
        raise ValueError(
            f"need interval_s > 2 * jitter_s >= 0, got interval_s={interval_s}, jitter_s={jitter_s}"
        )
    if end <= start:
        return np.zeros(0, dtype=np.int64)
    key = _key(seed, f"demo_times/{site_index}")
    phase = int(_uniform(key, np.zeros(1, dtype=np.int64))[0] * interval_s)
    first = (start - phase - jitter_s) // interval_s
    last = (end - phase + jitter_s) // interval_s + 1
    k = np.arange(first, last + 1, dtype=np.int64)
    jitter = np.floor(_uniform(key ^ _GOLDEN, k) * (2 * jitter_s + 1)).astype(np.int64) - jitter_s
    t = phase + k * interval_s + jitter
    return t[(t >= start) & (t < end)]


def _profile(site: DemoSite) -> SiteProfile:
    try:
        return PROFILES[site.profile]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ValueError(
            f"site {site.slug!r}: unknown profile {site.profile!r}; known: {known}"
        ) from None
