"""``smartdistricts alerts``: smog-alert rules, webhooks, delivery and history."""

from __future__ import annotations

import time

import click

from smartdistricts.calc.alerts import AVERAGING, LEVELS, PRESETS, RULE_VARIABLES, AlertRule
from smartdistricts.cli.common import Env, iso, open_service, parse_date, pass_env, print_json
from smartdistricts.services import alerts as service
from smartdistricts.services import notify, subscriptions

__all__ = ["alerts"]


def _scope(site: int | None, district: int | None) -> str:
    if site is not None and district is not None:
        raise click.BadParameter("give --site or --district, not both", param_hint="--site")
    if site is not None:
        return f"site:{site}"
    return "all" if district is None else f"district:{district}"


@click.group()
def alerts() -> None:
    """Smog alerts: rules, webhooks, sending notifications, history."""


@alerts.command("rules")
@click.option("--seed", is_flag=True, help="First add the default rules for every site.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_env
def rules(env: Env, seed: bool, as_json: bool) -> None:
    """List the alert rules (Polish PM10 levels, EU 2024/2881 thresholds, custom ones)."""
    with open_service(env) as (store, _):
        if seed:
            added = service.seed_default_rules(store)
            click.echo(f"{added} default rule(s) added", err=True)
        found = service.list_rules(store)
    if as_json:
        print_json(
            [
                {"id": r.id, "scope": r.scope, "enabled": r.enabled, **_rule_dict(r.rule)}
                for r in found
            ]
        )
        return
    for r in found:
        x = r.rule
        click.echo(
            f"{r.id:>4}  {x.key:<22} {r.scope:<12} {x.variable:>6} {x.averaging:>3}"
            f" >= {x.threshold:g} for {x.n_hours} h, ends below {x.release:g} for"
            f" {x.clear_hours} h  [{x.level}; {x.source or '-'}]" + ("" if r.enabled else " off")
        )


def _rule_dict(rule: AlertRule) -> dict[str, object]:
    return {name: getattr(rule, name) for name in rule.__slots__}


@alerts.command("add-rule")
@click.argument("key")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), help="Start from a ready rule.")
@click.option("--variable", type=click.Choice(RULE_VARIABLES), help="Series to watch.")
@click.option("--averaging", type=click.Choice(AVERAGING), help="1-h mean or 24-h running mean.")
@click.option("--threshold", type=float, help="Start level [µg/m³; index points for caqi].")
@click.option("--level", type=click.Choice(LEVELS), default=None, help="Severity label.")
@click.option("--hours", "n_hours", type=int, help="Consecutive hours at or above to start.")
@click.option("--margin", type=float, help="Ends below threshold × (1 − margin) [0–1).")
@click.option("--clear-hours", type=int, help="Consecutive hours below that level to end.")
@click.option("--site", type=int, help="Only this site (id).")
@click.option("--district", type=int, help="Only the sites of this district (id).")
@pass_env
def add_rule(
    env: Env,
    key: str,
    preset: str | None,
    variable: str | None,
    averaging: str | None,
    threshold: float | None,
    level: str | None,
    n_hours: int | None,
    margin: float | None,
    clear_hours: int | None,
    site: int | None,
    district: int | None,
) -> None:
    """Add (or replace) the rule KEY for every site, a district or a site.

    Start from a preset (``--preset caqi-high-3h``) or give --variable, --averaging and
    --threshold.
    """
    base = PRESETS.get(preset or "")
    given = {
        "variable": variable,
        "averaging": averaging,
        "threshold": threshold,
        "level": level,
        "n_hours": n_hours,
        "margin": margin,
        "clear_hours": clear_hours,
    }
    values: dict[str, object] = {} if base is None else _rule_dict(base)
    values.update({k: v for k, v in given.items() if v is not None})
    values["key"] = key
    values.setdefault("level", "custom")
    for needed in ("variable", "averaging", "threshold"):
        if needed not in values:
            raise click.BadParameter("required without --preset", param_hint=f"--{needed}")
    try:
        rule = AlertRule(**values)  # type: ignore[arg-type]
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with open_service(env) as (store, _):
        rule_id = service.add_rule(store, rule, _scope(site, district))
    click.echo(f"rule {rule_id} {key}: {rule.variable} {rule.averaging} >= {rule.threshold:g}")


@alerts.group("webhooks")
def webhooks() -> None:
    """Webhooks that receive signed alert notifications."""


@webhooks.command("add")
@click.argument("url")
@click.option("--secret", help="Signing secret (default: a new random one, printed once).")
@click.option("--site", type=int, help="Only alerts of this site (id).")
@click.option("--district", type=int, help="Only alerts of this district's sites (id).")
@click.option("--description", default="", help="A note for operators.")
@pass_env
def webhooks_add(
    env: Env, url: str, secret: str | None, site: int | None, district: int | None, description: str
) -> None:
    """Register a webhook at URL; prints its signing secret once."""
    with open_service(env) as (store, _):
        try:
            hook, key = subscriptions.add_webhook(
                store, url, secret=secret, scope=_scope(site, district), description=description
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"webhook {hook.id} {hook.url} ({hook.scope})")
    click.echo(f"secret: {key}")


@webhooks.command("list")
@pass_env
def webhooks_list(env: Env) -> None:
    """List webhooks (secrets are not shown)."""
    with open_service(env) as (store, _):
        for hook in subscriptions.list_webhooks(store):
            state = "" if hook.active else " (inactive)"
            click.echo(f"{hook.id:>4}  {hook.url}  {hook.scope}{state}  {hook.description}")


@alerts.command("evaluate")
@click.option("--since", help="Evaluate new rules from this date (history), e.g. 2026-11-01.")
@pass_env
def evaluate(env: Env, since: str | None) -> None:
    """Evaluate every rule for every site now."""
    with open_service(env) as (store, _):
        result = service.evaluate_all(store, since=parse_date(since, "--since", env.settings.tz))
    click.echo(
        f"{result.sites} site(s): {result.opened} alert(s) started, {result.closed} ended,"
        f" {result.notifications} notification(s) queued"
    )


@alerts.command("send")
@pass_env
def send(env: Env) -> None:
    """Evaluate the rules, then deliver every due notification once (webhooks, e-mail)."""
    with open_service(env) as (store, _):
        result = notify.NotifyJob(store, env.settings).run(time.time())
    click.echo(result.message)


@alerts.command("history")
@click.option("--limit", type=int, default=20, show_default=True, help="Episodes to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_env
def history(env: Env, limit: int, as_json: bool) -> None:
    """Recent alert episodes, newest first."""
    with open_service(env) as (store, _):
        episodes = service.list_episodes(store, limit=limit)
    if as_json:
        print_json([e.as_dict() for e in episodes])
        return
    for e in episodes:
        click.echo(
            f"{e.id:>5}  {iso(e.started_at)} – {iso(e.ended_at) or 'active':<20}"
            f" {e.site_name} ({e.district_name or '-'})  {e.rule_key}  peak {e.peak:.1f}"
        )
