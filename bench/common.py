"""Helpers shared by the benchmarks: timing, tables, a server in a subprocess, wrk."""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from smartdistricts.services.security import hash_secret
from smartdistricts.store.base import Store

__all__ = ["Server", "Table", "WrkResult", "register_devices", "wrk"]


class Table:
    """A printed table with a title: ``add`` rows, then ``print``."""

    def __init__(self, title: str, columns: Sequence[str]) -> None:
        self.title = title
        self.columns = list(columns)
        self.rows: list[list[str]] = []

    def add(self, *cells: object) -> None:
        self.rows.append([_fmt(c) for c in cells])

    def print(self) -> None:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        print(f"\n## {self.title}\n")
        print(
            "| " + " | ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True)) + " |"
        )
        print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row in self.rows:
            print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        sys.stdout.flush()


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """``smartdistricts serve`` in a subprocess on a free port."""

    db: str
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str] | None = None) -> Server:
        self.port = self.port or free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "smartdistricts", "serve", "--port", str(self.port)],
            env={**os.environ, "SMARTDISTRICTS_DB": self.db, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/v1/ping", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def register_devices(store: Store, n: int, *, prefix: int = 30_000_000) -> list[tuple[str, str]]:
    """Register ``n`` airrohr devices in one transaction; returns (uid, Basic header) pairs."""
    secret = "bench-secret-0123456789abcdef"
    stored = hash_secret(secret)
    uids = [f"esp8266-{prefix + i}" for i in range(n)]

    def run(tx: object) -> None:
        tx.executemany(  # type: ignore[attr-defined]
            "INSERT INTO devices (uid, kind, status, secret_hash)"
            " VALUES (?, 'airrohr', 'active', ?) ON CONFLICT (uid) DO NOTHING",
            [(u, stored) for u in uids],
        )

    store.write(run)
    return [(u, "Basic " + base64.b64encode(f"{u}:{secret}".encode()).decode()) for u in uids]


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    script: Path | None = None,
    threads: int = 1,
    args: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Run wrk (closed loop) and parse its latency distribution."""
    exe = shutil.which("wrk")
    if exe is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk, or `make bench`)")
    cmd = [exe, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    if script is not None:
        cmd[1:1] = ["-s", str(script)]
    for name, value in (headers or {}).items():
        cmd[1:1] = ["-H", f"{name}: {value}"]
    if args:
        cmd += ["--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _latency(out, "50%")
    p99 = _latency(out, "99%")
    non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        rps,
        p50,
        p99,
        int(non.group(1)) if non else 0,
        sum(int(g) for g in errs.groups()) if errs else 0,
    )


def _latency(out: str, pct: str) -> float:
    m = re.search(rf"{re.escape(pct)}\s+([\d.]+)(us|ms|s)\b", out)
    if m is None:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
