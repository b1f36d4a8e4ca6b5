"""An open-loop HTTP load generator (asyncio, raw sockets, keep-alive connections).

Each of ``connections`` clients sends at a fixed rate; latency is measured from the moment a
request was *due* (not when it could be sent), so a slow server cannot hide its queueing delay
(no "coordinated omission"). Used for latency at a given offered load; wrk measures the maximum.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["LoadResult", "open_loop"]


@dataclass
class LoadResult:
    sent: int
    ok: int
    failed: int
    seconds: float
    latencies_ms: NDArray[np.float64]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        return (
            float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else float("nan")
        )


async def _client(
    host: str,
    port: int,
    make_request: Callable[[int, int], bytes],
    index: int,
    rate: float,
    start: float,
    end: float,
    latencies: list[float],
    counts: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    interval = 1.0 / rate
    due = start + (index % 100) / 100 * interval  # spread the clients over one interval
    n = 0
    try:
        while due < end:
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            writer.write(make_request(index, n))
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append((time.perf_counter() - due) * 1000)
            counts[0] += 1
            if status_line[9:10] == b"2":
                counts[1] += 1
            else:
                counts[2] += 1
            n += 1
            due += interval
    finally:
        writer.close()


async def _run(
    host: str,
    port: int,
    make_request: Callable[[int, int], bytes],
    connections: int,
    rate_per_connection: float,
    seconds: float,
) -> LoadResult:
    latencies: list[float] = []
    counts = [0, 0, 0]
    start = time.perf_counter() + 0.5
    end = start + seconds
    await asyncio.gather(
        *(
            _client(host, port, make_request, i, rate_per_connection, start, end, latencies, counts)
            for i in range(connections)
        )
    )
    elapsed = time.perf_counter() - start
    return LoadResult(counts[0], counts[1], counts[2], elapsed, np.asarray(latencies))


def open_loop(
    host: str,
    port: int,
    make_request: Callable[[int, int], bytes],
    *,
    connections: int,
    total_rate: float,
    seconds: float,
) -> LoadResult:
    """Offer ``total_rate`` requests/s from ``connections`` clients for ``seconds``."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(
        _run(host, port, make_request, connections, total_rate / connections, seconds)
    )
