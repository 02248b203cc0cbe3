"""SQLite: each account's history, indexed in sorted runs rather than row by row.

An index on (account, time) for each side of a transfer puts every new entry on the page of its
account: a batch of fares from thousands of purses dirties thousands of pages, each rewritten to
the WAL at commit. So on SQLite the transfers table has no such index. ``ledger_history`` holds
the two entries of the transfers up to a mark (``ledger_history_state.indexed_upto``, a rowid of
``ledger_transfers``), written by sorted INSERTs that touch each page once per run rather than
once per batch.

A run starts once ``INDEX_EVERY`` transfers wait after the mark. Large batches then index it a
slice of accounts at a time (up to ``SLICES`` ranges of account ids, cut so that each holds about
as many entries as the batch's own suggest), each slice in a thread while the batch is decided,
hashed and laid out in Python: SQLite releases the GIL while it runs the one statement, so on a
second core the batch waits only for what a slice takes beyond that work. The last slice moves
the mark.
``catch_up`` indexes everything at once, in the caller's thread: the service's maintenance loop
calls it, and so does a write that finds ``4 * INDEX_EVERY`` transfers waiting (small batches).

Reads take the indexed entries and scan the transfers after the mark (at most about
``4 * INDEX_EVERY`` rows); entries of a run in progress are found both ways and counted once.

Rowids of ledger_transfers are a gap-free sequence: rows are never deleted (triggers refuse it),
and a new row takes the largest rowid plus one. The entries name transfers by id, not rowid, and
``verify`` checks that each transfer up to the mark has its two entries and no entry is stray.

PostgreSQL keeps the plain indexes: its writers commit concurrently, out of rowid order, and its
COPY path meets its target with them. See docs/decisions/0011.
"""

from __future__ import annotations

import bisect
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

INDEX_EVERY = 50_000
SLICES = 10
ALL = 2**63 - 1

# The newest transfer's rowid, the mark, the run's end (= mark when none) and where it stands.
_STATE = (
    "SELECT coalesce((SELECT max(rowid) FROM ledger_transfers), 0), indexed_upto, run_upto, "
    "run_from FROM ledger_history_state WHERE id = 1"
)
_SIDE = """
  SELECT {side}_account_id AS account_id, timestamp, id AS transfer_id FROM ledger_transfers
  WHERE rowid > :mark AND rowid <= :top AND {side}_account_id < :hi
    AND ({side}_account_id >= :lo OR rowid > :run)"""
# Entries of transfers in (mark, top] for accounts in [lo, hi), and for every account below hi
# of the transfers after ``run``; sorted, so each page of the index is written once. Two passes,
# each comparing a column as stored, cost less than one that picks a side per row (11 ms against
# 15 for a slice of a 50,000-transfer run).
_INDEX = (
    "INSERT INTO ledger_history (account_id, timestamp, transfer_id) SELECT * FROM ("
    + _SIDE.format(side="debit")
    + "\n  UNION ALL"
    + _SIDE.format(side="credit")
    + "\n) ORDER BY 1, 2, 3"
)
_SAVE = "UPDATE ledger_history_state SET indexed_upto = ?, run_upto = ?, run_from = ? WHERE id = 1"


@dataclass(frozen=True, slots=True)
class Slice:
    """Entries to write: transfers in (mark, top], accounts in [lo, hi) (or all accounts for the
    transfers after ``run``). A slice up to ALL is a run's last: the mark moves to ``top``."""

    mark: int
    top: int
    run: int
    lo: int
    hi: int

    def write(self, conn: Any) -> None:
        self.insert(conn)
        self.save(conn)

    def insert(self, conn: Any) -> None:
        params = {"mark": self.mark, "top": self.top, "run": self.run}
        conn.execute(_INDEX, {**params, "lo": self.lo, "hi": self.hi})

    def save(self, conn: Any) -> None:
        """The state after this slice: (indexed_upto, run_upto, run_from)."""
        last = self.hi == ALL
        conn.execute(_SAVE, (self.top, self.top, 0) if last else (self.mark, self.top, self.hi))


def state(conn: Any) -> tuple[int, int, int, int]:
    top, mark, run_upto, run_from = conn.execute(_STATE).fetchone()
    return int(top), int(mark), int(run_upto), int(run_from)


def next_slice(conn: Any, sample: Sequence[int]) -> Slice | None:
    """The next slice of the run in progress, or of a new run if ``INDEX_EVERY`` transfers wait.

    ``sample``: the account ids of some recent entries, one per entry, sorted (the caller's own
    batch: a few hot accounts, the revenue accounts and the busiest purses, hold most entries).
    The slice ends at the account boundary nearest to where the sample puts one ``SLICES``-th of
    its entries past the slice's start, so slices write about as many entries each, and a hot
    account may get a slice of its own. An account is never split; two slices in a row hold at
    least a ``SLICES``-th of the sample, so a run has at most twice ``SLICES`` slices, however
    far its transfers differ from the sample.
    """
    top, mark, run_upto, run_from = state(conn)
    if run_upto == mark:  # no run in progress
        if top - mark < INDEX_EVERY:
            return None
        run_upto, run_from = top, 0
    start = bisect.bisect_left(sample, run_from)
    target = start + len(sample) // SLICES
    hi = ALL
    if target < len(sample):
        account = sample[target]
        before = bisect.bisect_left(sample, account, start)
        after = bisect.bisect_right(sample, account, target)
        if before > start and target - before <= after - target:
            hi = account  # ends before it: nearer the target than ending after it
        elif after < len(sample):
            hi = account + 1
    return Slice(mark, run_upto, run_upto, run_from, hi)


def catch_up(conn: Any, at_least: int = 1) -> int:
    """Index everything after the mark, when ``at_least`` transfers wait there, in the caller's
    transaction (which must hold SQLite's write lock); returns how many transfers that was."""
    top, mark, run_upto, run_from = state(conn)
    if top - mark < at_least:
        return 0
    # The run's transfers for the accounts it has not reached, and every later one for all.
    Slice(mark, top, run_upto, run_from, ALL).write(conn)
    return top - mark


class Indexer(threading.Thread):
    """Writes one slice on the caller's connection while the caller computes. The caller must not
    touch the connection between start() and finish()."""

    def __init__(self, conn: Any, piece: Slice) -> None:
        super().__init__(name="ledger-history", daemon=True)
        self.conn, self.piece = conn, piece
        self.error: BaseException | None = None
        self._writing = threading.Event()

    def start(self) -> None:
        """Start, and return once the thread is about to write: it needs the GIL for that, and a
        caller busy in Python would otherwise keep it waiting a switch interval (5 ms)."""
        super().start()
        self._writing.wait()

    def run(self) -> None:
        try:
            self._writing.set()
            self.piece.insert(self.conn)
        except BaseException as exc:  # handed to finish(), in the caller's thread
            self.error = exc
        finally:
            self._writing.set()

    def finish(self) -> None:
        """Wait for the slice and save where the run stands; nothing if it never started (the
        batch failed before its slice began)."""
        if self.ident is None:
            return
        self.join()
        if isinstance(self.error, sqlite3.ProgrammingError):
            # A connection bound to its thread (an in-memory database): write it here instead.
            self.piece.insert(self.conn)
        elif self.error is not None:
            raise self.error
        self.piece.save(self.conn)  # here: one GIL hand-over fewer for the thread


# An account's entries (columns of ledger_entries), newest first: those indexed, and those of the
# transfers after the mark, found by a scan; UNION counts once an entry found both ways.
# MATERIALIZED: otherwise each half of the view runs the scan again (4-6 ms against 8-15 ms for
# a 60,000-transfer tail).
ENTRIES = """
WITH picked AS MATERIALIZED (
  SELECT transfer_id, timestamp FROM ledger_history
  WHERE account_id = :a AND timestamp >= :lo AND timestamp < :hi
  UNION
  SELECT id, timestamp FROM ledger_transfers
  WHERE rowid > (SELECT indexed_upto FROM ledger_history_state WHERE id = 1)
    AND (debit_account_id = :a OR credit_account_id = :a)
    AND timestamp >= :lo AND timestamp < :hi
  ORDER BY timestamp DESC LIMIT :n
)
SELECT transfer_id, timestamp, is_debit, posted_delta, pending_delta, balance_after_cents, code,
  user_data, other_account_id FROM ledger_entries
WHERE account_id = :a AND transfer_id IN (SELECT transfer_id FROM picked)
ORDER BY timestamp DESC
"""

# verify: a transfer up to the mark that lacks one of its entries; and how many entries match no
# transfer (a stray one).
MISSING = """
SELECT t.id FROM ledger_transfers t
WHERE t.rowid <= (SELECT indexed_upto FROM ledger_history_state WHERE id = 1) AND (
  NOT EXISTS (SELECT 1 FROM ledger_history h WHERE h.account_id = t.debit_account_id
              AND h.timestamp = t.timestamp AND h.transfer_id = t.id)
  OR NOT EXISTS (SELECT 1 FROM ledger_history h WHERE h.account_id = t.credit_account_id
                 AND h.timestamp = t.timestamp AND h.transfer_id = t.id))
LIMIT 1
"""
STRAY = """
SELECT count(*) FROM ledger_history h LEFT JOIN ledger_transfers t ON t.id = h.transfer_id
  AND t.timestamp = h.timestamp AND h.account_id IN (t.debit_account_id, t.credit_account_id)
WHERE t.id IS NULL
"""
