"""The separate ingest process: answers after commit, and a killed child is replaced."""

from __future__ import annotations

import os
import signal
import time

from starlette.testclient import TestClient
from tests.api.conftest import basic
from tests.api.test_push import FIRMWARE_BODY, PATH, headers

from smartdistricts.store.base import Store


def test_the_server_stores_through_a_child_process(
    client: TestClient, store: Store, device: tuple[str, str]
) -> None:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    assert ctx.process is not None and ctx.process.alive
    assert ctx.process._process.pid != os.getpid()
    response = client.post(PATH, content=FIRMWARE_BODY, headers=headers(*device))
    assert response.status_code == 201
    # The answer came after the child's commit: the readings are visible to us right away.
    assert store.read(lambda tx: tx.one("SELECT count(*) FROM measurements"))[0] == 5


def test_a_killed_ingest_process_is_replaced(
    client: TestClient, store: Store, device: tuple[str, str]
) -> None:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    first = ctx.process._process.pid
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    statuses = []
    n = 0
    while time.monotonic() < deadline:
        n += 1
        body = FIRMWARE_BODY.replace(b"869211", str(n).encode())
        response = client.post(PATH, content=body, headers={**headers(device[0]), **basic(*device)})
        statuses.append(response.status_code)
        if response.status_code == 201:
            break
        assert response.status_code == 503, response.text  # refused, never half-stored
        time.sleep(0.2)
    assert statuses[-1] == 201, statuses
    assert ctx.process._process.pid != first and ctx.process.alive
    health = client.get("/api/v1/health").json()
    assert health["status"] == "ok"
