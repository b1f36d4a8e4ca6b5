"""``smartdistricts users add|passwd|list`` (passwords from stdin or a hidden prompt)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from smartdistricts.cli.main import cli
from smartdistricts.services import accounts
from smartdistricts.store import open_store


def test_users_add_passwd_list(db_url: str) -> None:
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = runner.invoke(cli, ["--db", db_url, "users", *args], input=stdin)
        return result.exit_code, result.output

    code, out = run("add", "Ewa", "--display-name", "Ewa Nowak", "--password-stdin",
                    stdin="pierwsze-haslo-ewy\n")  # fmt: skip
    assert code == 0 and "user ewa (editor) created" in out
    code, out = run("add", "ania", "--role", "admin", stdin="haslo-admina-1\nhaslo-admina-1\n")
    assert code == 0, out
    assert "haslo-admina-1" not in out  # the prompt does not echo
    code, out = run("add", "ewa", "--password-stdin", stdin="jeszcze-inne-haslo\n")
    assert code == 1 and "already exists" in out
    code, out = run("add", "olek", "--password-stdin", stdin="krótkie\n")
    assert code == 1 and "password: at least 10 characters" in out
    code, out = run("add", "olek", "--role", "root", "--password-stdin", stdin="x" * 12)
    assert code == 2 and "root" in out
    code, out = run("passwd", "ewa", "--password-stdin", stdin="drugie-haslo-ewy\n")
    assert code == 0 and "password of ewa changed" in out
    code, out = run("passwd", "nikt", "--password-stdin", stdin="drugie-haslo-ewy\n")
    assert code == 1 and "no user" in out

    code, out = run("list", "--json")
    assert code == 0
    assert [(u["name"], u["role"], u["display_name"]) for u in json.loads(out)] == [
        ("ania", "admin", "ania"),
        ("ewa", "editor", "Ewa Nowak"),
    ]
    code, out = run("list")
    assert code == 0 and "ewa" in out and "never" in out
    with open_store(db_url) as store:
        assert accounts.authenticate(store, "ewa", "drugie-haslo-ewy") is not None
        assert accounts.authenticate(store, "ewa", "pierwsze-haslo-ewy") is None
        actions = [(e.action, e.subject) for e in accounts.audit_entries(store)]
        assert actions[:3] == [
            ("user.passwd", "user:ewa"),
            ("user.add", "user:ania"),
            ("user.add", "user:ewa"),
        ]
        assert all(e.actor.startswith("cli") for e in accounts.audit_entries(store))
