"""``python -m bench [NAME …]``: run the benchmarks (all, or those named) and print their tables.

Names: import, push, read, caqi, portal, alerts, backfill, forecast.

Each benchmark measures its baseline in the same run (see each module's docstring). With no
argument, all of them run (about five minutes on a 2-core machine).
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable

from bench import (
    bench_alerts,
    bench_backfill,
    bench_caqi,
    bench_forecast,
    bench_import,
    bench_portal,
    bench_push,
    bench_read,
)

BENCHES: dict[str, Callable[[], None]] = {
    "import": bench_import.run,
    "push": bench_push.run,
    "read": bench_read.run,
    "caqi": bench_caqi.run,
    "portal": bench_portal.run,
    "alerts": bench_alerts.run,
    "backfill": bench_backfill.run,
    "forecast": bench_forecast.run,
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    print(
        f"# smartdistricts benchmarks — {time.strftime('%Y-%m-%d %H:%M')}, "
        f"Python {platform.python_version()}, {platform.machine()}"
    )
    for name in names:
        BENCHES[name]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
