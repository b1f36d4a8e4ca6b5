"""Shared pieces of the command line: options, opening the store, printing, errors."""

from __future__ import annotations

import contextlib
import getpass
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click
import orjson

from smartdistricts.config import Settings
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.registry import RegistryError
from smartdistricts.store import open_store
from smartdistricts.store.base import Store

__all__ = ["Env", "actor", "fail", "open_service", "parse_date", "pass_env", "print_json"]


class Env:
    """What the top-level group passes to every command."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


pass_env = click.make_pass_decorator(Env)


def actor() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def fail(message: str) -> None:
    raise click.ClickException(message)


@contextlib.contextmanager
def open_service(env: Env) -> Iterator[tuple[Store, IngestService]]:
    """Open the database (applying migrations) and the ingest service; close both at the end."""
    try:
        store = open_store(env.settings.db, synchronous=env.settings.sqlite_synchronous)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield store, IngestService(store, env.settings)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


def parse_date(text: str | None, name: str, tz: Any) -> int | None:
    """A date (``2026-11-01``, local midnight in the town's time zone) or ISO time → Unix s."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date like 2026-11-01 or a time like 2026-11-01T06:00",
            param_hint=name,
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return int(when.timestamp())


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def iso(t: int | None) -> str:
    return "" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
