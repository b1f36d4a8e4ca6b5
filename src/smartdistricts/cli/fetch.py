"""``smartdistricts fetch …``: run one importer round now (the worker runs them on schedule)."""

from __future__ import annotations

import dataclasses
import time

import click

from smartdistricts.cli.common import Env, fail, open_service, pass_env
from smartdistricts.cli.fetch_public import gios, sensor_community

__all__ = ["fetch"]


@click.group()
def fetch() -> None:
    """Fetch readings from other networks once (Airly, GIOŚ, Sensor.Community)."""


fetch.add_command(gios)
fetch.add_command(sensor_community)


@fetch.command("airly")
@click.option(
    "--installation",
    "installations",
    multiple=True,
    type=int,
    help="Airly installation id (repeatable) [default: SMARTDISTRICTS_AIRLY_INSTALLATIONS].",
)
@click.option(
    "--point",
    help="'latitude,longitude' to import the installations around, when no ids are given"
    " [default: SMARTDISTRICTS_AIRLY_POINT, else the town point].",
)
@click.option(
    "--radius-km",
    type=float,
    help="Search radius around the point [km; default: SMARTDISTRICTS_AIRLY_RADIUS_KM].",
)
@pass_env
def fetch_airly(
    env: Env, installations: tuple[int, ...], point: str | None, radius_km: float | None
) -> None:
    """Store every configured Airly installation's current values and last 24 hours.

    Needs SMARTDISTRICTS_AIRLY_API_KEY. Calls count against the key's daily budget, which the
    worker shares: each installation costs one call (two the first time). Readings already
    stored are skipped, so running it again is harmless.
    """
    from smartdistricts.services.airly_import import AirlyImporter

    if not env.settings.airly_api_key:
        fail("set SMARTDISTRICTS_AIRLY_API_KEY to the Airly API key (https://developer.airly.org)")
    changes: dict[str, object] = {}
    if installations:
        changes["airly_installations"] = ",".join(str(i) for i in installations)
    if point is not None:
        changes["airly_installations"] = changes.get("airly_installations", "")
        changes["airly_point"] = point
    if radius_km is not None:
        changes["airly_radius_km"] = radius_km
    try:
        settings = dataclasses.replace(env.settings, **changes)  # type: ignore[arg-type]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    with open_service(env) as (_store, service):
        importer = AirlyImporter.from_settings(service, settings)
        assert importer is not None
        try:
            result = importer.run_once(time.time())
        except RuntimeError as exc:
            fail(str(exc))
            return
        finally:
            importer.close()
    click.echo(f"airly: {result.message}")
