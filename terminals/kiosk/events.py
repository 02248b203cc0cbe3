"""Server-sent events from the runtime to the kiosk's page: reader and session events, pushed.

``publish`` may be called from any thread (the reader's worker, the idle watchdog); each
subscriber (one open page, normally) has its own asyncio queue on the server's event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any


class EventHub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[asyncio.Queue[tuple[str, dict[str, Any]]]] = set()
        self._lock = threading.Lock()
        self.published: list[tuple[str, dict[str, Any]]] = []  # the last few, for diagnostics

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, kind: str, **data: Any) -> None:
        data.setdefault("at_ms", time.time() * 1000)
        with self._lock:
            self.published = [*self.published[-49:], (kind, data)]
            subscribers = list(self._subscribers)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for queue in subscribers:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, data))

    async def stream(
        self, first: list[tuple[str, dict[str, Any]]], keepalive_s: float = 15.0
    ) -> AsyncIterator[str]:
        """The text/event-stream of one page: ``first`` (the current state), then live events."""
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        with self._lock:
            self._subscribers.add(queue)
        try:
            yield "retry: 500\n\n"
            for kind, data in first:
                yield _frame(kind, data)
            while True:
                try:
                    kind, data = await asyncio.wait_for(queue.get(), keepalive_s)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                yield _frame(kind, data)
        finally:
            with self._lock:
                self._subscribers.discard(queue)


def _frame(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
