"""The ``smartdistricts`` command. Every command parses options and calls one library function."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
import time
from typing import Any

import click

from smartdistricts import __version__
from smartdistricts.cli.alerts import alerts
from smartdistricts.cli.calibrate import calibrate
from smartdistricts.cli.common import Env, fail, open_service, parse_date, pass_env
from smartdistricts.cli.fetch import fetch
from smartdistricts.cli.registry import apikeys, devices, districts, sites
from smartdistricts.cli.users import users
from smartdistricts.cli.worker import worker
from smartdistricts.config import Settings

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    envvar="SMARTDISTRICTS_DB",
    help="Database URL: sqlite:///path/to/file.db or postgresql://host:port/dbname"
    " [env SMARTDISTRICTS_DB; default sqlite:///var/smartdistricts.db].",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="smartdistricts")
@click.pass_context
def cli(ctx: click.Context, db: str | None, verbose: int) -> None:
    """smartdistricts: the town's air-quality and civic platform."""
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        ctx.obj = Env(Settings.from_env(db=db))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


cli.add_command(sites)
cli.add_command(districts)
cli.add_command(devices)
cli.add_command(apikeys)
cli.add_command(users)
cli.add_command(fetch)
cli.add_command(worker)
cli.add_command(alerts)
cli.add_command(calibrate)


@cli.command()
@pass_env
def migrate(env: Env) -> None:
    """Create the database or bring its schema up to date."""
    from smartdistricts.store import make_backend
    from smartdistricts.store.base import Store
    from smartdistricts.store.migrations import apply_migrations
    from smartdistricts.store.writer import Writer

    backend = make_backend(env.settings.db)
    store = Store(backend, Writer(backend.writer_session).start())
    try:
        applied = apply_migrations(store.write)
    finally:
        store.close()
    click.echo(f"{len(applied)} migration(s) applied" if applied else "schema is up to date")


@cli.command()
@click.option("--days", type=int, default=30, show_default=True, help="Days of history.")
@pass_env
def demo(env: Env, days: int) -> None:
    """Create (or top up to now) the demo districts, sites and readings."""
    from smartdistricts.services.alerts import seed_alerts
    from smartdistricts.services.demo import create_demo
    from smartdistricts.services.demo_news import create_demo_articles

    with open_service(env) as (_store, service):
        result = create_demo(service, days=days)
        seed_alerts(_store, since=result.start)  # default smog-alert rules and their history
        articles = create_demo_articles(_store, env.settings.media_dir, now=result.end)
    click.echo(
        f"demo data: {result.districts} new districts, {result.sites} new sites,"
        f" {result.readings} new readings (database {env.settings.db})"
    )
    click.echo(
        f"demo news: {articles} new articles (photos in {env.settings.media_dir}); create an"
        " editor account with `smartdistricts users add NAME` to sign in at /redakcja/"
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--open-registration/--no-open-registration",
    default=None,
    help="Keep pushes of unknown devices in quarantine instead of refusing them.",
)
@click.option(
    "--simulate",
    type=int,
    default=0,
    metavar="N",
    help="Also run N virtual airrohr devices pushing to this server.",
)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log every request (a reverse proxy usually does).",
)
@pass_env
def serve(
    env: Env, host: str, port: int, open_registration: bool | None, simulate: int, access_log: bool
) -> None:
    """Serve the portal and the API."""
    import uvicorn

    from smartdistricts.api.app import create_app
    from smartdistricts.api.context import AppContext

    settings = Settings.from_env(db=env.settings.db, open_registration=open_registration)
    url = f"http://{host}:{port}/"

    async def start_simulation(ctx: AppContext) -> Any:
        if not simulate:
            return None
        from smartdistricts.services.simulate import prepare_devices, run_simulation

        devices = await asyncio.to_thread(prepare_devices, ctx.store, ctx.ingest, simulate)
        return asyncio.create_task(run_simulation(url, devices))

    app = create_app(settings, on_startup=start_simulation)
    click.echo(f"smartdistricts {__version__}: serving {url}  (database {settings.db})")
    click.echo(f"  portal {url} · English {url}en/ · map {url}mapa · editors {url}redakcja/")
    click.echo(f"  API documentation {url}docs · widget {url}widget/1 · Airly-compatible {url}v2/")
    if simulate:
        click.echo(f"simulating {simulate} airrohr device(s) pushing every 145 s")
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=access_log,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )


@cli.command()
@click.option(
    "--url", default="http://127.0.0.1:8000/", show_default=True, help="Server to push to."
)
@click.option(
    "--devices",
    "count",
    type=int,
    default=4,
    show_default=True,
    help="Virtual devices: the 4 demo sites' devices, then extra ones.",
)
@click.option(
    "--interval", type=float, default=145.0, show_default=True, help="Seconds between pushes."
)
@click.option(
    "--duration", type=float, help="Stop after this many seconds (default: run until Ctrl-C)."
)
@pass_env
def simulate(env: Env, url: str, count: int, interval: float, duration: float | None) -> None:
    """Run virtual airrohr devices pushing realistic readings to a server's push endpoint."""
    from smartdistricts.services.simulate import prepare_devices, run_simulation

    with open_service(env) as (store, service):
        virtual = prepare_devices(store, service, count)
    click.echo(f"{len(virtual)} virtual device(s) pushing to {url} every {interval:g} s")
    counts: dict[int, int] = {}

    def on_push(device: Any, status: int) -> None:
        counts[status] = counts.get(status, 0) + 1

    try:
        ok = asyncio.run(
            run_simulation(url, virtual, interval_s=interval, duration_s=duration, on_push=on_push)
        )
    except KeyboardInterrupt:
        ok = sum(n for s, n in counts.items() if 200 <= s < 300)
    click.echo(f"{ok} pushes stored; answers: {dict(sorted(counts.items()))}")


@cli.group("import")
def import_() -> None:
    """Import archive files."""


@import_.command("sensor-community")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--max-rejections",
    type=int,
    default=50,
    show_default=True,
    help="How many rejected lines to list (all are counted).",
)
@pass_env
def import_sensor_community(
    env: Env, paths: tuple[str, ...], quiet: bool, max_rejections: int
) -> None:
    """Import archive.sensor.community CSV files (.csv, .csv.gz, folders) and Madavi CSVs."""
    from tqdm import tqdm

    from smartdistricts.services.bulk import import_files, iter_files

    files = list(iter_files(paths))
    total = sum(_size(p) for p in files)
    started = time.perf_counter()
    with (
        open_service(env) as (_store, service),
        tqdm(
            total=total, unit="B", unit_scale=True, disable=quiet, desc="import", file=sys.stderr
        ) as bar,
    ):

        def advance(n: int, _path: str) -> None:
            bar.update(n)

        summary = import_files(service, files, progress=advance)
    elapsed = time.perf_counter() - started
    click.echo(f"files:      {summary.files} ({len(summary.failed_files)} unreadable)")
    click.echo(f"rows read:  {summary.rows_read}")
    click.echo(f"readings:   {summary.readings}")
    click.echo(f"imported:   {summary.imported}")
    click.echo(f"duplicates: {summary.duplicates} (already stored)")
    click.echo(f"rejected:   {len(summary.rejected)}")
    for rejection in summary.rejected[:max_rejections]:
        click.echo(f"  {rejection}")
    if len(summary.rejected) > max_rejections:
        click.echo(f"  … and {len(summary.rejected) - max_rejections} more")
    for _path, reason in summary.failed_files:
        click.echo(f"  unreadable: {reason}")
    rate = summary.readings / elapsed if elapsed > 0 else 0.0
    click.echo(f"time:       {elapsed:.2f} s ({rate:,.0f} readings/s)")


def _size(path: str) -> int:
    import os

    try:
        return os.path.getsize(path)
    except OSError:
        return 0


@cli.command()
@click.option(
    "--broker",
    default="mqtt://127.0.0.1:1883",
    show_default=True,
    help="mqtt://[user:password@]host:port (mqtts:// for TLS).",
)
@click.option(
    "--topic",
    default="sensors/#",
    show_default=True,
    help="Subscription; the device id is the level of the first wildcard.",
)
@click.option(
    "--client-id",
    default="smartdistricts-ingest",
    show_default=True,
    help="Keep it stable: the broker keeps the session (and unacknowledged messages).",
)
@click.option("--username", help="Broker user (instead of putting it in --broker).")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False),
    help="File holding the broker password (keeps it out of the process list).",
)
@pass_env
def mqtt(
    env: Env,
    broker: str,
    topic: str,
    client_id: str,
    username: str | None,
    password_file: str | None,
) -> None:
    """Store airrohr JSON payloads published to an MQTT broker (QoS 1)."""
    from pathlib import Path

    from smartdistricts.services.mqtt import MqttListener

    password = Path(password_file).read_text().strip() if password_file else None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open_service(env) as (_store, service):
        try:
            listener = MqttListener(
                service,
                broker,
                topic,
                client_id=client_id,
                username=username,
                password=password,
            )
        except ValueError as exc:
            fail(str(exc))
            return
        click.echo(f"listening on {broker} topic {topic!r} (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            listener.run_forever(stop)
        s = listener.stats
    click.echo(
        f"received {s.received}, stored {s.stored}, duplicates {s.duplicates}, refused {s.refused}"
    )


@cli.command()
@click.option("--since", required=True, help="First day (YYYY-MM-DD, town time) to recompute.")
@click.option("--until", help="Day after the last one (default: now).")
@click.option("--site", help="Only this site (slug).")
@pass_env
def rollup(env: Env, since: str, until: str | None, site: str | None) -> None:
    """Recompute quality flags, hourly and daily values from the raw readings."""
    from smartdistricts.services.reprocess import reprocess

    tz = env.settings.tz
    start = parse_date(since, "--since", tz)
    end = parse_date(until, "--until", tz) or int(time.time()) + 1
    assert start is not None
    with open_service(env) as (_store, service):
        try:
            s = reprocess(service, start, end, site=site)
        except ValueError as exc:
            fail(str(exc))
            return
    click.echo(
        f"{s.devices} devices, {s.readings} readings, {s.reflagged} re-flagged,"
        f" {s.hours} hourly series recomputed, daily values updated"
    )


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="CSV (UTC times, one reading per line) or Parquet (zstd).",
)
@click.option("--output", "-o", help="File to write (CSV default: standard output).")
@click.option("--since", help="From this day or time (town time zone unless given).")
@click.option("--until", help="Up to (excluding) this day or time.")
@click.option("--site", help="Only this site (slug).")
@click.option("--variable", "variables", multiple=True, help="Only these variables (repeatable).")
@click.option("--flags", "with_flags", is_flag=True, help="Add the quality flags column.")
@click.option(
    "--humidity-corrected",
    "corrected",
    is_flag=True,
    help="Add value_corrected: PM divided by the κ-Köhler growth factor at the node's humidity"
    " (SMARTDISTRICTS_KAPPA); raw values stay as they are.",
)
@pass_env
def export(
    env: Env,
    fmt: str,
    output: str | None,
    since: str | None,
    until: str | None,
    site: str | None,
    variables: tuple[str, ...],
    with_flags: bool,
    corrected: bool,
) -> None:
    """Export measurements: columns site, sensor, time, variable, value (+ optional ones)."""
    from smartdistricts.nomenclature import variable
    from smartdistricts.services.export import ExportQuery, export_csv, export_parquet

    for name in variables:
        try:
            variable(name)
        except KeyError as exc:
            raise click.BadParameter(str(exc), param_hint="--variable") from None
    tz = env.settings.tz
    query = ExportQuery(
        parse_date(since, "--since", tz),
        parse_date(until, "--until", tz),
        site,
        variables,
        with_flags,
        env.settings if corrected else None,
    )
    with open_service(env) as (store, _service):
        if fmt == "parquet":
            if not output:
                fail("--output is required for Parquet")
                return
            n = export_parquet(store, output, query)
        elif output:
            with open(output, "w", encoding="utf-8", newline="") as fh:
                n = export_csv(store, fh, query)
        else:
            n = export_csv(store, sys.stdout, query)
    click.echo(f"{n} rows exported", err=True)


def main() -> None:
    cli(prog_name="smartdistricts")
