"""``smartdistricts worker``: run the scheduled jobs; ``worker status``: are they running?"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict

import click

from smartdistricts.cli.common import Env, fail, iso, open_service, pass_env, print_json

__all__ = ["worker"]


@click.group(invoke_without_command=True)
@click.option(
    "--job",
    "jobs",
    multiple=True,
    help="Run only this job (repeatable): airly, gios, sensor-community, rollup, …"
    " [default: SMARTDISTRICTS_WORKER_JOBS, else all].",
)
@click.option("--once", is_flag=True, help="Run every job one time, then exit.")
@click.pass_context
def worker(ctx: click.Context, jobs: tuple[str, ...], once: bool) -> None:
    """Run the importers and the daily rollup on their schedules, until SIGTERM or Ctrl-C.

    A signal lets the running round finish, then the worker exits with code 0. Run it next to
    the server (one worker per database); `worker status` tells whether it is alive.
    """
    if ctx.invoked_subcommand is not None:
        return
    from smartdistricts.services.worker import Worker, build_jobs, stop_on_signals

    env = ctx.find_object(Env)
    assert env is not None
    stop = threading.Event()
    with open_service(env) as (store, service):
        try:
            job_list = build_jobs(service, env.settings, list(jobs) or None)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--job") from None
        if not job_list:
            fail("no job is configured (see docs/sources.md)")
        names = ", ".join(job.name for job in job_list)
        click.echo(f"worker: running {names} (SIGTERM or Ctrl-C stops after the current round)")
        try:
            with stop_on_signals(stop):
                Worker(store, job_list).run(stop, once=once)
        finally:
            for job in job_list:
                close = getattr(job, "close", None)
                if callable(close):
                    close()
    click.echo("worker: stopped")


@worker.command("status")
@click.option(
    "--stale-after",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds without a heartbeat after which the worker counts as down.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_env
def worker_status_command(env: Env, stale_after: float, as_json: bool) -> None:
    """Each job's last and next run and last error, and the worker's heartbeat.

    Exits with code 1 when the worker is not running or its heartbeat is older than
    --stale-after (use it as a monitoring check).
    """
    from smartdistricts.services.worker import worker_status

    with open_service(env) as (store, _service):
        status = worker_status(store)
    now = time.time()
    healthy = status.healthy(now, stale_after)
    age = status.age(now)
    if as_json:
        print_json(
            {
                "healthy": healthy,
                "heartbeat_age_s": None if age is None else round(age, 1),
                "heartbeat": None if status.heartbeat is None else asdict(status.heartbeat),
                "jobs": [asdict(job) for job in status.jobs],
            }
        )
    else:
        beat = status.heartbeat
        if beat is None or age is None:
            click.echo("worker: never ran")
        elif beat.stopped_at is not None:
            click.echo(f"worker: stopped at {iso(beat.stopped_at)} (pid {beat.pid} on {beat.host})")
        else:
            state = "running" if healthy else "NOT RESPONDING"
            click.echo(
                f"worker: {state}, pid {beat.pid} on {beat.host} since {iso(beat.started_at)},"
                f" last heartbeat {age:.0f} s ago"
            )
            if beat.job is not None and beat.job_started_at is not None:
                click.echo(f"  running {beat.job} since {iso(beat.job_started_at)}")
        for job in status.jobs:
            click.echo(
                f"  {job.name}: last run {iso(job.last_run_at) or '-'},"
                f" next run {iso(job.next_run_at) or '-'}, last stored {job.last_stored}"
            )
            if job.last_message:
                click.echo(f"    {job.last_message}")
            if job.last_error:
                click.echo(
                    f"    last error {iso(job.last_error_at)}"
                    f" ({job.failures} failure(s) in a row): {job.last_error}"
                )
    if not healthy:
        raise SystemExit(1)
