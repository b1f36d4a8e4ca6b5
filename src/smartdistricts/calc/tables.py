"""Reading the data files shipped in ``smartdistricts/calc/data`` and checking argument choices.

Every table of the index layer is a small CSV file inside the package: a block of ``#`` comment
lines citing the source (document, table, URL, confidence label), then a header and the rows.
The files are read once, at import of the module that needs them, through
:mod:`importlib.resources`, so they work from a wheel or a zip as well as from a source tree.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["CsvResource", "check_choice", "read_csv", "read_json"]

_DATA = "data"


@dataclass(frozen=True)
class CsvResource:
    """A parsed data file: its citation comments, header and rows (as strings)."""

    name: str
    notes: tuple[str, ...]
    header: tuple[str, ...]
    rows: tuple[dict[str, str], ...]


def _text(name: str) -> str:
    return (
        resources.files(__package__ or "smartdistricts.calc")
        .joinpath(_DATA, name)
        .read_text(encoding="utf-8")
    )


@functools.cache
def read_csv(name: str) -> CsvResource:
    """Parse the packaged CSV file ``name`` (cached: each file is parsed once per process).

    Comment lines start with ``#``; the first other line is the header. Empty cells stay empty
    strings; the callers decide what they mean.

    >>> read_csv("standards.csv").header[:3]
    ('standard', 'variable', 'averaging')
    """
    notes: list[str] = []
    body: list[str] = []
    for line in _text(name).splitlines():
        if line.startswith("#"):
            notes.append(line[1:].strip())
        elif line.strip():
            body.append(line)
    reader = csv.reader(io.StringIO("\n".join(body)))
    header = tuple(next(reader))
    rows = []
    for number, cells in enumerate(reader, start=2):
        if len(cells) != len(header):
            raise ValueError(f"{name}: data row {number} has {len(cells)} cells, not {len(header)}")
        rows.append(dict(zip(header, cells, strict=True)))
    return CsvResource(name, tuple(notes), header, tuple(rows))


def read_json(name: str) -> Any:
    """Parse the packaged JSON file ``name``."""
    return json.loads(_text(name))


def check_choice(argument: str, value: object, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; otherwise raise :class:`ValueError`.

    The message names the argument and lists the allowed values.

    >>> check_choice("grid", "hourly", ("hourly", "daily"))
    'hourly'
    >>> check_choice("grid", "weekly", ("hourly", "daily"))
    Traceback (most recent call last):
    ...
    ValueError: grid must be one of 'hourly', 'daily'; got 'weekly'
    """
    options = tuple(allowed)
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(option) for option in options)
        raise ValueError(f"{argument} must be one of {listed}; got {value!r}")
    return value
