"""``sites``, ``districts``, ``devices`` and ``apikeys`` commands."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from smartdistricts.cli.common import Env, actor, iso, open_service, pass_env, print_json
from smartdistricts.services import registry

__all__ = ["apikeys", "devices", "districts", "sites"]


@click.group()
def sites() -> None:
    """Sensor sites ("installations"): add and list."""


@sites.command("add")
@click.argument("name")
@click.option("--lat", "latitude", type=float, required=True, help="Latitude [°, WGS84].")
@click.option("--lon", "longitude", type=float, required=True, help="Longitude [°, WGS84].")
@click.option("--slug", help="URL name (default: from NAME).")
@click.option("--elevation", type=float, help="Elevation [m a.s.l.].")
@click.option("--street", help="Street name (without 'ul.').")
@click.option("--number", help="House number.")
@click.option("--city", help="Town or city.")
@click.option("--district", help="District slug (default: the district containing the point).")
@click.option("--sponsor", help="Who funds or hosts the sensor.")
@click.option(
    "--source", default="smartdistricts", show_default=True, help="Network the site belongs to."
)
@pass_env
def sites_add(
    env: Env,
    name: str,
    latitude: float,
    longitude: float,
    slug: str | None,
    elevation: float | None,
    street: str | None,
    number: str | None,
    city: str | None,
    district: str | None,
    sponsor: str | None,
    source: str,
) -> None:
    """Add a site named NAME."""
    with open_service(env) as (store, _):
        site = registry.add_site(
            store,
            name=name,
            latitude=latitude,
            longitude=longitude,
            slug=slug,
            elevation=elevation,
            street=street,
            number=number,
            city=city,
            district=district,
            sponsor=sponsor,
            source=source,
            actor=actor(),
        )
    click.echo(
        f"site {site.id} ({site.slug}) added"
        + (f", district {site.district_id}" if site.district_id else ", outside every district")
    )


@sites.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_env
def sites_list(env: Env, as_json: bool) -> None:
    """List sites."""
    with open_service(env) as (store, _):
        found = registry.list_sites(store)
    if as_json:
        print_json([asdict(s) for s in found])
        return
    for s in found:
        where = " ".join(x for x in (s.street, s.number) if x) or "-"
        click.echo(
            f"{s.id:>4}  {s.slug:<24} {s.latitude:9.5f} {s.longitude:9.5f}  {where:<24} {s.source}"
        )


@click.group()
def districts() -> None:
    """Districts (polygons): add from GeoJSON and list."""


@districts.command("add")
@click.option("--slug", required=True, help="URL name, e.g. serbinow.")
@click.option("--name", required=True, help="Name shown to residents, e.g. Serbinów.")
@click.option(
    "--geojson",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="A GeoJSON Polygon/MultiPolygon, Feature or one-feature FeatureCollection.",
)
@click.option("--approximate", is_flag=True, help="Mark the polygon as approximate.")
@pass_env
def districts_add(env: Env, slug: str, name: str, geojson: str, approximate: bool) -> None:
    """Add or replace a district; sites inside it without a district join it."""
    doc = json.loads(Path(geojson).read_text(encoding="utf-8"))
    if doc.get("type") == "FeatureCollection":
        if len(doc.get("features", [])) != 1:
            raise click.BadParameter("the FeatureCollection must hold exactly one feature")
        doc = doc["features"][0]
    if doc.get("type") == "Feature":
        doc = doc["geometry"]
    with open_service(env) as (store, _):
        try:
            d = registry.add_district(
                store, slug=slug, name=name, geometry=doc, approximate=approximate, actor=actor()
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--geojson") from exc
    click.echo(f"district {d.id} ({d.slug}) saved")


@districts.command("list")
@pass_env
def districts_list(env: Env) -> None:
    """List districts."""
    with open_service(env) as (store, _):
        for d in registry.list_districts(store):
            click.echo(
                f"{d.id:>4}  {d.slug:<20} {d.name}{'  (approximate)' if d.approximate else ''}"
            )


@click.group()
def devices() -> None:
    """Devices: add (prints credentials once), list, approve, disable, enable, secret, remove."""


def _print_credentials(uid: str, secret: str) -> None:
    click.echo("Credentials (shown once; only a hash is stored):")
    click.echo(f"  user:     {uid}")
    click.echo(f"  password: {secret}")
    click.echo(
        "airrohr: Configuration → APIs → 'Send to own API': path /api/v1/push/sensor-community,"
    )
    click.echo("         with this user and password.")


@devices.command("add")
@click.argument("uid")
@click.option(
    "--kind",
    type=click.Choice(["airrohr", "api", "import"]),
    default="airrohr",
    show_default=True,
    help="airrohr: pushes to /api/v1/push/sensor-community; api: writes to /api/v1/measurements;"
    " import: archive data only.",
)
@click.option("--site", help="Site id or slug.")
@click.option("--name", help="A note for operators, e.g. where the device hangs.")
@click.option(
    "--external",
    multiple=True,
    metavar="TYPE=ID",
    help="A sensor and its id elsewhere, e.g. SDS011=sensor.community:5331 (repeatable).",
)
@pass_env
def devices_add(
    env: Env, uid: str, kind: str, site: str | None, name: str | None, external: tuple[str, ...]
) -> None:
    """Register device UID (e.g. esp8266-13597771) and print its credentials."""
    mapping = {}
    for item in external:
        sensor_type, sep, ext = item.partition("=")
        if not sep or not sensor_type or not ext:
            raise click.BadParameter(f"{item!r}: use TYPE=ID", param_hint="--external")
        mapping[sensor_type] = ext
    with open_service(env) as (store, _):
        device, secret = registry.add_device(
            store, uid, kind=kind, site=site, name=name, external_sensors=mapping, actor=actor()
        )
    click.echo(f"device {device.id} ({device.uid}) added, status {device.status}")
    _print_credentials(device.uid, secret)


@devices.command("list")
@click.option(
    "--status",
    type=click.Choice(["active", "quarantine", "disabled"]),
    help="Only devices with this status.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_env
def devices_list(env: Env, status: str | None, as_json: bool) -> None:
    """List devices (quarantined ones await approval)."""
    with open_service(env) as (store, _):
        found = registry.list_devices(store, status=status)
    if as_json:
        print_json([{k: v for k, v in asdict(d).items() if k != "secret_hash"} for d in found])
        return
    for d in found:
        sensors = ",".join(f"{t}#{i}" for t, i in zip(d.sensors, d.sensor_ids, strict=True)) or "-"
        click.echo(
            f"{d.id:>4}  {d.uid:<34} {d.kind:<7} {d.status:<10} site={d.site_id or '-':<4}"
            f" last={iso(d.last_seen_at) or 'never':<21} {sensors}"
        )


@devices.command("approve")
@click.argument("uid")
@click.option("--site", help="Site id or slug to place the device at.")
@click.option("--new-credentials", is_flag=True, help="Issue a new password (printed once).")
@pass_env
def devices_approve(env: Env, uid: str, site: str | None, new_credentials: bool) -> None:
    """Approve a quarantined device: its readings become public."""
    with open_service(env) as (store, _):
        device, secret = registry.approve_device(
            store, uid, site=site, new_credentials=new_credentials, actor=actor()
        )
    click.echo(f"device {device.uid} is {device.status}")
    if secret:
        _print_credentials(device.uid, secret)


@devices.command("disable")
@click.argument("uid")
@pass_env
def devices_disable(env: Env, uid: str) -> None:
    """Refuse further data from a device (its readings stay)."""
    with open_service(env) as (store, _):
        registry.set_device_status(store, uid, "disabled", actor=actor())
    click.echo(f"device {uid} disabled")


@devices.command("enable")
@click.argument("uid")
@pass_env
def devices_enable(env: Env, uid: str) -> None:
    """Accept data from a disabled device again."""
    with open_service(env) as (store, _):
        registry.set_device_status(store, uid, "active", actor=actor())
    click.echo(f"device {uid} active")


@devices.command("secret")
@click.argument("uid")
@pass_env
def devices_secret(env: Env, uid: str) -> None:
    """Issue new credentials for a device (the old password stops working)."""
    with open_service(env) as (store, _):
        secret = registry.reset_device_secret(store, uid, actor=actor())
    _print_credentials(uid, secret)


@devices.command("remove")
@click.argument("uid")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_env
def devices_remove(env: Env, uid: str, yes: bool) -> None:
    """Delete a device, its sensors and ALL their readings."""
    if not yes:
        click.confirm(f"Delete {uid} and all its readings?", abort=True)
    with open_service(env) as (store, _):
        n = registry.remove_device(store, uid, actor=actor())
    click.echo(f"device {uid} removed with {n} readings")


@click.group()
def apikeys() -> None:
    """API keys: add (prints the key once), list, revoke."""


@apikeys.command("add")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(sorted(registry.SCOPES)),
    default=("read",),
    show_default=True,
    help="read: the public read API; write: POST /api/v1/measurements; admin: any sensor."
    " Repeatable.",
)
@click.option("--device", help="Tie the key to a device: it may write only that device's sensors.")
@click.option(
    "--daily-limit",
    type=int,
    help="Requests per UTC day on the Airly-compatible API (default: the setting"
    " SMARTDISTRICTS_API_DAILY_LIMIT; 0: no limit).",
)
@click.option(
    "--minute-limit",
    type=int,
    help="Requests per minute on the Airly-compatible API (default: the setting"
    " SMARTDISTRICTS_API_MINUTE_LIMIT; 0: no limit).",
)
@pass_env
def apikeys_add(
    env: Env,
    name: str,
    scopes: tuple[str, ...],
    device: str | None,
    daily_limit: int | None,
    minute_limit: int | None,
) -> None:
    """Create an API key called NAME."""
    with open_service(env) as (store, _):
        key, full = registry.add_api_key(
            store,
            name,
            scopes=set(scopes),
            device=device,
            daily_limit=daily_limit,
            minute_limit=minute_limit,
            actor=actor(),
        )
    click.echo(f"API key {key.prefix} ({key.name}, scopes: {' '.join(sorted(key.scopes))})")
    click.echo(f"key (shown once; only a hash is stored): {full}")


@apikeys.command("list")
@pass_env
def apikeys_list(env: Env) -> None:
    """List API keys (never the keys themselves)."""
    with open_service(env) as (store, _):
        for k in registry.list_api_keys(store):
            state = f"revoked {iso(k.revoked_at)}" if k.revoked_at else "active"
            click.echo(f"{k.prefix}  {k.name:<24} {' '.join(sorted(k.scopes)):<16} {state}")


@apikeys.command("revoke")
@click.argument("prefix")
@pass_env
def apikeys_revoke(env: Env, prefix: str) -> None:
    """Revoke the key whose public prefix is PREFIX."""
    with open_service(env) as (store, _):
        registry.revoke_api_key(store, prefix, actor=actor())
    click.echo(f"API key {prefix} revoked")
