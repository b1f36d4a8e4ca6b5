"""``smartdistricts fetch gios`` and ``fetch sensor-community``: one importer round, printed.

Both are added to the ``fetch`` group (``cli/fetch.py``); ``smartdistricts worker`` runs the same
importers on a schedule.
"""

from __future__ import annotations

import datetime as _dt

import click

from smartdistricts.cli.common import Env, open_service, pass_env
from smartdistricts.services.gios_import import GiosImporter, compare_index
from smartdistricts.services.sensor_community_import import SensorCommunityImporter

__all__ = ["gios", "sensor_community"]


def _local(t: int, env: Env) -> str:
    return _dt.datetime.fromtimestamp(t, env.settings.tz).strftime("%Y-%m-%d %H:%M")


@click.command("gios")
@click.option(
    "--backfill-days",
    type=click.IntRange(1, 366),
    default=None,
    help="Days of archive a sensor seen for the first time gets (default: the setting "
    "SMARTDISTRICTS_GIOS_BACKFILL_DAYS).",
)
@click.option(
    "--compare-index",
    "compare",
    is_flag=True,
    help="Only print GIOŚ's stored index next to ours for the same hours (fetches nothing).",
)
@click.option("--site", default=None, help="With --compare-index: one site (slug).")
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=24, help="With --compare-index: rows."
)
@pass_env
def gios(env: Env, backfill_days: int | None, compare: bool, site: str | None, limit: int) -> None:
    """Import GIOŚ stations near the town once: sensors, hourly data, archival backfill and
    GIOŚ's own index; print what was stored, skipped and refused, with reasons."""
    with open_service(env) as (store, service):
        if compare:
            rows = compare_index(store, site=site, limit=limit)
            if not rows:
                click.echo("no GIOŚ index stored yet (run `smartdistricts fetch gios`)")
                return
            click.echo("site\thour (local)\tGIOŚ\tours\tagree\tinputs [µg/m³]")
            for r in rows:
                inputs = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r.inputs.items())) or "—"
                click.echo(
                    f"{r.site}\t{_local(r.time, env)}\t{r.gios_category or '—'}"
                    f"\t{r.ours_category or '—'}\t{'yes' if r.agrees else 'no'}\t{inputs}"
                )
            agree = sum(r.agrees for r in rows)
            click.echo(f"agreement: {agree} of {len(rows)} hours")
            return
        with GiosImporter(service) as importer:
            report = importer.fetch(backfill_days=backfill_days)
    for line in report.lines():
        click.echo(line)
    if report.failures:
        raise click.exceptions.Exit(1)


@click.command("sensor-community")
@pass_env
def sensor_community(env: Env) -> None:
    """Import the last minutes of the Sensor.Community sensors near the town once; print what
    was stored, skipped and refused, with reasons."""
    with open_service(env) as (_store, service), SensorCommunityImporter(service) as importer:
        report = importer.fetch()
    for line in report.lines():
        click.echo(line)
    if report.failures:
        raise click.exceptions.Exit(1)
