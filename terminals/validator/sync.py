"""Keeping a validator in step with the back office: upload the journal, fetch snapshots.

Uploads go in signed batches, oldest first; a tap leaves the journal only when the back office has
answered it (settled, exception, rejected or void: each answer is final and repeated on retries).
A failed upload leaves everything in place and ``run`` retries with exponential backoff and
jitter, so an upload cut mid-request is simply sent again and answered the same way.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from terminals.sync import SyncClient, SyncUnavailable
from terminals.validator.journal import Journal
from terminals.validator.snapshot import LocalSnapshot

PENDING_EXPIRY_S = 86400  # a torn tap whose card never came back is uploaded as void (lost)


class Syncer:
    def __init__(
        self,
        client: SyncClient,
        journal: Journal,
        snapshot: LocalSnapshot,
        batch: int = 5000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.journal = journal
        self.snapshot = snapshot
        self.batch = batch
        self.clock = clock
        self.answers: dict[str, int] = {}

    def upload_once(self) -> int:
        """Upload one batch; how many taps the back office answered."""
        self.journal.expire_pending(int(self.snapshot.now()) - PENDING_EXPIRY_S)
        items = self.journal.unacknowledged(self.batch)
        if not items:
            return 0
        answers = self.client.upload(items)
        acked = [int(a["seq"]) for a in answers if a.get("seq") is not None]
        for a in answers:
            self.answers[a["result"]] = self.answers.get(a["result"], 0) + 1
        self.journal.acknowledge(acked)
        return len(acked)

    def upload_all(self) -> int:
        total = 0
        while n := self.upload_once():
            total += n
        return total

    def sync_snapshot(self) -> int:
        """Fetch and apply snapshot pages until the deny list is complete; how many pages."""
        pages = 1
        while self.snapshot.apply(self.client.snapshot(self.snapshot.cursors())):
            pages += 1
        return pages

    def run(
        self,
        stop: threading.Event,
        interval_s: float = 5.0,
        backoff_cap_s: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        """Sync until ``stop`` is set: every ``interval_s`` when online, backing off when not."""
        rng = rng or random.Random()
        failures = 0
        while not stop.is_set():
            try:
                self.sync_snapshot()
                self.upload_all()
                failures, delay = 0, interval_s
            except SyncUnavailable:
                failures += 1
                delay = min(backoff_cap_s, interval_s * 2 ** min(failures, 16))
                delay *= rng.uniform(0.5, 1.0)
            stop.wait(delay)
