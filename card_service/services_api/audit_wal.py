"""SQLite's side of the audit sink: the worker processes' writers take turns, and WAL checkpoints
run off the request path.

**Turns.** Each worker process has its own audit writer (audit_sink.py), and on SQLite they all
need the database's one write lock. Left to SQLite, a writer that finds it held sleeps in the
busy handler's steps (1, 2, 5, 10, 15, 20... ms) whatever the holder does meanwhile: at
1,000,000 holders with two workers, ``BEGIN IMMEDIATE`` waited 3.5 ms at p90 and 20 ms at p99
for commits that hold the lock about 1 ms. ``WriterTurn`` orders the audit writers with an
exclusive ``flock`` on a file next to the database (``<database>-audit.lock``): the waiting
writer wakes as soon as the other lets go, and the sink takes its group only once it has the
turn, so everything that queued meanwhile goes in the same commit. Other writers of the database
are not affected (they still meet the audit writers on SQLite's lock). The kernel drops a dead
process's flock. A separate file, never the database: closing any descriptor of the database
file would drop SQLite's own POSIX locks in this process.

**Checkpoints.** SQLite copies the WAL back into the database (and fsyncs it) inside the COMMIT
that takes the WAL past 1,000 pages, so the questions of that group waited for it: 15 ms at p99,
up to 150 ms (an audit record dirties a random page of the target index, so the WAL fills in a
fraction of a second under load). The writer's own connection has ``wal_autocheckpoint=0``;
``Checkpointer`` runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of its own, in a thread
of its own, at most every ``CHECKPOINT_EVERY_S`` while the writer commits. A passive checkpoint
waits for neither readers nor writers. But SQLite starts the WAL over only when a writer begins
and finds every frame copied back, which under a commit a millisecond hardly ever happens after a
checkpoint in another thread (the WAL grew past 100 MB in a minute). So once the WAL holds
``RESTART_FRAMES`` the checkpointer takes the writers' turn and runs a RESTART checkpoint: it
has only the frames since the last passive one to copy, then needs the readers off the old
frames (a fraction of a millisecond); the next commit starts the WAL from its beginning. Left to
SQLite's busy handler that wait took its 1, 2, 5, 10 ms steps, so the writers' turn was held
3-22 ms; the checkpointer's connection has no busy handler and tries again every 0.2 ms instead.
Every other connection keeps SQLite's automatic checkpoints.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_S = 0.5
RESTART_FRAMES = 16384  # 64 MiB of WAL at SQLite's 4 KiB pages
RESTART_TRIES, RESTART_PAUSE_S = 50, 0.0002  # readers of old frames finish within microseconds
DEFAULT_AUTOCHECKPOINT = 1000  # SQLite's own, given back when the writer's connection returns

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]


def database_file(engine: Engine) -> Path | None:
    """The SQLite database's file; None for PostgreSQL or an in-memory database."""
    if engine.dialect.name != "sqlite":
        return None
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


class WriterTurn:
    """``with turn:`` holds the audit writers' turn (nothing to hold off SQLite files)."""

    def __init__(self, engine: Engine) -> None:
        db = database_file(engine)
        self.path = db.with_name(db.name + "-audit.lock") if db and fcntl else None
        self._fd: int | None = None

    def __enter__(self) -> None:
        if self.path is None:
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # the GIL is released while it waits

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def no_autocheckpoint(dbapi: Any, engine: Engine) -> None:
    """The writer's connection leaves checkpoints to the Checkpointer (SQLite files only)."""
    if database_file(engine) is not None:
        dbapi.execute("PRAGMA wal_autocheckpoint=0")


def autocheckpoint_again(dbapi: Any, engine: Engine) -> None:
    """Before the writer's connection goes back to the pool, where others use it."""
    if database_file(engine) is not None:
        dbapi.execute(f"PRAGMA wal_autocheckpoint={DEFAULT_AUTOCHECKPOINT}")


class Checkpointer:
    """Passive WAL checkpoints in a thread of its own, while ``committed()`` is being called."""

    def __init__(
        self,
        engine: Engine,
        every_s: float = CHECKPOINT_EVERY_S,
        restart_frames: int = RESTART_FRAMES,
    ) -> None:
        self._engine = engine
        self._every_s = every_s
        self._restart_frames = restart_frames
        self._on = database_file(engine) is not None
        self._turn = WriterTurn(engine)  # its own descriptor: it excludes this process's writer too
        self._due = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = self.restarts = 0

    def committed(self) -> None:
        """The writer committed: a checkpoint is due within ``every_s``."""
        if not self._on:
            return
        self._due.set()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="service-api-audit-checkpoint", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        pooled = self._engine.raw_connection()
        try:
            dbapi: Any = pooled.driver_connection
            dbapi.execute("PRAGMA busy_timeout=0")  # hence the connection is not given back
            while not self._stop.is_set():
                if not self._due.wait(0.5):
                    continue
                self._due.clear()
                try:
                    self._checkpoint(dbapi)
                except Exception:  # the next round retries; other connections still checkpoint
                    log.warning("a WAL checkpoint of the audit trail failed", exc_info=True)
                self._stop.wait(self._every_s)
        finally:
            pooled.invalidate()  # closed: its busy_timeout is not the pool's
            self._turn.close()

    def _checkpoint(self, dbapi: Any) -> None:
        _busy, frames, _copied = dbapi.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        if frames < self._restart_frames:
            return
        with self._turn:  # the audit writers wait on the lock file meanwhile
            for _ in range(RESTART_TRIES):
                # Copies what was committed since the passive one, then needs every reader off
                # the old frames: busy (at once, no busy handler) while one is still on them.
                if not dbapi.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]:
                    self.restarts += 1
                    return
                time.sleep(RESTART_PAUSE_S)

    def close(self) -> None:
        """The thread ends (what it did not copy back stays in the WAL, committed)."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=5.0)
