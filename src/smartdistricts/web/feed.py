"""Atom 1.0 feeds (RFC 4287), written with ElementTree so every text is escaped.

The news feed (``/aktualnosci.atom``, ``/en/news.atom``) is built from
:func:`atom_feed`; other feeds (smog alerts) can use it too. URLs in a feed are absolute
(feed readers fetch it without a page around it), made from the ``base_url`` setting.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["ATOM_TYPE", "FeedEntry", "atom_feed", "rfc3339"]

ATOM_NS = "http://www.w3.org/2005/Atom"
#: The media type a feed is served with.
ATOM_TYPE = "application/atom+xml; charset=utf-8"


def rfc3339(ts: float) -> str:
    """Unix seconds as an Atom date (UTC, ``2026-11-28T10:00:00Z``)."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry: ``id`` is permanent (an absolute URL or a ``tag:`` URI); times in Unix
    seconds; ``content_html`` is HTML (escaped into the feed as text, ``type="html"``)."""

    id: str
    title: str
    url: str
    updated: float
    published: float | None = None
    summary: str = ""
    content_html: str = ""
    author: str = ""
    categories: Sequence[str] = field(default_factory=tuple)


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    child.text = text
    return child


def _link(parent: ET.Element, href: str, rel: str, kind: str | None = None) -> None:
    attrs = {"href": href, "rel": rel}
    if kind:
        attrs["type"] = kind
    ET.SubElement(parent, f"{{{ATOM_NS}}}link", attrs)


def atom_feed(
    *,
    feed_id: str,
    title: str,
    self_url: str,
    alternate_url: str,
    author: str,
    lang: str,
    entries: Sequence[FeedEntry],
    updated: float | None = None,
) -> bytes:
    """The feed document as UTF-8 bytes.

    ``updated`` defaults to the newest entry's (or the Unix epoch for an empty feed, so the
    document does not change between requests).
    """
    ET.register_namespace("", ATOM_NS)
    root = ET.Element(f"{{{ATOM_NS}}}feed", {"xml:lang": lang})
    _text(root, "id", feed_id)
    _text(root, "title", title)
    newest = max((e.updated for e in entries), default=0.0)
    _text(root, "updated", rfc3339(newest if updated is None else updated))
    _link(root, self_url, "self", "application/atom+xml")
    _link(root, alternate_url, "alternate", "text/html")
    person = ET.SubElement(root, f"{{{ATOM_NS}}}author")
    _text(person, "name", author)
    for entry in entries:
        node = ET.SubElement(root, f"{{{ATOM_NS}}}entry")
        _text(node, "id", entry.id)
        _text(node, "title", entry.title)
        _link(node, entry.url, "alternate", "text/html")
        _text(node, "updated", rfc3339(entry.updated))
        if entry.published is not None:
            _text(node, "published", rfc3339(entry.published))
        if entry.author:
            _text(ET.SubElement(node, f"{{{ATOM_NS}}}author"), "name", entry.author)
        for term in entry.categories:
            ET.SubElement(node, f"{{{ATOM_NS}}}category", {"term": term})
        if entry.summary:
            _text(node, "summary", entry.summary)
        if entry.content_html:
            _text(node, "content", entry.content_html, type="html")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body
