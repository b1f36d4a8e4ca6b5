"""``smartdistricts calibrate``: fit a co-location calibration and print its report."""

from __future__ import annotations

import math

import click

from smartdistricts.calc.calibration import TERMS, Metrics
from smartdistricts.cli.common import Env, fail, open_service, parse_date, pass_env

__all__ = ["calibrate"]


def _metrics(label: str, m: Metrics) -> str:
    r2 = "n/a" if math.isnan(m.r2) else f"{m.r2:.3f}"
    return f"  {label:<7} R² {r2:>7}   bias {m.bias:+8.2f} µg/m³   RMSE {m.rmse:7.2f} µg/m³"


@click.command()
@click.option("--device", help="The low-cost device (uid) to calibrate.")
@click.option("--site", help="Or its site (id or slug): the site's sensor with the most hours.")
@click.option(
    "--reference", required=True, help="Reference site (id or slug), e.g. a GIOŚ station."
)
@click.option("--from", "since", required=True, help="First day or time of the pairs (town time).")
@click.option("--to", "until", required=True, help="Day or time after the last pair.")
@click.option(
    "--variable",
    type=click.Choice(["pm2_5", "pm10", "pm1"]),
    default="pm2_5",
    show_default=True,
    help="Variable to calibrate.",
)
@click.option(
    "--term",
    type=click.Choice(TERMS),
    default="rh",
    show_default=True,
    help="Humidity term: rh (c·RH), kohler (c·pm·a_w/(1−a_w)) or none.",
)
@click.option(
    "--test-fraction",
    type=click.FloatRange(0.05, 0.5),
    default=0.25,
    show_default=True,
    help="Share of the latest pairs held out for the before/after metrics.",
)
@click.option("--save", is_flag=True, help="Store the fit; corrected series then use it.")
@pass_env
def calibrate(
    env: Env,
    device: str | None,
    site: str | None,
    reference: str,
    since: str,
    until: str,
    variable: str,
    term: str,
    test_fraction: float,
    save: bool,
) -> None:
    """Fit reference ≈ a + b·pm + c·f(RH) on paired hourly means and print R², bias and RMSE
    before and after (on held-out pairs); raw readings are never changed."""
    from smartdistricts.services.calibration import calibrate as run

    if (device is None) == (site is None):
        fail("give exactly one of --device and --site")
    tz = env.settings.tz
    start, end = parse_date(since, "--from", tz), parse_date(until, "--to", tz)
    assert start is not None and end is not None
    if start >= end:
        fail("--from must be earlier than --to")
    with open_service(env) as (store, _service):
        try:
            report = run(
                store, reference=reference, since=start, until=end, device=device, site=site,
                variable_name=variable, term=term, test_fraction=test_fraction, save=save,
            )  # fmt: skip
        except ValueError as exc:
            fail(str(exc))
            return
    fit, cal = report.fit, report.fit.calibration
    f = {"rh": "RH", "kohler": "pm·a_w/(1−a_w)", "none": "0"}[cal.term]
    lines = [
        f"calibration of {report.sensor} ({report.variable}) against {report.reference}",
        f"pairs: {report.pairs} hourly means ({fit.n_train} fitted, {fit.n_test} held out)",
        f"fit:   reference = {cal.a:.4g} + {cal.b:.4g}·pm + {cal.c:.4g}·{f}",
        "held-out pairs:",
        _metrics("before", fit.before),
        _metrics("after", fit.after),
        f"saved as calibration {report.saved_id}" if report.saved_id else "not saved (--save)",
    ]
    click.echo("\n".join(lines))
