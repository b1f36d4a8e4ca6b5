"""``users`` commands: accounts of the editors' area (``/redakcja/``)."""

from __future__ import annotations

import sys

import click

from smartdistricts.cli.common import Env, actor, iso, open_service, pass_env, print_json
from smartdistricts.services import accounts
from smartdistricts.services.accounts import AccountError

__all__ = ["users"]


def _password(from_stdin: bool) -> str:
    """The new password: the first line of standard input, or asked twice without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.BadParameter("the password is empty", param_hint="password")
    return str(password)


@click.group()
def users() -> None:
    """Accounts of the editors' area: add, change a password, list."""


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(accounts.ROLES),
    default="editor",
    show_default=True,
    help="admin: also sees the users and the audit log; editor: articles and photos.",
)
@click.option("--display-name", help="Name shown as the articles' author (default: NAME).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@pass_env
def users_add(
    env: Env, name: str, role: str, display_name: str | None, password_stdin: bool
) -> None:
    """Create the account NAME (asks for its password without showing it)."""
    password = _password(password_stdin)
    with open_service(env) as (store, _service):
        try:
            user = accounts.add_user(
                store, name, password, role=role, display_name=display_name, actor=actor()
            )
        except AccountError as exc:
            raise click.ClickException(exc.args[0]) from None
    click.echo(f"user {user.name} ({user.role}) created; sign in at /redakcja/logowanie")


@users.command("passwd")
@click.argument("name")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@pass_env
def users_passwd(env: Env, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME; the account's open sessions end."""
    password = _password(password_stdin)
    with open_service(env) as (store, _service):
        try:
            accounts.set_password(store, name, password, actor=actor())
        except AccountError as exc:
            raise click.ClickException(exc.args[0]) from None
    click.echo(f"password of {name.strip().lower()} changed")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_env
def users_list(env: Env, as_json: bool) -> None:
    """List the accounts."""
    with open_service(env) as (store, _service):
        found = accounts.list_users(store)
    rows = [
        {
            "name": u.name,
            "display_name": u.display_name,
            "role": u.role,
            "active": u.active,
            "created_at": iso(u.created_at),
            "last_login_at": iso(u.last_login_at) or None,
        }
        for u in found
    ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        state = "" if r["active"] else "  (disabled)"
        click.echo(
            f"{r['name']:<20} {r['role']:<7} {r['display_name']:<30}"
            f" last login {r['last_login_at'] or 'never'}{state}"
        )
