"""The validator's durable journal: SQLite (WAL) and, for taps, the tap log (taplog.py).

A tap is durable before the validator signals accept, and stays until the back office has
answered it. What the answer waits for is one record appended to the tap log and its
``fdatasync``; the same taps are then written to SQLite without a sync of their own
(``synchronous=NORMAL`` for that transaction). The log is replayed into SQLite when the journal
opens (``meta.log_applied`` says how far SQLite got, in the same transactions), and starts again
from its beginning only after a synced SQLite commit has made everything in it durable there.
Every other write (pending torn taps, acknowledgements, snapshots) is a synced SQLite commit
(``synchronous=FULL``). Checkpoints run when the log starts again and after acknowledgements, not
on a tap's commit (``wal_autocheckpoint=0``). Rows by sequence number (``taps``): ``ready`` (a MACed tap or a void, its upload body
in ``body``) or ``pending`` (a torn TAP: the card may or may not have counted it; settled at the
card's next presentation). ``uses`` keeps each card's recent uses for transfers and caps;
``deny`` the synced deny list; ``meta`` the snapshot, cursors and the highest sequence used.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from terminals.validator.taplog import SIZE as LOG_BYTES
from terminals.validator.taplog import TapLog

SCHEMA = """
CREATE TABLE IF NOT EXISTS taps (
    seq INTEGER PRIMARY KEY, state TEXT NOT NULL, uid BLOB, at INTEGER NOT NULL, body TEXT,
    key_version INTEGER, counter_before INTEGER, request BLOB);
CREATE TABLE IF NOT EXISTS uses (
    uid BLOB NOT NULL, at INTEGER NOT NULL, service TEXT NOT NULL, product TEXT NOT NULL,
    price INTEGER NOT NULL, holder INTEGER NOT NULL, rule TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS uses_by_card ON uses (uid, at);
CREATE INDEX IF NOT EXISTS taps_pending ON taps (uid) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS deny (uid TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (uid, kind));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class UseRow:
    at: int
    service: str
    product: str
    price: int
    holder: int
    rule: str


@dataclass(frozen=True, slots=True)
class Journaled:
    """A tap to commit: its upload body and the use it adds to the card's history."""

    seq: int
    uid: bytes
    at: int
    body: dict[str, Any]
    use: UseRow | None


@dataclass(frozen=True, slots=True)
class PendingRow:
    seq: int
    uid: bytes
    at: int
    key_version: int
    counter_before: int
    request: bytes
    body: dict[str, Any]


class Journal:
    def __init__(self, path: Path, log_bytes: int = LOG_BYTES) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._db.executescript(SCHEMA)
        self.lock = threading.RLock()
        self._log = TapLog(path.with_name(path.name + ".taplog"), log_bytes)
        self._replay()

    def close(self) -> None:
        with self.lock:
            self._db.close()
            self._log.close()

    # -- the tap log -------------------------------------------------------------------------
    def _replay(self) -> None:
        """Apply what the log holds beyond ``log_applied``, then start a new generation."""
        generation = int(self.get("log_generation") or 1)
        applied = int(self.get("log_applied") or 0)
        for end, payload in self._log.records(generation):
            if end > applied:
                doc = json.loads(payload)
                with self._tx() as db:
                    self._apply(db, doc["taps"], doc["resolved"], end)
        self._restart_log(generation + 1)

    def _restart_log(self, generation: int) -> None:
        """A synced commit (all earlier unsynced ones become durable with it), a checkpoint, and
        the log written from its start under a new generation."""
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("log_generation", str(generation)), ("log_applied", "0")],
            )
        self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._log.start(generation)

    @staticmethod
    def _apply(
        db: sqlite3.Connection, taps: list[list[Any]], resolved: list[int], end: int
    ) -> None:
        for seq in resolved:
            db.execute("DELETE FROM taps WHERE seq = ? AND state = 'pending'", (seq,))
        db.executemany(
            "INSERT OR REPLACE INTO taps (seq, state, uid, at, body) VALUES (?, 'ready', ?, ?, ?)",
            [(seq, bytes.fromhex(uid), at, body) for seq, uid, at, body, _ in taps],
        )
        db.executemany(
            "INSERT INTO uses VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(bytes.fromhex(uid), *use) for _, uid, _, _, use in taps if use is not None],
        )
        db.execute("INSERT OR REPLACE INTO meta VALUES ('log_applied', ?)", (str(end),))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- sequence numbers ------------------------------------------------------------------
    def last_seq(self) -> int:
        with self.lock:
            row = self._db.execute("SELECT max(seq) FROM taps").fetchone()
            floor = int(self.get("last_acked_seq") or 0)
            return max(int(row[0] or 0), floor)

    # -- taps --------------------------------------------------------------------------------
    def commit_taps(self, taps: Sequence[Journaled], resolved: Iterable[int] = ()) -> None:
        """Make these taps durable (one log record, one fdatasync); ``resolved`` pending rows go."""
        rows = [
            [
                t.seq,
                t.uid.hex(),
                t.at,
                json.dumps(t.body, separators=(",", ":")),
                None if (u := t.use) is None else [u.at, u.service, u.product, u.price, u.holder,
                                                   u.rule],
            ]
            for t in taps
        ]  # fmt: skip
        gone = list(resolved)
        payload = json.dumps({"taps": rows, "resolved": gone}, separators=(",", ":")).encode()
        with self.lock:
            if not self._log.fits(payload):
                self._restart_log(self._log.generation + 1)
            if not self._log.fits(payload):  # bigger than the whole log: one synced commit
                with self._tx() as db:
                    self._apply(db, rows, gone, 0)
                return
            end = self._log.append(payload)  # durable from here on
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                with self._tx() as db:
                    self._apply(db, rows, gone, end)
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def add_pending(self, row: PendingRow) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO taps (seq, state, uid, at, key_version, counter_before, request, body) "
                "VALUES (?, 'pending', ?, ?, ?, ?, ?, ?)",
                (
                    row.seq,
                    row.uid,
                    row.at,
                    row.key_version,
                    row.counter_before,
                    row.request,
                    json.dumps(row.body),
                ),
            )

    def pending_for(self, uid: bytes) -> PendingRow | None:
        with self.lock:
            r = self._db.execute(
                "SELECT seq, uid, at, key_version, counter_before, request, body FROM taps "
                "WHERE uid = ? AND state = 'pending' ORDER BY seq LIMIT 1",
                (uid,),
            ).fetchone()
        if r is None:
            return None
        return PendingRow(r[0], bytes(r[1]), r[2], r[3], r[4], bytes(r[5]), json.loads(r[6]))

    def expire_pending(self, older_than: int) -> int:
        """Pending taps whose card never came back: upload them as void (``lost``)."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT seq FROM taps WHERE state = 'pending' AND at < ?", (older_than,)
            ).fetchall()
            for (seq,) in rows:
                body = json.dumps({"seq": seq, "kind": "void", "reason": "lost"})
                db.execute("UPDATE taps SET state = 'ready', body = ? WHERE seq = ?", (body, seq))
        return len(rows)

    def unacknowledged(self, limit: int) -> list[dict[str, Any]]:
        with self.lock:
            rows = self._db.execute(
                "SELECT body FROM taps WHERE state = 'ready' ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def acknowledge(self, seqs: Iterable[int]) -> None:
        """The back office answered these taps: forget them (their uses stay for fares)."""
        seqs = list(seqs)
        if not seqs:
            return
        last = max(seqs)
        with self._tx() as db:
            db.executemany(
                "DELETE FROM taps WHERE seq = ? AND state = 'ready'", [(s,) for s in seqs]
            )
            floor = int(self.get("last_acked_seq") or 0)
            if last > floor:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('last_acked_seq', ?)", (str(last),))
        with self.lock:  # off the tap path: keep the WAL short
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def counts(self) -> dict[str, int]:
        with self.lock:
            rows = self._db.execute("SELECT state, count(*) FROM taps GROUP BY state").fetchall()
        return {state: int(n) for state, n in rows}

    # -- fare history ------------------------------------------------------------------------
    def uses(self, uid: bytes, since: int) -> list[UseRow]:
        with self.lock:
            rows = self._db.execute(
                "SELECT at, service, product, price, holder, rule FROM uses "
                "WHERE uid = ? AND at >= ? ORDER BY at",
                (uid, since),
            ).fetchall()
        return [UseRow(*r) for r in rows]

    def prune_uses(self, before: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM uses WHERE at < ?", (before,))

    # -- deny list and metadata ----------------------------------------------------------------
    def deny_all(self) -> set[tuple[str, str]]:
        with self.lock:
            return {(u, k) for u, k in self._db.execute("SELECT uid, kind FROM deny")}

    def apply_snapshot(self, changes: Sequence[tuple[str, str, str]], meta: dict[str, str]) -> None:
        """Apply deny-list changes (action, uid, kind) in order, and the metadata, at once."""
        with self._tx() as db:
            for action, uid, kind in changes:
                if action == "add":
                    db.execute("INSERT OR IGNORE INTO deny VALUES (?, ?)", (uid, kind))
                else:
                    db.execute("DELETE FROM deny WHERE uid = ? AND kind = ?", (uid, kind))
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))

    def get(self, key: str) -> str | None:
        with self.lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])
