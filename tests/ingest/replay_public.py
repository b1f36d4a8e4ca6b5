"""The replay server (``tests/ingest/replay.py``) plus paged JSON-LD lists, as GIOŚ serves them.

``add_paged(path, list_key, items=… | file=…)`` answers every query of ``path`` with the page
``page`` (from 0) of ``size`` items (capped by ``max_size``, like a recording made with a small
page size) in GIOŚ's envelope (``@context``, the list, ``links``, ``totalPages``). With
``dates=True`` the items are first filtered by the ``dateFrom``/``dateTo`` query (local
``YYYY-MM-DD HH:MM``, inclusive), as ``archivalData`` does. ``fail={2: Reply(500, …)}`` answers
page 2 once with that reply instead (an interruption mid-paging). Items in a ``file`` (a JSON
envelope or list on disk) are read when first asked for, and the last few files are kept.
"""

from __future__ import annotations

import functools
import math
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from tests.ingest.replay import ReplayServer, Reply

__all__ = ["PagedReplayServer", "Reply", "envelope"]


def envelope(list_key: str, items: Sequence[Any], *, total_pages: int = 1, url: str = "") -> bytes:
    """A GIOŚ-style JSON-LD answer holding ``items``."""
    return orjson.dumps(
        {
            "@context": {list_key: {"@id": url}, "totalPages": "https://schema.org/numberOfPages"},
            list_key: list(items),
            "links": {"self": url},
            "totalPages": total_pages,
        }
    )


@functools.lru_cache(maxsize=4)
def _load(path: Path, list_key: str) -> list[Any]:
    body = orjson.loads(path.read_bytes())
    items = body[list_key] if isinstance(body, dict) else body
    assert isinstance(items, list)
    return items


@dataclass(slots=True)
class _Paged:
    list_key: str
    items: list[Any] | None
    file: Path | None
    max_size: int
    dates: bool
    fail: dict[int, list[Reply]] = field(default_factory=dict)
    last_filter: tuple[tuple[str, str] | None, list[Any]] = (None, [])

    def reply(self, path: str, query: Mapping[str, str]) -> Reply:
        page = int(query.get("page", "0"))
        failing = self.fail.get(page)
        if failing:
            return failing.pop(0)
        size = min(int(query.get("size", "20")), self.max_size)
        assert self.items is not None or self.file is not None
        items = self.items if self.items is not None else _load(self.file, self.list_key)
        if self.dates:
            low, high = query.get("dateFrom", ""), query.get("dateTo", "\uffff")
            if self.last_filter[0] != (low, high):  # the pages of one query filter once
                chosen = [i for i in items if low <= str(i["Data"])[:16] <= high]
                self.last_filter = ((low, high), chosen)
            items = self.last_filter[1]
        total = math.ceil(len(items) / size)
        chunk = items[page * size : (page + 1) * size]
        return Reply(200, envelope(self.list_key, chunk, total_pages=total, url=path))


class PagedReplayServer(ReplayServer):
    """:class:`ReplayServer` with paged list routes (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.paged: dict[str, _Paged] = {}
        accept = self._http.get_request

        def get_request() -> tuple[socket.socket, Any]:
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and
            # the client's delayed ACK add ~40 ms to every answer.
            conn, address = accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return conn, address

        self._http.get_request = get_request  # type: ignore[method-assign]

    def add_paged(
        self,
        path: str,
        list_key: str,
        *,
        items: Sequence[Any] | None = None,
        file: Path | None = None,
        max_size: int = 500,
        dates: bool = False,
        fail: Mapping[int, Reply] | None = None,
    ) -> None:
        self.paged[path] = _Paged(
            list_key,
            None if items is None else list(items),
            file,
            max_size,
            dates,
            {page: [reply] for page, reply in (fail or {}).items()},
        )

    def __enter__(self) -> PagedReplayServer:
        self.start()
        return self

    def _route(self, path: str, query: dict[str, str]) -> Reply | None:
        paged = self.paged.get(path)
        if paged is not None:
            return paged.reply(path, query)
        return super()._route(path, query)
