"""Work done once at start, so the first citizen of the day waits no longer than the next one.

Measured on the kiosk's PIN -> home round (docs/performance.md, Kiosk): the first sign-in after a
start took ~250 ms more than the others. Most of it was FastAPI building each included router's
routes (dependency trees, validators) on the first request that reached them; the rest, the
first argon2 PIN check in a worker thread (its 19 MiB of memory touched for the first time).
The other cold cost found there, the collector's first full walk over the start-up heap, is
kept out by ``gc_freeze_at_start`` (api/app.py). A warm-up that fails is logged and the service
starts all the same: it is an optimisation, never a condition.
"""

from __future__ import annotations

import logging
from typing import Any

from anyio import to_thread

log = logging.getLogger(__name__)

WARM_UP_PATH = "/.warm-up"


async def warm_up(app: Any) -> None:
    """Send requests through ``app`` that change nothing: one for an unknown path (routing walks,
    and so builds, every router) and a sign-in with a card number no card has (its statements
    compiled, its dependencies solved); then check a PIN once in the endpoints' worker threads."""
    try:
        await _request(app, "GET", WARM_UP_PATH, b"")
        body = b'{"card_number": "0000000000000000", "pin": "0000"}'
        await _request(app, "POST", "/v1/me/login", body)
        await to_thread.run_sync(_pin_check)
    except Exception:  # e.g. a database not migrated yet: requests will say so themselves
        log.warning("start-up warm-up failed; serving without it", exc_info=True)


async def _request(app: Any, method: str, path: str, body: bytes) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"warm-up"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    await app(scope, receive, send)


def _pin_check() -> None:
    from card_service.cards.service import pins

    pins.verify(pins.hash("warm-up"), "warm-up")
